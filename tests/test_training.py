import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mlpstudy.data import prepare
from mlpstudy.io import read_json
from mlpstudy.models import ENGINE_VERSION

SPEC = {
    "name": "tiny",
    "description": "tiny",
    "hidden_layers": [32],
    "activation": "relu",
    "dropout": 0.1,
    "input_dropout": 0.0,
    "l2": 0.0,
    "batch_norm": False,
    "early_stopping": {
        "enabled": True,
        "monitor": "val_loss",
        "patience": 1,
        "min_delta": 0.0,
        "restore_best_weights": True,
    },
    "optimizer": {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9},
    "batch_size": 32,
    "epochs": 3,
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, mnist_path):
    folder = tmp_path_factory.mktemp("data")
    config = {
        "dataset": "mnist",
        "data_path": str(mnist_path),
        "train_images": 2000,
        "test_images": 500,
        "validation_fraction": 0.2,
        "split_seed": 0,
    }
    prepare(config, folder / "dataset.npz", folder / "dataset.json")
    return folder / "dataset.npz"


RUN_FILES = {
    "model": "model.keras",
    "history": "history.csv",
    "metrics": "metrics.json",
    "predictions": "predictions.npz",
}


def run_step(step, files, **arguments):
    """A fresh process per job, as Snakemake runs it, so nothing is shared between two jobs."""
    import json

    subprocess.run(
        [sys.executable, "-m", "mlpstudy", step, json.dumps({**arguments, **files})],
        check=True,
        capture_output=True,
        text=True,
    )


def run_files(run_dir):
    return {key: str(run_dir / name) for key, name in RUN_FILES.items()}


def train_in_subprocess(dataset, run_dirs, seeds, spec=SPEC, threads=1):
    """One training job of `seeds`, each run's files in its folder of `run_dirs`; the runs' metrics."""
    files = {key: [run_files(run_dir)[key] for run_dir in run_dirs] for key in RUN_FILES}
    arguments = {"spec": spec, "seeds": seeds, "engine_version": ENGINE_VERSION, "threads": threads}
    run_step("train", files, **arguments, dataset=str(dataset))
    return [read_json(run_dir / "metrics.json") for run_dir in run_dirs]


def train_one(dataset, run_dir, seed, threads=1):
    return train_in_subprocess(dataset, [run_dir], [seed], threads=threads)[0]


ACCURACIES = ["train_accuracy", "val_accuracy", "test_accuracy", "train_loss", "val_loss", "test_loss"]


def test_same_seed_gives_identical_metrics_and_different_seed_does_not(dataset, tmp_path):
    first = train_one(dataset, tmp_path / "a", seed=1)
    second = train_one(dataset, tmp_path / "b", seed=1)
    other = train_one(dataset, tmp_path / "c", seed=2)
    assert {k: first[k] for k in ACCURACIES} == {k: second[k] for k in ACCURACIES}
    with np.load(tmp_path / "a" / "predictions.npz") as a, np.load(tmp_path / "b" / "predictions.npz") as b:
        assert np.array_equal(a["test_probabilities"], b["test_probabilities"])
    assert {k: first[k] for k in ACCURACIES} != {k: other[k] for k in ACCURACIES}


def test_run_outputs_are_complete_and_consistent(dataset, tmp_path):
    metrics = train_one(dataset, tmp_path / "run", seed=0)
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


@pytest.mark.parametrize("case", ["dropout, early stopping, sgd", "batch norm, adam"])
def test_each_run_of_a_training_job_is_bitwise_the_run_alone(dataset, tmp_path, case):
    """A job trains its seeds one after another in one process, reusing the compiled functions: each run must be
    the run a process of its own makes, bit for bit (weights, metrics, predictions, history's accuracies)."""
    import keras

    spec = (
        SPEC
        if case.startswith("dropout")
        else {
            **SPEC,
            "dropout": 0.0,
            "batch_norm": True,
            "hidden_layers": [32, 16],
            "optimizer": {"name": "adam", "learning_rate": 0.001, "momentum": 0.0},
        }
    )
    together = train_in_subprocess(dataset, [tmp_path / "job" / "2", tmp_path / "job" / "1"], [2, 1], spec)
    alone = [train_in_subprocess(dataset, [tmp_path / str(seed)], [seed], spec)[0] for seed in (2, 1)]
    assert [m["seed"] for m in together] == [2, 1] and together[0]["epochs"] >= 1
    for seed, joint, single in zip((2, 1), together, alone):
        assert {k: joint[k] for k in ACCURACIES + ["epochs", "best_epoch"]} == {
            k: single[k] for k in ACCURACIES + ["epochs", "best_epoch"]
        }
        job, own = tmp_path / "job" / str(seed), tmp_path / str(seed)
        with np.load(job / "predictions.npz") as a, np.load(own / "predictions.npz") as b:
            assert all(np.array_equal(a[key], b[key]) for key in b.files)
        columns = ["accuracy", "loss", "val_accuracy", "val_loss"]
        assert pd.read_csv(job / "history.csv")[columns].equals(pd.read_csv(own / "history.csv")[columns])
        job_weights = keras.models.load_model(job / "model.keras").get_weights()
        own_weights = keras.models.load_model(own / "model.keras").get_weights()
        assert all(np.array_equal(a, b) for a, b in zip(job_weights, own_weights, strict=True))
    assert together[0]["test_accuracy"] != together[1]["test_accuracy"]


