import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mlpstudy.data import prepare
from mlpstudy.io import read_json

SPEC = {
    "name": "tiny", "description": "tiny", "hidden_layers": [32], "activation": "relu", "dropout": 0.1,
    "input_dropout": 0.0, "l2": 0.0, "batch_norm": False,
    "early_stopping": {"enabled": True, "monitor": "val_loss", "patience": 1, "min_delta": 0.0,
                       "restore_best_weights": True},
    "optimizer": {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9}, "batch_size": 32, "epochs": 3,
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, mnist_path):
    folder = tmp_path_factory.mktemp("data")
    config = {"dataset": "mnist", "data_path": str(mnist_path), "train_images": 2000, "test_images": 500,
              "validation_fraction": 0.2, "split_seed": 0}
    prepare(config, folder / "dataset.npz", folder / "dataset.json")
    return folder / "dataset.npz"


def train_in_subprocess(dataset, run_dir, seed, threads=1):
    """A fresh process per run, as Snakemake runs it, so nothing is shared between the two runs."""
    import json

    subprocess.run(
        [sys.executable, "-m", "mlpstudy", "train", "--spec", json.dumps(SPEC), "--seed", str(seed),
         "--dataset", str(dataset), "--run-dir", str(run_dir), "--threads", str(threads)],
        check=True, capture_output=True, text=True,
    )
    return read_json(run_dir / "metrics.json")


ACCURACIES = ["train_accuracy", "val_accuracy", "test_accuracy", "train_loss", "val_loss", "test_loss"]


def test_same_seed_gives_identical_metrics_and_different_seed_does_not(dataset, tmp_path):
    first = train_in_subprocess(dataset, tmp_path / "a", seed=1)
    second = train_in_subprocess(dataset, tmp_path / "b", seed=1)
    other = train_in_subprocess(dataset, tmp_path / "c", seed=2)
    assert {k: first[k] for k in ACCURACIES} == {k: second[k] for k in ACCURACIES}
    with np.load(tmp_path / "a" / "predictions.npz") as a, np.load(tmp_path / "b" / "predictions.npz") as b:
        assert np.array_equal(a["test_probabilities"], b["test_probabilities"])
    assert {k: first[k] for k in ACCURACIES} != {k: other[k] for k in ACCURACIES}


def test_run_outputs_are_complete_and_consistent(dataset, tmp_path):
    metrics = train_in_subprocess(dataset, tmp_path / "run", seed=0)
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == ["history.csv", "metrics.json", "model.keras", "predictions.npz"]
    history = pd.read_csv(run / "history.csv")
    assert list(history.columns[:5]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert len(history) == metrics["epochs"] <= SPEC["epochs"]
    assert metrics["spec"] == SPEC and metrics["seed"] == 0 and metrics["params"] == 784 * 32 + 32 + 330
    assert metrics["model_bytes"] == (run / "model.keras").stat().st_size
    with np.load(run / "predictions.npz") as npz:
        probabilities = npz["test_probabilities"]
        assert probabilities.shape == (500, 10) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
        with np.load(dataset) as data:
            assert metrics["test_accuracy"] == pytest.approx(np.mean(probabilities.argmax(1) == data["y_test"]))
    # The saved model reproduces the recorded predictions.
    import keras

    from mlpstudy.data import load_prepared

    model = keras.models.load_model(run / "model.keras")
    reloaded = model.predict(load_prepared(dataset).x_test, verbose=0)
    assert np.allclose(reloaded, probabilities, atol=1e-6)


def test_fast_training_gives_bitwise_the_weights_of_a_plain_keras_fit(dataset):
    """The speed-ups (steps per execution, large validation batches) must not change the arithmetic."""
    import keras

    from mlpstudy.data import load_prepared
    from mlpstudy.models import build_model
    from mlpstudy.training import compile_and_fit

    data = load_prepared(dataset)
    spec = {**SPEC, "early_stopping": {**SPEC["early_stopping"], "enabled": False}, "epochs": 2, "dropout": 0.0,
            "batch_size": 50, "optimizer": {"name": "rmsprop", "learning_rate": 0.001, "momentum": 0.0}}
    weights, histories = [], []
    for fast in (True, False):
        keras.utils.set_random_seed(3)
        model = build_model(spec)
        histories.append(compile_and_fit(model, spec, data, fast=fast).history)
        weights.append([w.numpy() for w in model.weights])
        keras.backend.clear_session()
    assert all(np.array_equal(a, b) for a, b in zip(*weights))
    assert histories[0]["loss"] == histories[1]["loss"] and histories[0]["accuracy"] == histories[1]["accuracy"]
    assert histories[0]["val_accuracy"] == pytest.approx(histories[1]["val_accuracy"], abs=1e-6)


def test_refit_trains_on_training_and_validation_images_for_the_kept_epochs(dataset, tmp_path):
    import json

    selection_run = train_in_subprocess(dataset, tmp_path / "selection", seed=0)
    subprocess.run(
        [sys.executable, "-m", "mlpstudy", "refit", "--spec", json.dumps(SPEC), "--seed", "0", "--dataset",
         str(dataset), "--selection-run", str(tmp_path / "selection" / "metrics.json"), "--run-dir",
         str(tmp_path / "refit"), "--threads", "1"],
        check=True, capture_output=True, text=True,
    )
    refit = read_json(tmp_path / "refit" / "metrics.json")
    assert selection_run["train_images"] == 1600 and refit["train_images"] == 2000
    # Early stopping is off in the refit (nothing to validate on); it trains for the epochs the selection kept.
    assert refit["epochs"] == refit["spec"]["epochs"] == selection_run["best_epoch"]
    assert not refit["spec"]["early_stopping"]["enabled"]
    assert "val_accuracy" not in refit and "generalization_gap" not in refit
    history = pd.read_csv(tmp_path / "refit" / "history.csv")
    assert list(history.columns) == ["epoch", "accuracy", "loss", "seconds"]
    with np.load(tmp_path / "refit" / "predictions.npz") as npz:
        assert list(npz.keys()) == ["test_probabilities"]
        probabilities = npz["test_probabilities"]
    with np.load(dataset) as data:
        assert refit["test_accuracy"] == pytest.approx(np.mean(probabilities.argmax(1) == data["y_test"]))
    with np.load(tmp_path / "selection" / "predictions.npz") as npz:
        assert not np.array_equal(npz["test_probabilities"], probabilities), "the refit is the selection run"
