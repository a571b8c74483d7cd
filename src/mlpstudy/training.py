"""Train one (experiment, seed) run and write its model, history, metrics and predictions."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mlpstudy.data import load_prepared
from mlpstudy.io import atomic_path, read_json, write_json
from mlpstudy.layout import RUN_FILES

log = logging.getLogger("mlpstudy.training")

# Steps run inside one compiled call: removes per-step Python overhead without changing the math.
STEPS_PER_EXECUTION = 100
# Evaluation and prediction batch: no gradient, so larger batches only save overhead.
EVAL_BATCH_SIZE = 2048


def configure_tensorflow(threads: int, seed: int) -> None:
    """Fix TF's thread pools and every random seed, and make ops deterministic. Call before any TF op."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean categorical cross-entropy, clipped like Keras (without any regularization penalty)."""
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0)
    return float(-np.mean(np.log(picked)))


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))


def measure_latency(model, images: np.ndarray, repeats: int = 30) -> dict:
    """Median inference time, from repeated timings after a warm-up: one batch of 1,000 images, and one image."""
    import tensorflow as tf

    predict = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    batch = tf.constant(np.resize(images, (1000, images.shape[1])))
    single = tf.constant(images[:1])
    timings = {}
    for key, inputs in (("latency_ms_per_1000", batch), ("latency_ms_single", single)):
        predict(inputs)  # trace and warm up
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            predict(inputs).numpy()
            samples.append((time.perf_counter() - start) * 1000)
        timings[key] = float(np.median(samples))
    return timings


def _epoch_logger(epochs: int):
    import keras

    class EpochLog(keras.callbacks.Callback):
        """Logs one line per epoch with its wall time, and keeps the times for history.csv."""

        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)
            values = " ".join(f"{key}={value:.4f}" for key, value in sorted((logs or {}).items()))
            log.info("epoch %d/%d %s (%.2f s)", epoch + 1, epochs, values, self.seconds[-1])

    return EpochLog()