def test_a_training_job_needs_one_file_of_each_kind_per_seed(tmp_path):
    from mlpstudy.training import train_runs

    files = {key: [str(tmp_path / name)] for key, name in RUN_FILES.items()}
    with pytest.raises(ValueError, match=r"2 seeds but \{'model': 1, 'history': 1, 'metrics': 1, 'predictions': 1\}"):
        train_runs(SPEC, [0, 1], ENGINE_VERSION, 1, str(tmp_path / "absent.npz"), **files)


ENGINE_CASES = {
    # Batch 48 leaves a partial last batch of 16 of the 1,600 training images.
    "relu, L2, sgd with momentum": {
        "l2": 1e-4,
        "batch_size": 48,
        "optimizer": {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9},
    },
    "tanh, batch norm, adam": {
        "activation": "tanh",
        "batch_norm": True,
        "hidden_layers": [32, 16],
        "optimizer": {"name": "adam", "learning_rate": 0.001, "momentum": 0.0},
    },
    "sigmoid, rmsprop with momentum": {
        "activation": "sigmoid",
        "batch_size": 100,
        "optimizer": {"name": "rmsprop", "learning_rate": 0.001, "momentum": 0.5},
    },
    "softmax regression, gelu": {"hidden_layers": [], "activation": "gelu"},
}


@pytest.mark.parametrize("case", ENGINE_CASES)
def test_engine_does_the_arithmetic_of_a_plain_keras_fit(dataset, monkeypatch, case):
    """Given the same batches in the same order, the engine's model after two epochs predicts what a plain Keras
    fit()'s model predicts, up to float rounding (XLA fuses and orders some sums differently, so not bitwise),
    and its history matches. Predictions, not weights: with batch norm, the bias before it gets only rounding
    noise as gradient, which adam scales up to full steps, so that bias differs while the function does not.
    The engine draws its dropout masks from another generator (training.dropout), so dropout nets are compared
    statistically, by the benchmark."""
    import keras

    from mlpstudy import training
    from mlpstudy.data import load_prepared
    from mlpstudy.models import build_model

    spec = {
        **SPEC,
        "early_stopping": {**SPEC["early_stopping"], "enabled": False},
        "epochs": 2,
        "dropout": 0.0,
        **ENGINE_CASES[case],
    }
    data = load_prepared(dataset)
    monkeypatch.setattr(training, "epoch_order", lambda seed, epoch, n: np.arange(n, dtype=np.int32))
    keras.utils.set_random_seed(3)
    model = build_model(spec)
    engine = training.Engine(model, spec)
    history, kept_epoch, _ = engine.fit(data, 3, spec["epochs"], spec["early_stopping"])
    engine_predictions = engine.predict(data.x_val)
    keras.backend.clear_session()
    keras.utils.set_random_seed(3)
    model = build_model(spec)
    reference = training.keras_fit(model, spec, data, shuffle=False).history
    assert kept_epoch == 2 and list(history["epoch"]) == [1, 2]
    np.testing.assert_allclose(engine_predictions, model.predict(data.x_val, verbose=0), atol=1e-4)
    for column in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(history[column], reference[column], rtol=1e-4, atol=1e-4)
    keras.backend.clear_session()


