import copy

import pytest
import yaml
from conftest import REPO, SCHEMA

from mlpstudy.config import (
    ConfigError,
    architecture_label,
    block_label,
    deep_merge,
    load_config,
    read_command_line_values,
    read_yaml,
    regularization_label,
    seed_blocks,
    validate_config,
)


@pytest.fixture
def default_config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_default_config_resolves_every_experiment(schema, default_config):
    config = validate_config(default_config, schema)
    names = [e["name"] for e in config["experiments"]]
    assert names[:6] == ["exp1_128x1", "exp2_128x2", "exp3_64x2", "exp4_64x1", "exp5_256x1", "exp6_256x2"]
    assert config["seed_policy"] == {**config["seed_policy"], "adaptive": True, "initial_seeds": [0, 1, 2], "max": 5}
    assert config["selection"]["rule"] == "one_se" and config["source_study"]["pick"] == "exp4_64x1"
    assert config["source_study"]["dataset"] == "mnist"  # filled in: what its published numbers are for
    assert config["ceiling"] == "reference_512x2_dropout0.2" and config["refit"] is True
    for experiment in config["experiments"][:-1]:
        assert experiment["optimizer"] == {"name": "rmsprop", "learning_rate": 0.001, "momentum": 0.0}
        assert experiment["batch_size"] == 32 and experiment["epochs"] == 10
    layers = {e["name"]: e["hidden_layers"] for e in config["experiments"]}
    assert layers["exp4_64x1"] == [64] and layers["exp6_256x2"] == [256, 256]
    assert layers["softmax_regression"] == [] and layers["overcapacity_512x512x256x128"] == [512, 512, 256, 128]


def test_smoke_config_is_valid():
    config = load_config(REPO / "config" / "smoke.yaml", SCHEMA, {"data_path": "x.npz"})
    assert len(config["experiments"]) == 3 and config["train_images"] == 3000
    assert config["data_path"] == "x.npz"


def test_nested_settings_merge_key_by_key(schema):
    config = validate_config(
        {
            "defaults": {"optimizer": {"name": "sgd", "learning_rate": 0.01}},
            "experiments": [
                {"name": "a", "description": "d", "optimizer": {"momentum": 0.9}},
                {"name": "b", "description": "d", "early_stopping": {"enabled": True}},
            ],
        },
        schema,
    )
    a, b = config["experiments"]
    assert a["optimizer"] == {"name": "sgd", "learning_rate": 0.01, "momentum": 0.9}
    assert b["optimizer"]["momentum"] == 0.0
    assert b["early_stopping"] == {
        "enabled": True,
        "monitor": "val_loss",
        "patience": 2,
        "min_delta": 0.0,
        "restore_best_weights": True,
    }
    assert config["selection"] == {
        "rule": "one_se",
        "tolerance": 0.002,
        "cost_order": ["params", "latency_ms_single"],
        "overfit_threshold": 0.02,
    }
    assert (config["robustness"], config["warning_accuracy"]) == ({"competitors": 2}, 0.995)


def test_deep_merge_does_not_mutate_inputs():
    base = {"a": {"b": 1, "c": 2}, "d": [1]}
    merged = deep_merge(base, {"a": {"b": 5}, "d": [2]})
    assert merged == {"a": {"b": 5, "c": 2}, "d": [2]}
    assert base == {"a": {"b": 1, "c": 2}, "d": [1]}


