"""Train one (experiment, seed) run and write its model, history, metrics and predictions."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mlpstudy.data import load_prepared
from mlpstudy.io import StudyError, atomic_path, read_json, write_json

log = logging.getLogger("mlpstudy.training")

# Prediction chunk: no gradient, so a large chunk only saves calls. Every chunk has this shape (the last one is
# padded), so one compiled program predicts every part of the data.
PREDICT_BATCH_SIZE = 4096
LATENCY_REPEATS = {"latency_ms_per_1000": 10, "latency_ms_single": 30}


def configure_tensorflow(threads: int, seed: int) -> None:
    """Fix TF's thread pools and every random seed, and make ops deterministic. Call before any TF op."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _without_matplotlib():
        import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)


@contextlib.contextmanager
def _without_matplotlib():
    """Keras imports matplotlib.pyplot at its own import, for plotting utilities it runs without when matplotlib
    is missing (and that no step of the study calls); hiding matplotlib while Keras is imported saves each
    TensorFlow process 0.4-0.5 s here. Hidden only then, and only if not imported yet: a later import works."""
    if "matplotlib" in sys.modules:
        yield
        return
    sys.modules["matplotlib"] = None  # an import of it (or of a submodule) now raises ImportError
    try:
        yield
    finally:
        del sys.modules["matplotlib"]


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean categorical cross-entropy, clipped like Keras (without any regularization penalty)."""
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0)
    return float(-np.mean(np.log(picked)))


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))


def measure_latency(predict, images: np.ndarray) -> dict:
    """Median inference time of `predict` (a model's inference as a tf.function), from repeated timings after a
    warm-up: one batch of 1,000 images, and one image."""
    import tensorflow as tf

    batch = tf.constant(np.resize(images, (1000, images.shape[1])))
    single = tf.constant(images[:1])
    timings = {}
    for key, inputs in (("latency_ms_per_1000", batch), ("latency_ms_single", single)):
        predict(inputs)  # trace and warm up
        samples = []
        for _ in range(LATENCY_REPEATS[key]):
            start = time.perf_counter()
            predict(inputs).numpy()
            samples.append((time.perf_counter() - start) * 1000)
        timings[key] = float(np.median(samples))
    return timings


def compile_model(model, spec: dict) -> None:
    """The optimizer `spec` gives, the loss and the metric; saved with the model, so model.keras can resume."""
    from mlpstudy.models import build_optimizer

    model.compile(
        optimizer=build_optimizer(spec["optimizer"]), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )


class EarlyStopping:
    """Keras' EarlyStopping rule, checked once per epoch: an epoch improves when it beats the best so far by more
    than min_delta; training stops after `patience` epochs without improvement (never after the first epoch)."""

    def __init__(self, settings: dict):
        self.monitor = settings["monitor"]
        self.patience = settings["patience"]
        self.min_delta = settings["min_delta"]
        self.restore_best_weights = settings["restore_best_weights"]
        self.best = None
        self.best_epoch = 0  # 1-based, 0 until the first epoch ends
        self.wait = 0

    def improves(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.monitor == "val_loss":
            return value + self.min_delta < self.best
        return value - self.min_delta > self.best

    def update(self, epoch: int, value: float) -> bool:
        """Record epoch `epoch` (1-based) with its monitored value; True when training should stop."""
        self.wait += 1
        if self.improves(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return False
        return self.wait >= self.patience and epoch > 1


def _each_batch(n: int, batch_size: int, step, totals):
    """Run `step(start, size, totals) -> totals` over consecutive batches of range(n) inside a compiled function:
    a tf.while_loop over the full batches, then one call for the remainder. Every slice has a static size: XLA
    compiles a loop with dynamic slice sizes into something far slower (a 256x2 epoch: over 50 s against 0.9 s)."""
    import tensorflow as tf

    full_batches = n // batch_size
    _, totals = tf.while_loop(
        lambda index, _: index < full_batches,
        lambda index, totals: (index + 1, step(index * batch_size, batch_size, totals)),
        (tf.constant(0), totals),
    )
    if n % batch_size:
        totals = step(full_batches * batch_size, n % batch_size, totals)
    return totals


def dropout(inputs, rate: float, seed):
    """Inverted dropout as Keras' Dropout layer applies it in training (each value kept with probability
    1 - rate and scaled by 1 / (1 - rate)), with its uniform draws from TensorFlow's ThreeFry generator for the
    int32 pair `seed` (TensorFlow offers ThreeFry only inside XLA, where the engine calls this). Keras' dropout
    draws from Philox, which inside XLA on this CPU costs about 18 ns per number against ThreeFry's 2 ns: with it
    the reference net's epoch took 2.8 s instead of 2.0 s without dropout."""
    import tensorflow as tf

    keep = tf.random.stateless_uniform(tf.shape(inputs), seed, alg="threefry") >= rate
    return tf.where(keep, inputs * (1.0 / (1.0 - rate)), tf.zeros_like(inputs))


