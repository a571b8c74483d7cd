import numpy as np
import pandas as pd
import pytest

from mlpstudy.selection import decision_draws, select_model

ONE_SE = {"rule": "one_se", "tolerance": 0.0, "cost_order": ["params", "latency_ms_single"], "overfit_threshold": 0.02}
TOLERANCE = {**ONE_SE, "rule": "tolerance", "tolerance": 0.002}


def table(rows):
    """rows: (experiment, val_accuracy, gap, params, latency); latency ranges ±10% over seeds."""
    frame = pd.DataFrame(
        rows, columns=["experiment", "val_accuracy", "generalization_gap", "params", "latency_ms_single"]
    )
    frame["generalization_gap_low"] = frame["generalization_gap"] - 0.001
    frame["latency_ms_single_low"] = frame["latency_ms_single"] * 0.9
    frame["latency_ms_single_high"] = frame["latency_ms_single"] * 1.1
    return frame


def se(names, value=0.001, **pairs):
    """A symmetric paired-SE matrix: `value` everywhere, `pairs` ("a_b": se) overriding."""
    matrix = pd.DataFrame(value, index=names, columns=names)
    for pair, v in pairs.items():
        a, b = pair.split("_")
        matrix.loc[a, b] = matrix.loc[b, a] = v
    return matrix


def test_one_se_rule_ties_within_the_standard_error_of_each_pairs_difference():
    rows = [
        ("big", 0.980, 0.01, 200_000, 0.2),
        ("small", 0.9793, 0.01, 50_000, 0.1),
        ("tiny", 0.9790, 0.01, 10_000, 0.1),
    ]
    # small is 0.07 pp below with SE 0.08 pp (tied); tiny 0.10 pp below with SE 0.05 pp (not tied)
    choice = select_model(table(rows), ONE_SE, se(["big", "small", "tiny"], big_small=0.0008, big_tiny=0.0005))
    assert choice["picked"] == "small" and choice["best_validation"] == "big"
    assert choice["candidates"] == ["big", "small"]
    assert choice["margins"] == {"big": 0.0, "small": 0.0008, "tiny": 0.0005}


def test_one_dominant_model_is_picked_even_if_large():
    rows = [("big", 0.985, 0.01, 200_000, 0.2), ("small", 0.970, 0.01, 50_000, 0.1)]
    for settings in (ONE_SE, TOLERANCE):
        choice = select_model(table(rows), settings, se(["big", "small"]))
        assert choice["picked"] == "big" and choice["candidates"] == ["big"]


def test_exact_cost_ties_use_the_next_cost_and_measured_costs_tie_within_their_spread():
    rows = [("a", 0.97, 0.0, 300, 0.1), ("b", 0.97, 0.0, 100, 0.3), ("c", 0.97, 0.0, 100, 0.2)]
    names = ["a", "b", "c"]
    assert select_model(table(rows), ONE_SE, se(names))["picked"] == "c"
    latency_first = {**ONE_SE, "cost_order": ["latency_ms_single", "params"]}
    assert select_model(table(rows), latency_first, se(names))["picked"] == "a"
    # Same parameters, latencies whose ranges overlap: not a cost difference, so validation accuracy decides.
    rows = [("fast", 0.9700, 0.0, 100, 0.44), ("slow", 0.9702, 0.0, 100, 0.50)]
    choice = select_model(table(rows), ONE_SE, se(["fast", "slow"]))
    assert choice["picked"] == "slow" and choice["cost_tied"] == ["fast", "slow"]


def test_remaining_ties_go_to_higher_validation_then_name():
    rows = [("b", 0.970, 0.0, 100, 0.1), ("a", 0.971, 0.0, 100, 0.1), ("c", 0.971, 0.0, 100, 0.1)]
    assert select_model(table(rows), ONE_SE, se(["a", "b", "c"], value=0.01))["picked"] == "a"


def test_rule_changes_the_pick():
    rows = [("big", 0.980, 0.01, 200_000, 0.2), ("small", 0.9785, 0.01, 50_000, 0.1)]
    assert select_model(table(rows), ONE_SE, se(["big", "small"], value=0.0001))["picked"] == "big"
    assert select_model(table(rows), TOLERANCE)["picked"] == "small"  # 0.15 pp < 0.2 pp


def test_overfitting_is_flagged_beyond_noise_only():
    rows = [("fit", 0.98, 0.005, 100, 0.1), ("over", 0.979, 0.03, 50, 0.1)]
    choice = select_model(table(rows), ONE_SE, se(["fit", "over"], value=0.002))
    assert choice["picked"] == "over" and choice["overfitted"] == ["over"] and choice["picked_overfits"]
    borderline = table([("edge", 0.98, 0.0205, 100, 0.1)]).assign(generalization_gap_low=0.018)
    assert select_model(borderline, ONE_SE, se(["edge"]))["overfitted"] == []
    one_seed = borderline.assign(generalization_gap_low=np.nan)
    assert select_model(one_seed, ONE_SE, se(["edge"]))["overfitted"] == ["edge"]


def test_selection_never_reads_test_data():
    rows = table([("a", 0.97, 0.0, 100, 0.1), ("b", 0.96, 0.0, 50, 0.1)])
    with_test = rows.assign(test_accuracy=[0.5, 0.99], test_accuracy_ci_low=[0.4, 0.98])
    assert select_model(with_test, ONE_SE, se(["a", "b"])) == select_model(rows, ONE_SE, se(["a", "b"]))
    with pytest.raises(KeyError):
        select_model(rows.drop(columns="val_accuracy").assign(test_accuracy=0.9), ONE_SE, se(["a", "b"]))


def test_decision_draws_reruns_the_rule_on_every_draw():
    rows = table([("big", 0.980, 0.01, 200_000, 0.2), ("small", 0.9795, 0.01, 50_000, 0.1)])
    draws = np.array([[0.980, 0.9795], [0.980, 0.970], [0.975, 0.979]])
    picks, tied = decision_draws(rows, ONE_SE, se(["big", "small"]), draws)
    assert picks.tolist() == ["small", "big", "small"]
    # The tie sets: both within one SE, big alone, small alone.
    assert tied.tolist() == [[True, True], [True, False], [False, True]]
