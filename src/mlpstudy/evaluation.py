"""Read a run's outputs back and compute the error analyses the notebooks and the report show."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mlpstudy.io import ResultFileError, read_csv, read_json, read_npz

# What the decision, the evidence and the notebooks read from a selection run's files.
RUN_METRICS = (
    "experiment",
    "seed",
    "spec",
    "params",
    "epochs",
    "train_images",
    "train_accuracy",
    "val_accuracy",
    "test_accuracy",
)
HISTORY_COLUMNS = ("epoch", "accuracy", "loss", "val_accuracy", "val_loss")


@dataclass
class Run:
    """One (experiment, seed) run as written by training.train_runs."""

    metrics: dict
    history: pd.DataFrame
    val_probabilities: np.ndarray
    test_probabilities: np.ndarray

    @property
    def test_predictions(self) -> np.ndarray:
        return np.argmax(self.test_probabilities, axis=1)


def load_run(
    metrics: str | Path,
    history: str | Path,
    predictions: str | Path,
    n_val: int | None = None,
    n_test: int | None = None,
    n_classes: int | None = None,
) -> Run:
    """A selection run from its metrics (.json), history (.csv) and predictions (.npz), checked when read; given
    the split's sizes, the predictions must match them."""
    probabilities = read_npz(predictions, ("val_probabilities", "test_probabilities"))
    for part, images in (("val", n_val), ("test", n_test)):
        shape = probabilities[f"{part}_probabilities"].shape
        if images is not None and shape != (images, n_classes):
            raise ResultFileError(
                predictions,
                f"holds {part} probabilities of shape {shape}, but the prepared split has "
                f"{images} {part} images and {n_classes} classes",
            )
    return Run(
        metrics=read_json(metrics, RUN_METRICS),
        history=read_csv(history, HISTORY_COLUMNS),
        val_probabilities=probabilities["val_probabilities"],
        test_probabilities=probabilities["test_probabilities"],
    )


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Counts with true class on rows and predicted class on columns."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def most_confused_pair(matrix: np.ndarray) -> tuple[int, int]:
    """The pair (a, b), a < b, with the most errors in either direction; ties go to the lowest pair."""
    errors = matrix + matrix.T
    rows, columns = np.triu_indices(len(matrix), k=1)
    best = int(np.argmax(errors[rows, columns]))
    return int(rows[best]), int(columns[best])


def least_certain(probabilities: np.ndarray, labels: np.ndarray, correct: bool, count: int) -> np.ndarray:
    """Indices of the `count` correct (or wrong) predictions with the lowest top probability."""
    predictions = np.argmax(probabilities, axis=1)
    candidates = np.flatnonzero((predictions == labels) == correct)
    confidence = probabilities[candidates].max(axis=1)
    return candidates[np.argsort(confidence, kind="stable")[:count]]


def correct_matrix(probabilities: list[np.ndarray], labels: np.ndarray) -> np.ndarray:
    """(n_runs, n_images): whether each run's predicted class (from its class `probabilities`) is right."""
    return np.array([p.argmax(axis=1) == labels for p in probabilities])


def per_class_accuracy(labels: np.ndarray, predictions: np.ndarray, n_classes: int = 10) -> np.ndarray:
    matrix = confusion_matrix(labels, predictions, n_classes)
    return np.diag(matrix) / np.maximum(matrix.sum(axis=1), 1)
