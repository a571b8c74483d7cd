import os
import re
import shlex
import sys
import time
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError

from mlpstudy.config import (
    ConfigError,
    block_label,
    deep_merge,
    load_schema,
    read_command_line_values,
    read_yaml,
    report_labels,
    seed_blocks,
    validate_config,
)
from mlpstudy.io import params_json, read_json
from mlpstudy.models import ENGINE_VERSION, training_flop
from mlpstudy.selection import closest_competitors

REPO = Path(workflow.basedir)
NOTEBOOKS = REPO / "notebooks"
REPORT_TEMPLATE = REPO / "src" / "mlpstudy" / "templates" / "report.html.j2"
# One environment for every step: they all run the mlpstudy package.
ENVIRONMENT = str(REPO / "environment.yml")
CAPTIONS = REPO / "workflow" / "report"


def study_config():
    """The configuration this run studies. Snakemake merges every --configfile into the configfile directive's
    config/config.yaml, but a study config (config/studies/, config/smoke.yaml) describes a whole study: when
    one is given it replaces the default study, so that the keys it leaves out take the schema's defaults
    rather than the default study's values (its source study or its ceiling, say). Snakemake's own
    --replace-workflow-config would also drop the default study for a plain `--config data_path=...`. --config
    values apply last either way."""
    if not workflow.config_settings.configfiles:
        return dict(config)
    study = {}
    for path in workflow.config_settings.configfiles:  # several merge in order, as Snakemake merges them
        study = deep_merge(study, read_yaml(path) or {})
    return deep_merge(study, workflow.config_settings.config)


# Validate before any job starts; the message names the key, the value and what is allowed.
try:
    SCHEMA = load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
    resolved = validate_config(
        read_command_line_values(study_config(), workflow.config_settings.config, SCHEMA), SCHEMA
    )
except ConfigError as error:
    raise WorkflowError(f"Invalid configuration: {error}") from None
config.clear()
config.update(resolved)


def say_report_is_stale():
    """onerror: a failed run leaves the last report in place; say that it does not show this run."""
    page = Path(rules.report.output.html)
    if page.exists():
        written = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(page.stat().st_mtime))
        print(
            f"The study did not finish: {page} is from the previous successful run (written {written}) and "
            "does not show this run's changes. Fix the error above and rerun.",
            file=sys.stderr,
        )
    else:
        print(f"The study did not finish, and there is no {page}.", file=sys.stderr)


EXPERIMENTS = {experiment["name"]: experiment for experiment in config["experiments"]}
STUDY_DIR = config["study_dir"]
SEED_POLICY = config["seed_policy"]
ADAPTIVE = SEED_POLICY["adaptive"]
# The seeds every experiment is trained with (with an adaptive policy, the first round's); the refit's seeds.
FIRST_SEEDS = SEED_POLICY["initial_seeds"] if ADAPTIVE else SEED_POLICY["seeds"]
# The blocks of seeds that training jobs train (train.smk): each experiment's seeds are whole blocks.
SEED_BLOCKS = seed_blocks(SEED_POLICY)
DATA_SETTINGS = (
    "dataset",
    "data_path",
    "train_images",
    "test_images",
    "validation_fraction",
    "split_seed",
    "preprocessing",
)


wildcard_constraints:
    experiment="|".join(re.escape(name) for name in EXPERIMENTS),
    seed=r"\d+",
    round=r"\d+",


def study_path(path):
    """`path` inside this study's folder (config key study_dir), so that studies do not overwrite each other."""
    return os.path.normpath(os.path.join(STUDY_DIR, path))


def in_report(path, caption, category, **placement):
    """Mark `path` for `snakemake --report`, captioned by workflow/report/<caption>.rst."""
    return report(path, caption=str(CAPTIONS / f"{caption}.rst"), category=category, **placement)


def experiment_labels(item):
    """A labels function for an experiment's file in `snakemake --report`: what it shows and what the net is."""

    def labels(wildcards):
        return {"figure": item, **report_labels(EXPERIMENTS[wildcards.experiment])}

    return labels


RECOMMENDATION_EVIDENCE = {"selection", "pareto", "forest"}


def comparison_output(path, key):
    """Mark a decision or evidence output for `snakemake --report`; facts.json only feeds our own report."""
    if key == "facts":
        return path
    category = "Recommendation" if key in RECOMMENDATION_EVIDENCE else "Comparison"
    kind = "table" if path.endswith((".csv", ".json")) else "figure"
    return in_report(path, f"comparison/{key}", category, labels={kind: key.replace("_", " ")})


