"""Validate a study configuration and resolve each experiment to its full training settings."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

from mlpstudy.io import StudyError


class ConfigError(StudyError, ValueError):
    """A configuration problem, worded for the person who wrote the config."""


def read_yaml(path: str | Path):
    """A YAML file's content; a syntax error names the file, the line and the column."""
    try:
        with open(path) as handle:
            return yaml.safe_load(handle)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        context = f" ({error.context})" if error.context else ""
        raise ConfigError(
            f"{path}, line {mark.line + 1}, column {mark.column + 1}: YAML syntax error: {error.problem}{context}"
        ) from None


def _resolve(rule: dict, root: dict) -> dict:
    # Our schema only uses local references into $defs.
    return root["$defs"][rule["$ref"].split("/")[-1]] if "$ref" in rule else rule


def read_command_line_values(config: dict, overrides, schema: dict) -> dict:
    """`config` with the values that `snakemake --config` gave read as the user means them: Snakemake hands
    items of a list over as text (`seeds=[0]` arrives as ['0']), so where the schema expects a number, a
    boolean or null, text is read as YAML."""

    def read(value, rule):
        rule = _resolve(rule, schema)
        if "oneOf" in rule:  # the branch for this kind of value (seeds: a list or a policy)
            kind = "array" if isinstance(value, list) else "object" if isinstance(value, dict) else None
            rule = next((branch for branch in rule["oneOf"] if branch.get("type") == kind), {})
        if isinstance(value, list):
            return [read(item, rule.get("items", {})) for item in value]
        if isinstance(value, dict):
            return {key: read(item, rule.get("properties", {}).get(key, {})) for key, item in value.items()}
        expected = rule.get("type", "string")
        if not isinstance(value, str) or "string" in ([expected] if isinstance(expected, str) else expected):
            return value
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return parsed if parsed is None or isinstance(parsed, (bool, int, float)) else value

    given = [key for key in overrides if key in config]
    return {**config, **{key: read(config[key], schema["properties"].get(key, {})) for key in given}}


def load_schema(schema_path: str | Path) -> dict:
    with open(schema_path) as handle:
        return yaml.safe_load(handle)


def _key_path(error: jsonschema.ValidationError) -> str:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def _describe(error: jsonschema.ValidationError, root: dict) -> str:
    """One line naming the key, the value and what is allowed."""
    key = _key_path(error)
    if error.validator == "unevaluatedProperties" or error.validator == "additionalProperties":
        allowed = sorted(_allowed_keys(error.schema, root))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        return f"config key {key}: unknown key(s) {extra}; allowed keys are {allowed}"
    if error.validator == "enum":
        return f"config key {key}: {error.instance!r} is not allowed; choose one of {error.validator_value}"
    if error.validator == "pattern":
        return (
            f"config key {key}: {error.instance!r} cannot be used as a folder name; "
            "use letters, digits, '_', '.', '-', starting with a letter or digit (at most 64 characters)"
        )
    if error.validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        relation = {
            "minimum": ">=",
            "exclusiveMinimum": ">",
            "maximum": "<=",
            "exclusiveMaximum": "<",
        }[error.validator]
        return f"config key {key}: {error.instance!r} is out of range; it must be {relation} {error.validator_value}"
    if error.validator == "oneOf":
        forms = [
            f"a list of {branch['items']['type']}s"
            if branch["type"] == "array"
            else f"a mapping of {sorted(branch['properties'])}"
            for branch in error.validator_value
        ]
        return f"config key {key}: {error.instance!r} has the wrong type; expected {' or '.join(forms)}"
    if error.validator == "type":
        return f"config key {key}: {error.instance!r} has the wrong type; expected {error.validator_value}"
    return f"config key {key}: {error.message}"


def _allowed_keys(schema: dict, root: dict) -> set[str]:
    return set(schema.get("properties", {})) | set(_resolve(schema, root).get("properties", {}))


