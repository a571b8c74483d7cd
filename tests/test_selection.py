import pandas as pd
import pytest

from mlpstudy.selection import select_model

ONE_SE = {"rule": "one_se", "tolerance": 0.0, "cost_order": ["params", "latency_ms_single"], "overfit_threshold": 0.02}
TOLERANCE = {**ONE_SE, "rule": "tolerance", "tolerance": 0.002}


def table(rows):
    return pd.DataFrame(
        rows,
        columns=[
            "experiment",
            "val_accuracy",
            "val_accuracy_se",
            "generalization_gap",
            "params",
            "latency_ms_single",
        ],
    )


def test_one_se_rule_picks_the_cheapest_within_one_standard_error():
    rows = [
        ("big", 0.980, 0.0008, 0.01, 200_000, 0.2),
        ("small", 0.9793, 0.0010, 0.01, 50_000, 0.1),
        ("tiny", 0.9790, 0.0010, 0.01, 10_000, 0.1),
    ]
    choice = select_model(table(rows), ONE_SE)
    assert choice["picked"] == "small" and choice["best_validation"] == "big"
    assert choice["candidates"] == ["big", "small"] and choice["threshold"] == pytest.approx(0.9792)


def test_one_dominant_model_is_picked_even_if_large():
    rows = [("big", 0.985, 0.0005, 0.01, 200_000, 0.2), ("small", 0.970, 0.0005, 0.01, 50_000, 0.1)]
    for settings in (ONE_SE, TOLERANCE):
        choice = select_model(table(rows), settings)
        assert choice["picked"] == "big" and choice["candidates"] == ["big"]


def test_all_equal_picks_the_cheapest_and_ties_in_cost_use_the_next_cost():
    rows = [("a", 0.97, 0.001, 0.0, 300, 0.1), ("b", 0.97, 0.001, 0.0, 100, 0.3), ("c", 0.97, 0.001, 0.0, 100, 0.2)]
    assert select_model(table(rows), ONE_SE)["picked"] == "c"
    latency_first = {**ONE_SE, "cost_order": ["latency_ms_single", "params"]}
    assert select_model(table(rows), latency_first)["picked"] == "a"


def test_exact_ties_go_to_higher_validation_then_name():
    rows = [("b", 0.970, 0.01, 0.0, 100, 0.1), ("a", 0.971, 0.01, 0.0, 100, 0.1), ("c", 0.971, 0.01, 0.0, 100, 0.1)]
    assert select_model(table(rows), ONE_SE)["picked"] == "a"


def test_rule_changes_the_pick():
    rows = [("big", 0.980, 0.0001, 0.01, 200_000, 0.2), ("small", 0.9785, 0.0010, 0.01, 50_000, 0.1)]
    assert select_model(table(rows), ONE_SE)["picked"] == "big"  # SE of the best is tiny
    assert select_model(table(rows), TOLERANCE)["picked"] == "small"  # 0.15 pp < 0.2 pp


def test_overfitting_is_flagged_not_hidden():
    rows = [("fit", 0.98, 0.002, 0.005, 100, 0.1), ("over", 0.979, 0.002, 0.03, 50, 0.1)]
    choice = select_model(table(rows), ONE_SE)
    assert choice["picked"] == "over" and choice["overfitted"] == ["over"] and choice["picked_overfits"]


def test_selection_never_reads_test_data():
    rows = table([("a", 0.97, 0.001, 0.0, 100, 0.1), ("b", 0.96, 0.001, 0.0, 50, 0.1)])
    with_test = rows.assign(test_accuracy=[0.5, 0.99], test_accuracy_ci_low=[0.4, 0.98])
    assert select_model(with_test, ONE_SE) == select_model(rows, ONE_SE)
    with pytest.raises(KeyError):
        select_model(rows.drop(columns="val_accuracy").assign(test_accuracy=0.9), ONE_SE)