def _on_flattened(regularizer):
    """`regularizer` applied to a weight flattened to one dimension: the same penalty (for L2, the same sum of
    squares), which XLA on this CPU reduces far faster than the 2-D kernel: the L2 net's epoch took 1.30 s with
    Keras' own penalty, 1.05 s with this, 0.84 s without a penalty. The saved model keeps Keras' regularizer."""
    import tensorflow as tf

    return lambda weight: regularizer(tf.reshape(weight, [-1]))


class Engine:
    """Trains a compiled Keras model one epoch per compiled call: the images stay in memory as one tensor, each
    step gathers its shuffled batch, and Keras' own layers, loss and optimizer do the arithmetic of each step
    inside an XLA-compiled loop (the arithmetic of Keras' train_step, without its per-step dispatch). Only the
    Dropout layers' random draws come from elsewhere (`dropout()`), and Keras' regularizers are applied to the
    flattened weights (`_on_flattened()`)."""

    def __init__(self, model, spec: dict):
        import tensorflow as tf

        self.model = model
        self.batch_size = spec["batch_size"]
        compile_model(model, spec)
        model.optimizer.build(model.trainable_variables)
        self._fresh_optimizer = [variable.numpy() for variable in model.optimizer.variables]
        for variable in model.trainable_variables:
            if variable.regularizer is not None:
                variable.regularizer = _on_flattened(variable.regularizer)
        # No Python control flow on tensors (the epoch loops with tf.while_loop): autograph has nothing to convert,
        # and skipping it halves tracing.
        self._epoch = tf.function(self._train_epoch, jit_compile=True, autograph=False)
        self._predict = tf.function(lambda images: model(images, training=False), jit_compile=True, autograph=False)
        # Inference as a deployed model runs it (a graph, not XLA), for latency; one function for every run.
        self.infer = tf.function(lambda images: model(images, training=False), reduce_retracing=True)

    def restart(self, weights: list[np.ndarray]) -> None:
        """Start another run from `weights` (a freshly built model's) with a fresh optimizer, keeping the compiled
        functions: every variable they use is reset in place, so the run is bitwise the run a new process makes."""
        self.model.set_weights(weights)
        for variable, value in zip(self.model.optimizer.variables, self._fresh_optimizer, strict=True):
            variable.assign(value)

    def _forward(self, images, layer_seeds):
        """The model's layers in training mode, each Dropout layer applied by dropout() with its own seed."""
        import keras

        outputs = images
        for layer, seed in zip(self.model.layers, layer_seeds):
            if isinstance(layer, keras.layers.Dropout):
                outputs = dropout(outputs, layer.rate, seed)
            else:
                outputs = layer(outputs, training=True)
        return outputs

    def _train_step(self, images, labels, layer_seeds):
        import tensorflow as tf

        model = self.model
        with tf.GradientTape() as tape:
            probabilities = self._forward(images, layer_seeds)
            # The compiled loss plus the regularization penalties, as in Keras' train_step.
            loss = model.compute_loss(x=images, y=labels, y_pred=probabilities, training=True)
        gradients = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply(gradients, model.trainable_variables)
        correct = tf.reduce_sum(
            tf.cast(tf.equal(tf.argmax(probabilities, axis=1, output_type=labels.dtype), labels), tf.float32)
        )
        return loss, correct

    def _train_epoch(self, images, labels, order, layer_keys):
        """One pass over `images` in the order `order`, the step starting at image `start` drawing layer i's
        dropout masks from the seed (layer_keys[i], start); returns the summed batch losses (each weighted by its
        batch size, as Keras averages them) and the count of correct training predictions."""
        import tensorflow as tf

        def step(start, size, totals):
            batch = tf.slice(order, [start], [size])
            layer_seeds = [tf.stack([key, start]) for key in tf.unstack(layer_keys)]
            loss, correct = self._train_step(tf.gather(images, batch), tf.gather(labels, batch), layer_seeds)
            return totals[0] + loss * tf.cast(size, tf.float32), totals[1] + correct

        return _each_batch(int(order.shape[0]), self.batch_size, step, (tf.constant(0.0), tf.constant(0.0)))

    def train_epoch(self, images, labels, order: np.ndarray, layer_keys: np.ndarray) -> dict:
        import tensorflow as tf

        loss_sum, correct = self._epoch(
            images, labels, tf.constant(order, dtype=tf.int32), tf.constant(layer_keys, dtype=tf.int32)
        )
        n = len(order)
        return {"accuracy": float(correct) / n, "loss": float(loss_sum) / n}

    @staticmethod
    def chunks(images):
        """`images` (numpy or tensor) as the compiled predict function takes them, one at a time: tensors of
        PREDICT_BATCH_SIZE rows (the last one padded), each with its count of real rows."""
        import tensorflow as tf

        for start in range(0, len(images), PREDICT_BATCH_SIZE):
            chunk = images[start : start + PREDICT_BATCH_SIZE]
            rows = len(chunk)
            if rows < PREDICT_BATCH_SIZE:
                chunk = np.pad(np.asarray(chunk), ((0, PREDICT_BATCH_SIZE - rows), (0, 0)))
            yield tf.convert_to_tensor(chunk), rows

    def predict(self, images) -> np.ndarray:
        """Class probabilities of `images` (numpy or tensor)."""
        return self.predict_chunks(self.chunks(images))

    def predict_chunks(self, chunks) -> np.ndarray:
        """Class probabilities of the images in `chunks` (from chunks()): the validation images are made into
        chunks once and predicted after every epoch without being copied again."""
        return np.concatenate([self._predict(chunk).numpy()[:rows] for chunk, rows in chunks])

    def penalty(self) -> float:
        """The regularization penalty at the current weights (Keras adds it to every reported loss)."""
        return float(sum(float(loss) for loss in self.model.losses))

    def fit(self, data, seed: int, epochs: int, early_stopping: dict) -> tuple[pd.DataFrame, int, np.ndarray | None]:
        """Train for `epochs` epochs of shuffled batches, validating after each epoch and stopping early if
        early_stopping["enabled"].

        Returns the per-epoch history (accuracy, loss, [val_accuracy, val_loss], seconds), the epoch whose
        weights the model ends with (the best epoch when early stopping restores it, otherwise the last) and
        that epoch's validation probabilities, which are the final model's. Without a validation split
        (data.x_val is None, a refit) nothing is validated, and the probabilities are None.
        """
        import tensorflow as tf

        images = tf.convert_to_tensor(data.x_train)
        labels = tf.convert_to_tensor(data.y_train.astype(np.int32))
        stopping = EarlyStopping(early_stopping) if early_stopping["enabled"] else None
        validation = None if data.x_val is None else list(self.chunks(data.x_val))
        best_weights = best_probabilities = probabilities = None
        rows = []
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            order = epoch_order(seed, epoch, len(data.y_train))
            keys = dropout_keys(seed, epoch, len(self.model.layers))
            row = {"epoch": epoch, **self.train_epoch(images, labels, order, keys)}
            if data.x_val is not None:
                probabilities = self.predict_chunks(validation)
                row["val_accuracy"] = accuracy(probabilities, data.y_val)
                row["val_loss"] = cross_entropy(probabilities, data.y_val) + self.penalty()
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
            log.info(
                "epoch %d/%d %s (%.2f s)",
                epoch,
                epochs,
                " ".join(f"{key}={row[key]:.4f}" for key in row if key not in ("epoch", "seconds")),
                row["seconds"],
            )
            if stopping:
                stop = stopping.update(epoch, row[stopping.monitor])
                if stopping.restore_best_weights and stopping.best_epoch == epoch:
                    best_weights, best_probabilities = self.model.get_weights(), probabilities
                if stop:
                    break
        if best_weights is None:
            return pd.DataFrame(rows), len(rows), probabilities
        self.model.set_weights(best_weights)
        return pd.DataFrame(rows), stopping.best_epoch, best_probabilities


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled order of the training images in `epoch` (1-based) of a run with `seed`."""
    return np.random.default_rng([seed, epoch]).permutation(n).astype(np.int32)


def dropout_keys(seed: int, epoch: int, layers: int) -> np.ndarray:
    """One key per layer from which `epoch` (1-based) of a run with `seed` draws that layer's dropout masks."""
    return np.random.default_rng([seed, epoch, 1]).integers(2**31, size=layers, dtype=np.int32)


