import json

import numpy as np
import pandas as pd
import pytest

from mlpstudy.evaluation import (
    RUN_METRICS,
    confusion_matrix,
    least_certain,
    load_run,
    most_confused_pair,
    per_class_accuracy,
)
from mlpstudy.io import ResultFileError


def test_confusion_matrix_rows_are_true_classes():
    labels = np.array([0, 0, 1, 2, 2, 2])
    predictions = np.array([0, 1, 1, 2, 0, 2])
    matrix = confusion_matrix(labels, predictions, 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert per_class_accuracy(labels, predictions, 3).tolist() == [0.5, 1.0, 2 / 3]


def test_most_confused_pair_counts_both_directions():
    matrix = np.diag([50] * 10)
    matrix[4, 9], matrix[9, 4] = 3, 4  # 7 errors between 4 and 9
    matrix[3, 5] = 6  # 6 errors, one direction only
    assert most_confused_pair(matrix) == (4, 9)
    matrix[5, 3] = 2
    assert most_confused_pair(matrix) == (3, 5)


def test_most_confused_pair_without_errors_is_still_a_pair():
    assert most_confused_pair(np.diag([5] * 10)) == (0, 1)


def test_least_certain_picks_lowest_top_probability():
    probabilities = np.array([[0.9, 0.1], [0.55, 0.45], [0.4, 0.6], [0.51, 0.49], [0.2, 0.8]])
    labels = np.array([0, 0, 0, 0, 1])
    assert least_certain(probabilities, labels, correct=True, count=2).tolist() == [3, 1]
    assert least_certain(probabilities, labels, correct=False, count=5).tolist() == [2]


def test_load_run_names_predictions_that_do_not_fit_the_split(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({key: 0 for key in RUN_METRICS}))
    pd.DataFrame({"epoch": [1], "accuracy": [0.9], "loss": [0.3], "val_accuracy": [0.9], "val_loss": [0.3]}).to_csv(
        tmp_path / "history.csv", index=False
    )
    np.savez(
        tmp_path / "predictions.npz", val_probabilities=np.full((6, 10), 0.1), test_probabilities=np.full((4, 10), 0.1)
    )
    files = [tmp_path / name for name in ("metrics.json", "history.csv", "predictions.npz")]
    assert load_run(*files, 6, 4, 10).test_probabilities.shape == (4, 10)
    with pytest.raises(
        ResultFileError,
        match=r"predictions.npz holds test probabilities of shape \(4, 10\), but the "
        r"prepared split has 5 test images and 10 classes",
    ):
        load_run(*files, 6, 5, 10)