def test_refit_trains_on_training_and_validation_images_for_the_kept_epochs(dataset, tmp_path):
    selection_run = train_one(dataset, tmp_path / "selection", seed=0)
    run_step(
        "refit",
        run_files(tmp_path / "refit"),
        spec=SPEC,
        seed=0,
        engine_version=ENGINE_VERSION,
        threads=1,
        dataset=str(dataset),
        selection_run=str(tmp_path / "selection" / "metrics.json"),
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


@pytest.mark.parametrize(
    "monitor, values, patience, min_delta",
    [
        ("val_loss", [0.5, 0.4, 0.45, 0.41, 0.39, 0.5, 0.6], 2, 0.0),
        ("val_loss", [0.5, 0.49, 0.485, 0.48, 0.3], 2, 0.02),
        ("val_accuracy", [0.90, 0.95, 0.95, 0.94, 0.96, 0.96, 0.96], 2, 0.0),
        ("val_accuracy", [0.90, 0.91, 0.912, 0.915, 0.95], 1, 0.005),
        ("val_loss", [0.5, 0.6], 0, 0.0),
        ("val_loss", [0.3, 0.2, 0.1], 3, 0.0),
    ],
)
def test_early_stopping_stops_and_keeps_the_epoch_that_keras_would(monitor, values, patience, min_delta):
    """The engine checks early stopping itself, once per epoch: it must stop after the same epoch as Keras'
    EarlyStopping callback, fed the same values, and keep the same epoch's weights."""
    import keras

    from mlpstudy.training import EarlyStopping

    class Model:  # what the callback touches: weights tagged with the epoch they come from
        stop_training = False

        def get_weights(self):
            return [self.epoch]

        def set_weights(self, weights):
            self.kept = weights[0]

    settings = {"monitor": monitor, "patience": patience, "min_delta": min_delta, "restore_best_weights": True}
    # mode as Keras infers it from a compiled model's metrics (this stand-in model has none)
    callback = keras.callbacks.EarlyStopping(**settings, mode="min" if monitor == "val_loss" else "max")
    model = Model()
    callback.set_model(model)
    callback.on_train_begin()
    keras_epochs = 0
    for epoch, value in enumerate(values):
        model.epoch = epoch + 1
        callback.on_epoch_end(epoch, {monitor: value})
        keras_epochs = epoch + 1
        if model.stop_training:
            break
    callback.on_train_end()

    ours = EarlyStopping(settings)
    our_epochs = 0
    for epoch, value in enumerate(values, start=1):
        our_epochs = epoch
        if ours.update(epoch, value):
            break
    assert (our_epochs, ours.best_epoch) == (keras_epochs, model.kept)


def test_dropout_keeps_each_value_with_probability_one_minus_rate_and_a_seed_fixes_the_mask():
    import tensorflow as tf

    from mlpstudy.training import dropout

    inputs = tf.ones((400, 256))
    rate = 0.2
    compiled = tf.function(lambda seed: dropout(inputs, rate, seed), jit_compile=True)  # as the engine calls it
    masks = [compiled(tf.constant(seed, tf.int32)).numpy() for seed in ([7, 0], [7, 32], [7, 0])]
    for mask in masks:
        assert set(np.unique(mask)) == {0.0, np.float32(1 / (1 - rate))}
        kept = (mask > 0).mean()  # 102,400 draws: the binomial SD of the share is 0.0013
        assert abs(kept - (1 - rate)) < 0.005
    np.testing.assert_array_equal(masks[0], masks[2])
    # Neighbouring steps (seeds that differ in the batch start), positions and rows are independent: the share of
    # positions that agree is what two independent masks give (0.8^2 + 0.2^2 = 0.68), and a row's or column's
    # keep rate does not drift.
    assert abs(((masks[0] > 0) == (masks[1] > 0)).mean() - 0.68) < 0.01
    assert np.abs((masks[0] > 0).mean(axis=1) - 0.8).max() < 0.1
    assert np.abs((masks[0] > 0).mean(axis=0) - 0.8).max() < 0.1
    assert abs(np.corrcoef((masks[0] > 0)[:, :-1].ravel(), (masks[0] > 0)[:, 1:].ravel())[0, 1]) < 0.01


def test_each_layer_and_epoch_draws_its_own_dropout_masks():
    from mlpstudy.training import dropout_keys

    keys = [dropout_keys(seed, epoch, 5) for seed in (0, 1) for epoch in (1, 2)]
    assert len({int(key) for layer_keys in keys for key in layer_keys}) == 20
    np.testing.assert_array_equal(dropout_keys(0, 1, 5), keys[0])


def test_keras_fit_repeats_one_shuffle_order_once_seeded_while_the_engine_reshuffles():
    """Why the benchmark gives fit() a freshly shuffled copy of the data each epoch: after
    keras.utils.set_random_seed, fit(shuffle=True) visits the images in the same order in every epoch (Keras
    3.15), which costs it accuracy; the engine draws a new order per epoch."""
    import keras

    from mlpstudy.training import epoch_order

    seen = []

    class Record(keras.layers.Layer):
        def call(self, inputs):
            if hasattr(inputs, "numpy"):  # not while Keras builds the model symbolically
                seen.append(inputs.numpy()[:, 0].astype(int).tolist())
            return inputs

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), Record(), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", run_eagerly=True)
    images = np.arange(20, dtype="float32").reshape(20, 1)
    model.fit(images, np.zeros(20, dtype="int64"), batch_size=20, epochs=3, shuffle=True, verbose=0)
    assert seen[0] != list(range(20)) and seen[0] == seen[1] == seen[2]
    orders = [epoch_order(0, epoch, 20).tolist() for epoch in (1, 2, 3)]
    assert orders[0] != orders[1] != orders[2]
    keras.backend.clear_session()