def compile_and_fit(model, spec: dict, data, callbacks=(), fast: bool = True):
    """Compile and fit `model` with the optimizer, batch size, epochs and shuffling that `spec` gives.

    fast=True runs STEPS_PER_EXECUTION training steps per compiled call and validates in large batches;
    fast=False is a plain Keras fit() with defaults, the reference that tests and the benchmark compare with.
    Both do the same arithmetic on the same batches in the same order, so the trained weights are bitwise
    identical (tests/test_training.py); only the validation metrics in the history are summed in a different
    order (larger batches), which can change their last digits. Without a validation split (data.x_val is
    None, a refit) nothing is validated.
    """
    from mlpstudy.models import build_optimizer

    model.compile(
        optimizer=build_optimizer(spec["optimizer"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION if fast else 1,
    )
    return model.fit(
        data.x_train,
        data.y_train,
        batch_size=spec["batch_size"],
        epochs=spec["epochs"],
        validation_data=None if data.x_val is None else (data.x_val, data.y_val),
        validation_batch_size=EVAL_BATCH_SIZE if fast else None,
        shuffle=True,
        callbacks=list(callbacks),
        verbose=0,
    )


def train_run(spec: dict, seed: int, dataset_path: str | Path, run_dir: str | Path, threads: int = 1) -> dict:
    """Train `spec` with `seed` on the training split, validating on the validation split; write RUN_FILES
    into `run_dir`; return the metrics."""
    configure_tensorflow(threads, seed)
    return _fit_and_write(spec, seed, load_prepared(dataset_path), run_dir, threads)


def refit_run(spec: dict, seed: int, dataset_path: str | Path, selection_metrics_path: str | Path,
              run_dir: str | Path, threads: int = 1) -> dict:
    """Retrain a chosen experiment on all its training images (training + validation split), as one would
    before deploying it, and measure it on the test set.

    It trains for the epochs that the same seed's selection run kept (its best epoch under early stopping,
    otherwise all of them); nothing is validated and nothing here feeds back into the choice.
    """
    configure_tensorflow(threads, seed)
    selection_run = read_json(selection_metrics_path, ("best_epoch",))
    refit_spec = {**spec, "epochs": selection_run["best_epoch"],
                  "early_stopping": {**spec["early_stopping"], "enabled": False}}
    data = load_prepared(dataset_path)
    all_training = dataclasses.replace(
        data, x_train=np.concatenate([data.x_train, data.x_val]), y_train=np.concatenate([data.y_train, data.y_val]),
        x_val=None, y_val=None,
    )
    return _fit_and_write(refit_spec, seed, all_training, run_dir, threads)


def _fit_and_write(spec: dict, seed: int, data, run_dir: str | Path, threads: int) -> dict:
    import keras

    from mlpstudy.models import build_model, count_trainable_params

    run_dir = Path(run_dir)
    validating = data.x_val is not None
    log.info(
        "experiment %s seed %d: %d train / %d validation / %d test images, %d thread(s)",
        spec["name"], seed, len(data.y_train), len(data.y_val) if validating else 0, len(data.y_test), threads,
    )
    model = build_model(spec)
    callbacks = [epoch_log := _epoch_logger(spec["epochs"])]
    stopping = spec["early_stopping"]
    if stopping["enabled"]:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=stopping["monitor"],
                patience=stopping["patience"],
                min_delta=stopping["min_delta"],
                restore_best_weights=stopping["restore_best_weights"],
            )
        )
    start = time.perf_counter()
    history = compile_and_fit(model, spec, data, callbacks)
    train_seconds = time.perf_counter() - start

    parts = ("train", "val", "test") if validating else ("train", "test")
    probabilities = {
        part: model.predict(getattr(data, f"x_{part}"), batch_size=EVAL_BATCH_SIZE, verbose=0) for part in parts
    }
    history_table = pd.DataFrame(history.history)
    history_table.insert(0, "epoch", np.arange(1, len(history_table) + 1))
    history_table["seconds"] = epoch_log.seconds
    epochs_run = len(history_table)
    best_epoch = epochs_run
    if stopping["enabled"] and stopping["restore_best_weights"]:
        monitored = history_table[stopping["monitor"]]
        best_epoch = int(history_table["epoch"][monitored.idxmin() if stopping["monitor"] == "val_loss" else monitored.idxmax()])

    metrics = {
        "experiment": spec["name"],
        "seed": seed,
        "spec": spec,
        "params": count_trainable_params(model),
        "train_images": len(data.y_train),
        "epochs": epochs_run,
        "best_epoch": best_epoch,
        "train_seconds": train_seconds,
        "seconds_per_epoch": float(np.median(epoch_log.seconds)),
        "threads": threads,
    }
    for part in parts:
        labels = getattr(data, f"y_{part}")
        metrics[f"{part}_accuracy"] = accuracy(probabilities[part], labels)
        metrics[f"{part}_loss"] = cross_entropy(probabilities[part], labels)
    if validating:
        metrics["generalization_gap"] = metrics["train_accuracy"] - metrics["val_accuracy"]
    metrics.update(measure_latency(model, data.x_test))

    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(run_dir / RUN_FILES["model"]) as tmp:
        model.save(tmp)
    metrics["model_bytes"] = (run_dir / RUN_FILES["model"]).stat().st_size
    with atomic_path(run_dir / RUN_FILES["predictions"]) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(
                handle,
                **{f"{part}_probabilities": probabilities[part].astype(np.float32) for part in parts if part != "train"},
            )
    with atomic_path(run_dir / RUN_FILES["history"]) as tmp:
        history_table.to_csv(tmp, index=False)
    write_json(run_dir / RUN_FILES["metrics"], metrics)
    log.info(
        "done in %.1f s: train %.4f, validation %s, test %.4f, %d parameters",
        train_seconds, metrics["train_accuracy"], f"{metrics['val_accuracy']:.4f}" if validating else "none",
        metrics["test_accuracy"], metrics["params"],
    )
    return metrics