# Figures, by the key that names them as a step's output (<key>_figure) and their title in the reports.
DATA_FIGURES = {"class_counts": "Images per class", "sample_grid": "Sample images", "mean_images": "Mean images"}
MODEL_FIGURES = {
    "learning_curves": "Learning curves",
    "confusion_matrix": "Confusion matrix (test set)",
    "misclassified": "Misclassified test images",
    "confused_pair": "Most-confused pair",
    "uncertain_predictions": "Least certain predictions",
}
COMPARISON_FIGURES = {
    "width_depth": "accuracy_by_width_depth",
    "gap": "generalization_gap",
    "pareto": "accuracy_vs_cost",
    "forest": "confidence_intervals",
    "probability_best": "probability_best",
    "per_class": "per_class_accuracy",
    "learning_curves": "learning_curves_pick_vs_comparator",
    "errors": "error_analysis",
    "calibration": "reliability_diagram",
}


def data_figure(key):
    return study_path(f"results/data/figures/{key}.png")


def model_figure(key, experiment="{experiment}"):
    return study_path(f"results/experiments/{experiment}/figures/{key}.png")


def comparison_figure(key):
    return study_path(f"results/comparison/figures/{COMPARISON_FIGURES[key]}.png")


def data_source():
    """The local data file, when configured, so that replacing it reruns the study."""
    return [config["data_path"]] if config["data_path"] else []


def _json_ready(value):
    """A rule's input or output value as plain JSON: a path, or a list of paths."""
    return [str(item) for item in value] if isinstance(value, list) else str(value)


def _named_files(input, output):
    return {key: _json_ready(value) for key, value in [*input.items(), *output.items()]}


# Each step gets its keyword arguments as two JSON objects on its command line, params.settings and
# params.files. Settings are values or functions of the wildcards only, so that Snakemake records them and
# reruns the job when they change (it does not for params that depend on input or output).


def step_settings(**settings):
    """params.settings: `settings`, each a value or a function of the wildcards."""

    def resolved(wildcards):
        return params_json({key: value(wildcards) if callable(value) else value for key, value in settings.items()})

    return resolved


def step_files(with_threads=False):
    """params.files: every named input and output file of the rule and, `with_threads`, its threads."""

    def files(wildcards, input, output, threads):
        return params_json({**_named_files(input, output), **({"threads": threads} if with_threads else {})})

    return files


NOTEBOOK_FILES = ("notebook", "executed", "html")


def notebook_files(wildcards, input, output):
    """params.files of a notebook rule: the notebook, its executed copy and HTML page, and as `files` every other
    named input and output, which the notebook gets as parameters (with params.settings' `parameters`)."""
    files = _named_files(input, output)
    return params_json({**{key: files.pop(key) for key in NOTEBOOK_FILES}, "files": files})


def experiment_spec(wildcards):
    return EXPERIMENTS[wildcards.experiment]


def seed_number(wildcards):
    return int(wildcards.seed)


def training_cost(experiment, refit=False):
    """A run's training arithmetic in FLOP per image of the training split (a refit also trains on the
    validation split)."""
    images = 1 / (1 - config["validation_fraction"]) if refit else 1
    return training_flop(EXPERIMENTS[experiment], images)


# Priorities, in FLOP: the longest training jobs start first, so that the study does not end with one long job on
# one core while the other idles; a refit run starts before any training job left, so the ceiling's start as soon
# as its own runs end; the rounds' plans and the choice come before both, since more jobs wait on them.
LONGEST_TRAINING_JOB = max(map(len, SEED_BLOCKS)) * max(training_cost(name) for name in EXPERIMENTS)


def largest_first(refit=False, runs=1):
    """The priority function of a training job of `runs` runs, or of a refit run."""
    before = LONGEST_TRAINING_JOB if refit else 0
    return lambda wildcards: before + runs * training_cost(wildcards.experiment, refit)


BEFORE_ANY_RUN = 1 + LONGEST_TRAINING_JOB + max(training_cost(name, refit=True) for name in EXPERIMENTS)


# One (experiment, seed) run: its selection run under results/experiments/, its refit under results/refit/.
RUN_FILES = {
    "model": "model.keras",
    "history": "history.csv",
    "metrics": "metrics.json",
    "predictions": "predictions.npz",
}


def run_file(key, stage="experiments", experiment="{experiment}", seed="{seed}"):
    return study_path(f"results/{stage}/{experiment}/seed{seed}/{RUN_FILES[key]}")


def run_outputs(stage):
    """The output files of one run, for the refit rule."""
    return {key: run_file(key, stage) for key in RUN_FILES}


def run_files(key, experiment, seeds, stage="experiments"):
    """One file of an experiment's runs with `seeds`."""
    return [run_file(key, stage, experiment, seed) for seed in seeds]


def train_rule_name(block):
    """The name of the training job of a block of seeds, such as train_seeds0_to_2 or train_seed3."""
    return f"train_{block_label(block).replace('-', '_to_')}"


