"""Every shipped study config: it validates, reproduces its source's setup, and completes a smoke-sized run.
The Fashion-MNIST smoke study runs the same workflow on another dataset without any code change."""

import re

import pandas as pd
import pytest
import yaml
from conftest import REPO, SCHEMA, snakemake, write_config
from test_workflow import planned_jobs

from mlpstudy.config import load_config
from mlpstudy.data import DATASETS

STUDIES = sorted(path.stem for path in (REPO / "config" / "studies").glob("*.yaml"))
# The published test accuracies, as the source notebooks print them.
PUBLISHED = {
    "capacity": [0.9130, 0.9588, 0.9629],
    "deeper_nets": [0.9779, 0.9782],
    "activation_lab": [0.9723, 0.9077, 0.9735, 0.9710],
    "width_depth": [0.9762, 0.9791, 0.9737, 0.9726, 0.9784, 0.9765],
    "sgd_tuning": [0.9370, 0.9425, 0.9354, 0.9253, 0.9596, 0.9452],
}
# Smoke size: few images, one epoch, one seed; the experiments stay as the study defines them.
SMOKE = {"train_images": 3000, "test_images": 1000, "max_epochs": 1, "seeds": [0]}


def test_every_source_study_has_a_config():
    assert STUDIES == sorted(PUBLISHED)


@pytest.mark.parametrize("name", STUDIES)
def test_study_config_validates_and_writes_to_its_own_folder(name):
    config = load_config(REPO / "config" / "studies" / f"{name}.yaml", SCHEMA)
    assert config["study_dir"] == f"studies/{name}"
    published = [e["published_test_accuracy"] for e in config["experiments"] if "published_test_accuracy" in e]
    assert published == PUBLISHED[name]


def test_study_settings_follow_their_sources():
    lab = load_config(REPO / "config" / "studies" / "activation_lab.yaml", SCHEMA)["experiments"]
    assert {
        (
            e["optimizer"]["name"],
            e["optimizer"]["learning_rate"],
            e["batch_size"],
            e["epochs"],
            tuple(e["hidden_layers"]),
        )
        for e in lab
    } == {("sgd", 0.01, 128, 50, (512, 512))}
    assert lab[3]["early_stopping"] == {
        "enabled": True,
        "monitor": "val_loss",
        "min_delta": 0.001,
        "patience": 4,
        "restore_best_weights": True,
    }
    capacity = load_config(REPO / "config" / "studies" / "capacity.yaml", SCHEMA)
    assert capacity["train_images"] * (1 - capacity["validation_fraction"]) == 10000
    sgd = load_config(REPO / "config" / "studies" / "sgd_tuning.yaml", SCHEMA)
    assert sgd["preprocessing"] == "l2_normalize"
    assert {e["name"]: e["optimizer"]["momentum"] for e in sgd["experiments"]}["sgd_momentum0.9_32x2"] == 0.9


def test_max_epochs_caps_every_experiment():
    config = load_config(REPO / "config" / "studies" / "activation_lab.yaml", SCHEMA, {"max_epochs": 2})
    assert {e["epochs"] for e in config["experiments"]} == {2}


def smoke_study(workdir, config: dict):
    write_config(workdir, config)
    snakemake(workdir)
    return workdir / config.get("study_dir", ".") / "results"


@pytest.mark.e2e
@pytest.mark.parametrize("name", STUDIES)
def test_study_completes_a_smoke_run_with_the_published_numbers_beside_ours(name, tmp_path, mnist_path):
    config = {
        **yaml.safe_load((REPO / "config" / "studies" / f"{name}.yaml").read_text()),
        **SMOKE,
        "data_path": str(mnist_path),
    }
    results = smoke_study(tmp_path, config)
    assert results == tmp_path / "studies" / name / "results" and not (tmp_path / "results").exists()
    table = pd.read_csv(results / "comparison.csv")
    assert list(table["experiment"]) == [e["name"] for e in config["experiments"]]
    report = (results / "report.html").read_text()
    section = report[report.index('id="reproduction"') : report.index('id="figures"')]
    for value in PUBLISHED[name]:
        assert f"{value * 100:.2f}%" in section
    assert re.search(r"source study", section)


@pytest.mark.e2e
def test_source_study_on_fashion_mnist_names_its_classes_and_compares_no_mnist_numbers(tmp_path, mnist_path):
    config = {
        **yaml.safe_load((REPO / "config" / "studies" / "deeper_nets.yaml").read_text()),
        **SMOKE,
        "dataset": "fashion_mnist",
        "data_path": str(mnist_path.parent / "fashion-mnist.npz"),
    }
    results = smoke_study(tmp_path, config)
    words = re.sub(r"data:image/png;base64,[^\"]*", "", (results / "report.html").read_text())
    assert "Fashion-MNIST" in words and "clothing item" in words
    assert not re.search(r"digit", words, flags=re.IGNORECASE), "the report speaks of digits for clothes"
    assert "published its numbers for MNIST; this study ran on Fashion-MNIST clothing images, so they are not" in words
    for value in PUBLISHED["deeper_nets"]:
        assert f"{value * 100:.2f}%" not in words
    assert pd.read_csv(results / "comparison.csv")["test_accuracy"].between(0.5, 1).all()
    assert all(
        name in (results / "data" / "data_overview.ipynb").read_text() for name in DATASETS["fashion_mnist"].class_names
    )


@pytest.mark.e2e
@pytest.mark.parametrize("name", STUDIES)
def test_study_takes_a_seed_policy(name, tmp_path, mnist_path):
    """Each study with an adaptive seed policy plans its first round: every experiment's initial seeds (two, one
    training job), then the round's plan (a checkpoint), in the study's own folder."""
    config = {
        **yaml.safe_load((REPO / "config" / "studies" / f"{name}.yaml").read_text()),
        "seeds": {"initial": 2, "max": 4},
        "data_path": str(mnist_path),
    }
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "--dry-run")
    plan = planned_jobs(result)
    assert plan["train"] == len(config["experiments"]) and plan["plan_round"] == 1
    assert f"studies/{name}/results/comparison/rounds/round0.json" in result.stdout
