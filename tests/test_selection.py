import pandas as pd
import pytest

from mlpstudy.selection import select_model


def table(rows):
    return pd.DataFrame(rows, columns=["experiment", "val_accuracy", "params", "generalization_gap"])


def test_smaller_model_within_tolerance_wins():
    choice = select_model(table([("big", 0.980, 200_000, 0.01), ("small", 0.979, 50_000, 0.01)]), 0.002, 0.02)
    assert choice["picked"] == "small" and choice["best_validation"] == "big"
    assert choice["candidates"] == ["big", "small"]


def test_one_dominant_model_is_picked_even_if_large():
    choice = select_model(table([("big", 0.985, 200_000, 0.01), ("small", 0.970, 50_000, 0.01)]), 0.002, 0.02)
    assert choice["picked"] == "big" and choice["candidates"] == ["big"]


def test_all_equal_picks_the_smallest():
    rows = [("a", 0.97, 300, 0.0), ("b", 0.97, 100, 0.0), ("c", 0.97, 200, 0.0)]
    assert select_model(table(rows), 0.0, 0.02)["picked"] == "b"


def test_exact_tie_in_size_goes_to_higher_validation_then_name():
    rows = [("b", 0.970, 100, 0.0), ("a", 0.971, 100, 0.0), ("c", 0.971, 100, 0.0)]
    assert select_model(table(rows), 0.01, 0.02)["picked"] == "a"


def test_overfitting_is_flagged_not_hidden():
    rows = [("fit", 0.98, 100, 0.005), ("over", 0.975, 50, 0.03)]
    choice = select_model(table(rows), 0.01, 0.02)
    assert choice["picked"] == "over" and choice["overfitted"] == ["over"] and choice["picked_overfits"]


def test_selection_never_reads_test_data():
    rows = table([("a", 0.97, 100, 0.0), ("b", 0.96, 50, 0.0)])
    with_test = rows.assign(test_accuracy=[0.5, 0.99])
    assert select_model(with_test, 0.002, 0.02) == select_model(rows, 0.002, 0.02)
    with pytest.raises(KeyError):
        select_model(rows.drop(columns="val_accuracy").assign(test_accuracy=0.9), 0.002, 0.02)