def test_a_run_for_another_engine_version_stops_before_training(tmp_path):
    from mlpstudy.io import StudyError
    from mlpstudy.training import train_runs

    files = {key: [str(tmp_path / name)] for key, name in RUN_FILES.items()}
    with pytest.raises(
        StudyError,
        match=f"engine version {ENGINE_VERSION + 1}, but the installed mlpstudy package has version {ENGINE_VERSION}",
    ):
        train_runs(SPEC, [0], ENGINE_VERSION + 1, 1, str(tmp_path / "absent.npz"), **files)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("restored", [True, False])
def test_fit_returns_the_validation_probabilities_of_the_model_it_ends_with(dataset, restored):
    """The run's saved validation predictions come from training: those of the epoch whose weights it keeps."""
    import keras

    from mlpstudy.data import load_prepared
    from mlpstudy.models import build_model
    from mlpstudy.training import Engine

    # No epoch after the first beats it by 10: training stops after the second and, if restoring, keeps the first.
    stopping = {**SPEC["early_stopping"], "min_delta": 10.0, "restore_best_weights": restored}
    spec = {**SPEC, "early_stopping": stopping}
    data = load_prepared(dataset)
    keras.utils.set_random_seed(0)
    engine = Engine(build_model(spec), spec)
    history, kept_epoch, probabilities = engine.fit(data, 0, spec["epochs"], stopping)
    assert len(history) == 2 and kept_epoch == (1 if restored else 2)
    np.testing.assert_array_equal(probabilities, engine.predict(data.x_val))
    assert history["val_accuracy"][kept_epoch - 1] == np.mean(probabilities.argmax(1) == data.y_val)
    keras.backend.clear_session()


def test_the_engine_penalizes_l2_as_keras_does_and_the_saved_model_keeps_keras_regularizer(dataset, tmp_path):
    import keras

    from mlpstudy.models import build_model
    from mlpstudy.training import Engine

    spec = {**SPEC, "hidden_layers": [32, 16], "dropout": 0.0, "l2": 0.001}
    keras.utils.set_random_seed(0)
    model = build_model(spec)
    keras_penalty = float(sum(float(loss) for loss in model.losses))
    engine = Engine(model, spec)
    expected = sum(0.001 * np.sum(np.square(layer.kernel.numpy(), dtype=np.float64)) for layer in model.layers)
    assert engine.penalty() == pytest.approx(keras_penalty, rel=1e-6) == pytest.approx(expected, rel=1e-6)
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    assert [layer.get_config()["kernel_regularizer"]["config"] for layer in reloaded.layers] == [{"l2": 0.001}] * 3
    assert float(sum(float(loss) for loss in reloaded.losses)) == pytest.approx(keras_penalty, rel=1e-6)
    keras.backend.clear_session()


def test_keras_is_imported_without_matplotlib_which_still_imports_afterwards():
    code = (
        "import sys\n"
        "from mlpstudy.training import configure_tensorflow\n"
        "configure_tensorflow(1, 0)\n"
        "assert 'keras' in sys.modules and 'matplotlib' not in sys.modules, 'matplotlib was imported'\n"
        "import matplotlib.pyplot\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