def train_benchmark(block, experiment="{experiment}"):
    return study_path(f"results/benchmarks/train/{experiment}/{block_label(block)}.tsv")


def training_jobs(seeds):
    """The blocks of an experiment's `seeds`, as its training jobs train them."""
    return [block for block in SEED_BLOCKS if block[0] in seeds]


# Seeds of an adaptive policy: each round's plan (a checkpoint) says which experiments get the next round's
# seeds. An experiment a round leaves out stays out, so its runs are final from that round on.


def round_plan(number):
    return read_json(checkpoints.plan_round.get(round=number).output.plan, ("seeds", "stop", "added"))


def seeds_for_round(number):
    """Each experiment's seeds once round `number` has run."""
    if number == 0:
        return {name: FIRST_SEEDS for name in EXPERIMENTS}
    plan = round_plan(number - 1)
    return {name: plan["seeds"][name] + plan["added"].get(name, []) for name in EXPERIMENTS}


def last_round():
    """The number of the round that stopped the rounds."""
    number = 0
    while not round_plan(number)["stop"]:
        number += 1
    return number


def final_seeds():
    """Each experiment's seeds, once the rounds have stopped."""
    if not ADAPTIVE:
        return {name: FIRST_SEEDS for name in EXPERIMENTS}
    return round_plan(last_round())["seeds"]


def experiment_seeds(experiment):
    """One experiment's seeds, known from the round that leaves it out, before the rounds stop."""
    if not ADAPTIVE:
        return FIRST_SEEDS
    number = 0
    while not (plan := round_plan(number))["stop"] and experiment in plan["added"]:
        number += 1
    return plan["seeds"][experiment]


def round_plans(wildcards):
    """Every round's plan file, once the rounds have stopped (none without an adaptive policy)."""
    return expand(rules.plan_round.output.plan, round=range(last_round() + 1)) if ADAPTIVE else []


def round_inputs(wildcards):
    """A round's plan reads every run so far, and the last round's plan."""
    number = int(wildcards.round)
    seeds = seeds_for_round(number)
    runs = [(name, seed) for name in EXPERIMENTS for seed in seeds[name]]
    return {
        "metrics": [run_file("metrics", experiment=name, seed=seed) for name, seed in runs],
        "predictions": [run_file("predictions", experiment=name, seed=seed) for name, seed in runs],
        "previous": expand(rules.plan_round.output.plan, round=number - 1) if number else [],
    }


def experiment_runs(wildcards):
    seeds = experiment_seeds(wildcards.experiment)
    return {
        "metrics": run_files("metrics", wildcards.experiment, seeds),
        "histories": run_files("history", wildcards.experiment, seeds),
        "predictions": run_files("predictions", wildcards.experiment, seeds),
    }


def all_runs(paths):
    """`paths` (with {experiment} and {seed}) of every run the study makes."""
    seeds = final_seeds()
    return [path for name in EXPERIMENTS for seed in seeds[name] for path in expand(paths, experiment=name, seed=seed)]


def train_benchmarks():
    """The benchmark file of every training job the study runs."""
    seeds = final_seeds()
    return [train_benchmark(block, name) for name in EXPERIMENTS for block in training_jobs(seeds[name])]


def all_run_files(key):
    """An input function: one file of every run the study makes."""
    return lambda wildcards: all_runs(run_file(key))


def picked():
    """The recommended experiment, once decide (a checkpoint) has chosen it."""
    return read_json(checkpoints.decide.get().output.selection, ("picked",))["picked"]


def refit_experiments():
    """The ceiling and the pick (once chosen), each once."""
    return list(dict.fromkeys(filter(None, [config["ceiling"], picked()])))


def refit_summary_inputs(wildcards):
    """Every refit run's metrics and predictions, and the selection-run predictions of the same experiments and
    seeds (the first seeds, with an adaptive policy), with which the refit runs are compared."""
    names = refit_experiments()
    return {
        "refit_metrics": [path for name in names for path in run_files("metrics", name, FIRST_SEEDS, "refit")],
        "refit_predictions": [path for name in names for path in run_files("predictions", name, FIRST_SEEDS, "refit")],
        "selection_predictions": [path for name in names for path in run_files("predictions", name, FIRST_SEEDS)],
    }


def fixed_benchmarks():
    """The benchmark files of the stages with one job per study or experiment, as (stage, files) pairs."""
    return [
        ["prepare_data", [rules.prepare_data.benchmark]],
        ["data_overview", [rules.data_overview.benchmark]],
        ["model_report", expand(rules.model_report.benchmark, experiment=EXPERIMENTS)],
        ["decide", [rules.decide.benchmark]],
        ["evidence", [rules.evidence.benchmark]],
        ["deploy_bundle", [rules.deploy_bundle.benchmark]],
        ["robustness", [rules.robustness.benchmark]],
        ["model_card", [rules.model_card.benchmark]],
    ]