def keras_fit(model, spec: dict, data, shuffle: bool = True, callbacks=()):
    """The reference the engine is checked against (tests, benchmarks/run_benchmark.py): compile `model` as the
    engine does and train it with a plain Keras fit() and its defaults. The study never trains this way."""
    compile_model(model, spec)
    return model.fit(
        data.x_train,
        data.y_train,
        batch_size=spec["batch_size"],
        epochs=spec["epochs"],
        validation_data=None if data.x_val is None else (data.x_val, data.y_val),
        shuffle=shuffle,
        callbacks=list(callbacks),
        verbose=0,
    )


def _check_engine(engine_version: int) -> None:
    from mlpstudy.models import ENGINE_VERSION

    if engine_version != ENGINE_VERSION:
        raise StudyError(
            f"the workflow asks for training engine version {engine_version}, but the installed mlpstudy package "
            f"has version {ENGINE_VERSION}: run the workflow with the package from the same checkout"
        )


def train_runs(
    spec: dict,
    seeds: list[int],
    engine_version: int,
    threads: int,
    dataset: str,
    model: list[str],
    history: list[str],
    metrics: list[str],
    predictions: list[str],
) -> list[dict]:
    """Train `spec` once per seed of `seeds`, one after the other, on the training split of `dataset`,
    validating on its validation split, and write each run's Keras model, per-epoch history (.csv), metrics
    (.json) and validation and test predictions (.npz) to the files named at the seed's position in each list;
    return the metrics. Each run is bitwise what it would be alone in a process (Engine.restart).
    `engine_version` must be this package's (models.ENGINE_VERSION), the one the workflow asked for."""
    _check_engine(engine_version)
    files = {"model": model, "history": history, "metrics": metrics, "predictions": predictions}
    if wrong := {key: len(paths) for key, paths in files.items() if len(paths) != len(seeds)}:
        raise ValueError(f"{len(seeds)} seeds but {wrong} files")
    configure_tensorflow(threads, seeds[0])
    data = load_prepared(dataset)
    engine, results = None, []
    for index, seed in enumerate(seeds):
        outputs = {key: paths[index] for key, paths in files.items()}
        engine = _start_run(spec, seed, engine)
        results.append(_fit_and_write(engine, spec, seed, data, outputs, threads))
    return results