def deep_merge(base: dict, override: dict) -> dict:
    """Return base updated by override; nested dicts merge key by key, everything else is replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _semantic_checks(config: dict) -> None:
    names = [experiment["name"] for experiment in config["experiments"]]
    seen_lower: dict[str, str] = {}
    for index, name in enumerate(names):
        # Case-insensitive file systems would put two such experiments in one folder.
        if name.lower() in seen_lower:
            raise ConfigError(
                f"config key experiments[{index}].name: {name!r} duplicates {seen_lower[name.lower()]!r}; "
                "experiment names must be unique (ignoring case)"
            )
        seen_lower[name.lower()] = name
    source = config.get("source_study")
    if source and source["pick"] is not None and source["pick"] not in names:
        raise ConfigError(
            f"config key source_study.pick: {source['pick']!r} is not an experiment name; configured: {names}"
        )
    policy = config["seed_policy"]
    if policy["adaptive"] and policy["initial"] > policy["max"]:
        raise ConfigError(
            f"config key seeds.initial: {policy['initial']!r} is more than seeds.max ({policy['max']!r}); "
            "an experiment cannot start with more seeds than it may ever get"
        )
    if config["ceiling"] is not None and config["ceiling"] not in names:
        raise ConfigError(f"config key ceiling: {config['ceiling']!r} is not an experiment name; configured: {names}")
    for index, experiment in enumerate(config["experiments"]):
        optimizer = experiment["optimizer"]
        if optimizer["name"] == "adam" and optimizer["momentum"] != 0:
            raise ConfigError(
                f"config key experiments[{index}].optimizer.momentum: {optimizer['momentum']!r} is not allowed "
                "with adam; momentum applies to sgd and rmsprop only (set it to 0)"
            )


def validate_config(config: dict, schema: dict) -> dict:
    """Validate `config` against `schema`; return a new config with top-level defaults filled in and every
    experiment resolved to complete training settings (built-in defaults <- config defaults <- experiment).

    Raises ConfigError with one line naming the key and the value.
    """
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(config))
    if errors:
        raise ConfigError(_describe(jsonschema.exceptions.best_match(errors), schema))

    resolved = copy.deepcopy(config)
    for key, prop in schema["properties"].items():
        if key not in resolved and "default" in prop:
            resolved[key] = copy.deepcopy(prop["default"])
    builtin = schema["properties"]["defaults"]["default"]
    base = deep_merge(builtin, resolved.get("defaults", {}))
    resolved["defaults"] = base
    for key in ("selection", "robustness"):  # objects whose keys each have a default
        properties = schema["properties"][key]["properties"]
        resolved[key] = deep_merge({k: v["default"] for k, v in properties.items()}, resolved.get(key, {}))
    if resolved["source_study"] is not None:
        source_defaults = schema["properties"]["source_study"]["properties"]
        resolved["source_study"] = {"dataset": source_defaults["dataset"]["default"], **resolved["source_study"]}
    resolved["experiments"] = [deep_merge(base, experiment) for experiment in config["experiments"]]
    resolved["seed_policy"] = seed_policy(resolved["seeds"], schema["properties"]["seeds"])
    if resolved["max_epochs"]:
        for experiment in resolved["experiments"]:
            experiment["epochs"] = min(experiment["epochs"], resolved["max_epochs"])
    _semantic_checks(resolved)
    return resolved


def seed_policy(seeds, rule: dict) -> dict:
    """The `seeds` setting as a policy. A list, or a policy with adaptive false, is {"adaptive": False, "seeds":
    [...]}; an adaptive policy has every key, defaults filled in, and `initial_seeds`, the seeds 0 to initial - 1
    that every experiment starts with."""
    if isinstance(seeds, list):
        return {"adaptive": False, "seeds": list(seeds)}
    defaults = {key: prop["default"] for key, prop in rule["oneOf"][1]["properties"].items()}
    policy = {**defaults, **seeds}
    if not policy["adaptive"]:
        return {"adaptive": False, "seeds": list(range(policy["max"]))}
    return {**policy, "initial_seeds": list(range(policy["initial"]))}


# A training job trains up to this many seeds of one experiment, one after the other in one process: each further
# seed skips the job's fixed cost (starting Python, importing TensorFlow, reading the data, compiling the epoch),
# about 4.5 s here, while blocks this small still spread a study's runs over the cores.
SEEDS_PER_JOB = 3


def seed_blocks(policy: dict) -> list[list[int]]:
    """The seeds of `policy` (from seed_policy) in the blocks that training jobs train, in order. Every round
    of an adaptive policy adds the same seeds to every experiment it grows (range(n, n + round) after n seeds,
    n a multiple of the round past the initial seeds), so an experiment's seeds are always whole blocks."""
    if policy["adaptive"]:
        step, end = policy["round"], policy["max"]
        groups = [
            policy["initial_seeds"],
            *(list(range(n, min(n + step, end))) for n in range(policy["initial"], end, step)),
        ]
    else:
        groups = [policy["seeds"]]
    blocks = []
    for seeds in groups:
        count = -(-len(seeds) // SEEDS_PER_JOB)  # as few jobs as the cap allows, of sizes differing by one at most
        blocks += [seeds[i * len(seeds) // count : (i + 1) * len(seeds) // count] for i in range(count)]
    return blocks


def block_label(seeds: list[int]) -> str:
    """A block's name in paths: seed3, seeds0-2 (consecutive seeds) or seeds4_2."""
    if len(seeds) == 1:
        return f"seed{seeds[0]}"
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds{seeds[0]}-{seeds[-1]}"
    return "seeds" + "_".join(map(str, seeds))


def load_config(config_path: str | Path, schema_path: str | Path, overrides: dict | None = None) -> dict:
    """Read a YAML config, apply overrides (like `snakemake --config`), and validate it."""
    config = read_yaml(config_path) or {}
    config.update(overrides or {})
    return validate_config(config, load_schema(schema_path))


def regularization_label(spec: dict) -> str:
    """Short human label of an experiment's regularization, e.g. 'dropout 0.2 + early stopping'."""
    parts = []
    if spec["input_dropout"]:
        parts.append(f"input dropout {spec['input_dropout']:g}")
    if spec["dropout"]:
        parts.append(f"dropout {spec['dropout']:g}")
    if spec["l2"]:
        parts.append(f"L2 {spec['l2']:g}")
    if spec["batch_norm"]:
        parts.append("batch norm")
    if spec["early_stopping"]["enabled"]:
        parts.append("early stopping")
    return " + ".join(parts) if parts else "none"


def architecture_label(spec: dict) -> str:
    """Hidden layer sizes, e.g. '512-256'; 'none (softmax regression)' when there is no hidden layer."""
    if not spec["hidden_layers"]:
        return "none (softmax regression)"
    return "-".join(str(units) for units in spec["hidden_layers"])


def report_labels(spec: dict) -> dict[str, str]:
    """The labels under which `snakemake --report` lists an experiment's files."""
    return {
        "width": architecture_label(spec),
        "depth": str(len(spec["hidden_layers"])),
        "activation": spec["activation"] if spec["hidden_layers"] else "none",
        "regularization": regularization_label(spec),
    }