def run_benchmarks():
    """The benchmark files of every run and round, known once the rounds stop."""
    rounds = [["plan_round", expand(rules.plan_round.benchmark, round=range(last_round() + 1))]] if ADAPTIVE else []
    return [["train", train_benchmarks()], *rounds]


def stage_benchmarks():
    """Snakemake's benchmark files of the stages that run before the report, as (stage, files) pairs in the
    order the report's timing table shows them."""
    prepare_data, *others = fixed_benchmarks()
    return [prepare_data, *run_benchmarks(), *others]


def refit_benchmarks(wildcards):
    """The benchmark files of the refit runs: the ceiling's and the pick's."""
    if not config["refit"]:
        return []
    return expand(rules.refit.benchmark, experiment=refit_experiments(), seed=FIRST_SEEDS)


def refit_outputs(experiments):
    return expand([*rules.refit.output, rules.refit.benchmark], experiment=experiments, seed=FIRST_SEEDS)


def planned_files():
    """Every file the study promises whose path is known before any run: all but those of the runs and rounds
    (run_files_of_study), the report and the pick's refit runs (pick_refit_outputs)."""
    refit = config["refit"] and config["ceiling"]
    return [
        *rules.prepare_data.output,
        *rules.data_overview.output,
        *expand(rules.model_report.output, experiment=EXPERIMENTS),
        *rules.decide.output,
        *rules.evidence.output,
        *(refit_outputs(config["ceiling"]) if refit else []),
        *(rules.summarize_refits.output if config["refit"] else []),
        *rules.deploy_bundle.output,
        *rules.robustness.output,
        *rules.model_card.output,
        *[path for _, paths in fixed_benchmarks() for path in paths],
    ]


def run_files_of_study(wildcards=None):
    """Every run's files and benchmark, and every round's plan and benchmark: known once the rounds stop."""
    return [
        *all_runs(list(run_outputs("experiments").values())),
        *round_plans(wildcards),
        *[path for _, paths in run_benchmarks() for path in paths],
    ]


def study_files():
    """Every file the study promises but the report and the pick's refit runs, benchmarks included. The report
    checks each of them, and with it they are the study's targets: Snakemake rebuilds a deleted file only when
    it is a target or something downstream has to run anyway."""
    return planned_files() + run_files_of_study()


def pick_refit_outputs(wildcards):
    """The pick's refit runs, as targets; a separate input function, so that only these wait for the choice
    in a dry run's plan."""
    pick = picked() if config["refit"] else config["ceiling"]
    return [] if pick == config["ceiling"] else refit_outputs(pick)


# The bundle to ship (deploy.smk).


def deploy_path(name):
    return study_path(f"results/deploy/{name}")


def deployed_runs():
    """The deployed object's runs, as (experiment, stage, seeds): the pick's refit runs (its selection runs
    without refit) of the first seed, or of every seed for an ensemble, as summarize_refits and evidence
    describe it."""
    pick, stage = picked(), "refit" if config["refit"] else "experiments"
    if config["deploy"] == "single":
        return pick, stage, FIRST_SEEDS[:1]
    return pick, stage, FIRST_SEEDS if config["refit"] else experiment_seeds(pick)


def deployed_models(wildcards):
    """The Keras files of the deployed object's runs."""
    pick, stage, seeds = deployed_runs()
    return run_files("model", pick, seeds, stage)


def bundle_inputs(wildcards):
    """The deployed object's models, and the same seeds' validation predictions from the pick's selection runs
    (which did not train on the validation images) for the warning threshold."""
    pick, _, seeds = deployed_runs()
    return {"models": deployed_models(wildcards), "validation_predictions": run_files("predictions", pick, seeds)}


def robustness_experiments():
    """The pick and its closest competitors on validation."""
    pick = picked()
    runs = checkpoints.decide.get().output.runs
    return [pick, *closest_competitors(runs, pick, config["robustness"]["competitors"])]


def robustness_models(wildcards):
    return [path for name in robustness_experiments() for path in run_files("model", name, FIRST_SEEDS)]


def _config_value(value):
    return value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True).strip()


def reproduce_command():
    """The command line that rebuilds the bundle: this run's study config files and --config values, with the
    bundle's MANIFEST as the target (before them: --configfile and --config take every value that follows)."""
    words = ["snakemake", "--cores", "2", deploy_path("MANIFEST")]
    if workflow.config_settings.configfiles:
        words += ["--configfile", *(os.path.relpath(path) for path in workflow.config_settings.configfiles)]
    if workflow.config_settings.config:
        words += ["--config", *(f"{k}={_config_value(v)}" for k, v in workflow.config_settings.config.items())]
    return shlex.join(words)