def refit_run(
    spec: dict,
    seed: int,
    engine_version: int,
    threads: int,
    dataset: str,
    selection_run: str,
    model: str,
    history: str,
    metrics: str,
    predictions: str,
) -> dict:
    """Retrain a chosen experiment on all its training images (training + validation split), as one would
    before deploying it, and measure it on the test set; the same outputs as train_runs.

    It trains for the epochs that the same seed's selection run kept (`selection_run`: its metrics.json; its
    best epoch under early stopping, otherwise all of them); nothing is validated and nothing here feeds back
    into the choice.
    """
    _check_engine(engine_version)
    configure_tensorflow(threads, seed)
    kept = read_json(selection_run, ("best_epoch",))["best_epoch"]
    refit_spec = {**spec, "epochs": kept, "early_stopping": {**spec["early_stopping"], "enabled": False}}
    outputs = {"model": model, "history": history, "metrics": metrics, "predictions": predictions}
    data = load_prepared(dataset, merge_validation=True)
    return _fit_and_write(_start_run(refit_spec, seed), refit_spec, seed, data, outputs, threads)


def _start_run(spec: dict, seed: int, engine: Engine | None = None) -> Engine:
    """An engine with `spec`'s model freshly initialised for `seed`: `engine` restarted, or a new one."""
    import keras

    from mlpstudy.models import build_model

    keras.utils.set_random_seed(seed)
    model = build_model(spec)
    if engine is None:
        return Engine(model, spec)
    engine.restart(model.get_weights())
    return engine