BAD = [
    (lambda c: c["experiments"][0].update(activation="relu6"), ["experiments[0].activation", "'relu6'", "sigmoid"]),
    (lambda c: c["experiments"][0].update(hidden_layers=[128, 0]), ["experiments[0].hidden_layers[1]", "0", ">= 1"]),
    (lambda c: c["experiments"][0].update(hidden_layers=[-5]), ["hidden_layers[0]", "-5"]),
    (lambda c: c["experiments"][2].update(unitz=3), ["experiments[2]", "unitz", "hidden_layers"]),
    (lambda c: c.update(epoch=3), ["(top level)", "epoch", "experiments"]),
    (lambda c: c["experiments"][0].update(name="../escape"), ["experiments[0].name", "'../escape'", "folder"]),
    (lambda c: c["experiments"][0].update(name="has space"), ["experiments[0].name", "'has space'"]),
    (lambda c: c["experiments"][1].update(name="EXP1_128x1"), ["experiments[1].name", "EXP1_128x1", "unique"]),
    (lambda c: c["experiments"][0].update(optimizer={"name": "adamw"}), ["optimizer.name", "'adamw'", "rmsprop"]),
    (lambda c: c["experiments"][0].update(optimizer={"name": "adam", "momentum": 0.9}), ["optimizer.momentum", "adam"]),
    (lambda c: c["experiments"][0].update(batch_size="32"), ["experiments[0].batch_size", "'32'", "integer"]),
    (lambda c: c["experiments"][0].update(dropout=1.0), ["experiments[0].dropout", "1.0", "< 1"]),
    (lambda c: c.update(defaults={"epochs": 0}), ["defaults.epochs", "0", ">= 1"]),
    (lambda c: c.update(seeds=[]), ["seeds"]),
    (
        lambda c: c.update(seeds="three"),
        ["seeds", "'three'", "a list of integers or a mapping of ['adaptive', 'initial'"],
    ),
    (lambda c: c.update(seeds={"initial": 1}), ["seeds.initial", "1", ">= 2"]),
    (lambda c: c.update(seeds={"maxx": 12}), ["seeds", "maxx", "stop_when"]),
    (lambda c: c.update(seeds={"initial": 5, "max": 3}), ["seeds.initial", "5", "seeds.max (3)"]),
    (lambda c: c.update(seeds={"stop_when": 1.5}), ["seeds.stop_when", "1.5", "<= 1"]),
    (lambda c: c.update(validation_fraction=1.5), ["validation_fraction", "1.5"]),
    (lambda c: c.update(selection={"tolerance": -1}), ["selection.tolerance", "-1"]),
    (lambda c: c.update(selection={"rule": "best"}), ["selection.rule", "'best'", "one_se"]),
    (lambda c: c.update(selection={"cost_order": ["size"]}), ["selection.cost_order[0]", "'size'", "params"]),
    (lambda c: c["source_study"].update(pick="exp9"), ["source_study.pick", "'exp9'"]),
    (lambda c: c.update(ceiling="reference_512x2"), ["ceiling", "'reference_512x2'", "reference_512x2_dropout0.2"]),
    (lambda c: c.update(refit="yes"), ["refit", "'yes'", "boolean"]),
    (lambda c: c["source_study"].update(dataset="emnist"), ["source_study.dataset", "'emnist'", "fashion_mnist"]),
    (lambda c: c["experiments"][0].pop("description"), ["experiments[0]", "description"]),
    (lambda c: c["experiments"][0].update(early_stopping={"patient": 3}), ["early_stopping", "patient", "patience"]),
    (lambda c: c.update(warning_accuracy=1.0), ["warning_accuracy", "1.0", "< 1"]),
    (lambda c: c.update(robustness={"competitors": 0}), ["robustness.competitors", "0", ">= 1"]),
    (lambda c: c.update(robustness={"rivals": 2}), ["robustness", "rivals", "competitors"]),
]


@pytest.mark.parametrize("change, expected", BAD)
def test_bad_input_names_key_and_value(schema, default_config, change, expected):
    config = copy.deepcopy(default_config)
    change(config)
    with pytest.raises(ConfigError) as raised:
        validate_config(config, schema)
    message = str(raised.value)
    for fragment in expected:
        assert fragment in message, f"{fragment!r} missing from: {message}"


def test_labels():
    spec = {
        "hidden_layers": [256, 256],
        "dropout": 0.2,
        "input_dropout": 0.0,
        "l2": 1e-4,
        "batch_norm": False,
        "early_stopping": {"enabled": True},
    }
    assert architecture_label(spec) == "256-256"
    assert regularization_label(spec) == "dropout 0.2 + L2 0.0001 + early stopping"
    assert architecture_label({"hidden_layers": []}) == "none (softmax regression)"


@pytest.mark.parametrize(
    "text, line, column",
    [
        ("seeds: [0, 1\ntrain_images: 3000\n", 2, 13),  # an unclosed list
        ("experiments:\n  - name: a\n\thidden_layers: [8]\n", 3, 1),  # a tab in the indentation
        ("defaults:\n  epochs: 1\n epochs: 2\n", 3, 2),
    ],
)
def test_yaml_syntax_error_names_file_line_and_column(tmp_path, text, line, column):
    path = tmp_path / "study.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        read_yaml(path)
    assert str(raised.value).startswith(f"{path}, line {line}, column {column}: YAML syntax error: ")
    with pytest.raises(ConfigError, match=f"line {line}, column {column}"):
        load_config(path, SCHEMA)


def test_seeds_are_a_list_or_a_policy(schema, default_config):
    def policy(seeds):
        return validate_config({**default_config, "seeds": seeds}, schema)["seed_policy"]

    assert policy([4, 2]) == {"adaptive": False, "seeds": [4, 2]}
    assert policy({"max": 6}) == {
        "adaptive": True,
        "initial": 3,
        "max": 6,
        "round": 2,
        "stop_when": 0.95,
        "initial_seeds": [0, 1, 2],
    }
    # Not adaptive: every experiment on every seed up to max, as a uniform study.
    assert policy({"adaptive": False, "max": 4}) == {"adaptive": False, "seeds": [0, 1, 2, 3]}
    # --config seeds="{max: 12}" arrives as text inside the mapping.
    given = {"seeds": {"max": "12"}}
    read = read_command_line_values({**default_config, **given}, given, schema)
    assert validate_config(read, schema)["seed_policy"]["max"] == 12


def test_command_line_values_are_read_as_the_user_means_them(schema, default_config):
    # What Snakemake hands over for: --config seeds=[0,1] max_epochs=1 data_path=/data/0.npz selection={...}
    given = {"seeds": ["0", "1"], "max_epochs": 1, "data_path": "/data/0.npz", "selection": {"tolerance": "0.5"}}
    read = read_command_line_values({**default_config, **given}, given, schema)
    assert read["seeds"] == [0, 1] and read["data_path"] == "/data/0.npz" and read["selection"]["tolerance"] == 0.5
    assert read["experiments"] == default_config["experiments"]
    assert validate_config(read, schema)["seeds"] == [0, 1]
    # Values from a config file stay as written, and text that is no number still fails validation by name.
    assert read_command_line_values({**default_config, "seeds": ["0"]}, {}, schema)["seeds"] == ["0"]
    bad = read_command_line_values({**default_config, "seeds": ["zero"]}, {"seeds": ["zero"]}, schema)
    with pytest.raises(ConfigError, match=r"seeds\[0\]: 'zero' has the wrong type; expected integer"):
        validate_config(bad, schema)


def test_training_jobs_take_each_round_of_seeds_in_blocks_of_at_most_three(schema, default_config):
    def blocks(seeds):
        return seed_blocks(validate_config({**default_config, "seeds": seeds}, schema)["seed_policy"])

    # The default study: the initial seeds, then one block per round (the last cut at max).
    assert blocks({"initial": 3, "max": 5, "round": 2}) == [[0, 1, 2], [3, 4]]
    assert blocks({"initial": 2, "max": 7, "round": 2}) == [[0, 1], [2, 3], [4, 5], [6]]
    # Larger groups split as evenly as the cap allows; lists keep their order.
    assert blocks({"initial": 10, "max": 14, "round": 4}) == [[0, 1], [2, 3, 4], [5, 6], [7, 8, 9], [10, 11], [12, 13]]
    assert blocks([4, 2]) == [[4, 2]] and blocks(list(range(7))) == [[0, 1], [2, 3], [4, 5, 6]]
    # Every seed an experiment can get under an adaptive policy (range(n), n from its rounds) is whole blocks.
    policy = {"initial": 3, "max": 11, "round": 4}
    every = blocks(policy)
    for n in (3, 7, 11):
        assert sorted(seed for block in every if block[0] < n for seed in block) == list(range(n))
    assert [block_label(block) for block in ([0, 1, 2], [3], [4, 2])] == ["seeds0-2", "seed3", "seeds4_2"]