def _fit_and_write(engine: Engine, spec: dict, seed: int, data, outputs: dict[str, str], threads: int) -> dict:
    log.info(
        "experiment %s seed %d: %d train / %d validation / %d test images, %d thread(s)",
        spec["name"],
        seed,
        len(data.y_train),
        0 if data.x_val is None else len(data.y_val),
        len(data.y_test),
        threads,
    )
    import tensorflow as tf

    # The engine trains on a tensor; converted once and the array dropped, so one copy of the images is held.
    data.x_train = tf.convert_to_tensor(data.x_train)
    start = time.perf_counter()
    history, kept_epoch, val_probabilities = engine.fit(data, seed, spec["epochs"], spec["early_stopping"])
    train_seconds = time.perf_counter() - start
    metrics = {
        "experiment": spec["name"],
        "seed": seed,
        "spec": spec,
        "train_images": len(data.y_train),
        "epochs": len(history),
        "best_epoch": kept_epoch,
        "train_seconds": train_seconds,
        "seconds_per_epoch": float(np.median(history["seconds"])),
        "threads": threads,
    }
    probabilities = _evaluate(engine, data, metrics, val_probabilities)
    _write_run(outputs, engine.model, history, probabilities, metrics)
    log.info(
        "done in %.1f s: train %.4f, validation %s, test %.4f, %d parameters",
        train_seconds,
        metrics["train_accuracy"],
        f"{metrics['val_accuracy']:.4f}" if "val_accuracy" in metrics else "none",
        metrics["test_accuracy"],
        metrics["params"],
    )
    return metrics


def _evaluate(engine: Engine, data, metrics: dict, val_probabilities: np.ndarray | None) -> dict[str, np.ndarray]:
    """Add the trained model's size, accuracy and loss on each split, and latency, to `metrics`; return its
    class probabilities on each split (on the validation split: `val_probabilities`, from training)."""
    from mlpstudy.models import count_trainable_params

    metrics["params"] = count_trainable_params(engine.model)
    probabilities = {"train": engine.predict(data.x_train)}
    if val_probabilities is not None:
        probabilities["val"] = val_probabilities
    probabilities["test"] = engine.predict(data.x_test)
    for part, values in probabilities.items():
        labels = getattr(data, f"y_{part}")
        metrics[f"{part}_accuracy"] = accuracy(values, labels)
        metrics[f"{part}_loss"] = cross_entropy(values, labels)
    if val_probabilities is not None:
        metrics["generalization_gap"] = metrics["train_accuracy"] - metrics["val_accuracy"]
    metrics.update(measure_latency(engine.infer, data.x_test))
    return probabilities


def _write_run(outputs: dict[str, str], model, history: pd.DataFrame, probabilities: dict, metrics: dict) -> None:
    """Write a run's files, each complete or not at all; metrics last, with the saved model's size."""
    with atomic_path(outputs["model"]) as tmp:
        model.save(tmp)
    metrics["model_bytes"] = Path(outputs["model"]).stat().st_size
    with atomic_path(outputs["predictions"]) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(
            handle,
            **{
                f"{part}_probabilities": values.astype(np.float32)
                for part, values in probabilities.items()
                if part != "train"
            },
        )
    with atomic_path(outputs["history"]) as tmp:
        history.to_csv(tmp, index=False)
    write_json(outputs["metrics"], metrics)
