"""The adaptive seed policy's rounds, on crafted validation results with a known race."""

import numpy as np
import pandas as pd
import pytest

from mlpstudy.rounds import plan_round, rerun_decision, seed_summary

ONE_SE = {"rule": "one_se", "tolerance": 0.0, "cost_order": ["params", "latency_ms_single"], "overfit_threshold": 0.02}
POLICY = {"adaptive": True, "initial": 3, "max": 7, "round": 2, "stop_when": 0.95, "initial_seeds": [0, 1, 2]}
N_IMAGES = 12_000


def validation_runs(accuracies: dict[str, float], seeds: dict[str, int], seed_sd: float = 0.002, seed: int = 0):
    """Right/wrong matrices of runs that share which images are hard (so comparisons are paired): run k of an
    experiment gets image i right when its difficulty is below the experiment's accuracy plus the run's seed
    effect."""
    rng = np.random.default_rng(seed)
    difficulty = rng.random(N_IMAGES)
    correct = {}
    for name, accuracy in accuracies.items():
        effects = rng.normal(0, seed_sd, seeds[name])
        correct[name] = difficulty[None, :] < (accuracy + effects)[:, None]
    return correct


def table_of(correct: dict[str, np.ndarray], params: dict[str, int]) -> pd.DataFrame:
    """The columns the rule reads; latencies overlap, so costs tie unless the parameters differ."""
    return pd.DataFrame(
        {
            "experiment": list(correct),
            "val_accuracy": [runs.mean() for runs in correct.values()],
            "generalization_gap": 0.01,
            "generalization_gap_low": 0.005,
            "params": [params[name] for name in correct],
            "latency_ms_single": 0.2,
            "latency_ms_single_low": 0.18,
            "latency_ms_single_high": 0.22,
        }
    )


def plan(accuracies, seeds, number=0, previous=None, params=None, policy=POLICY, **options):
    correct = validation_runs(accuracies, seeds, **options)
    params = params or {name: 100_000 for name in accuracies}
    decision = rerun_decision(table_of(correct, params), correct, ONE_SE)
    seed_lists = {name: list(range(n)) for name, n in seeds.items()}
    return plan_round(number, seed_lists, decision, policy, previous)


def test_a_close_race_adds_seeds_to_the_two_rivals_only():
    # a and b differ by 0.05 pp, far inside the noise; c and d are 3 and 6 pp behind.
    accuracies = {"a": 0.9505, "b": 0.9500, "c": 0.92, "d": 0.89}
    result = plan(accuracies, dict.fromkeys(accuracies, 3))
    assert result["stop"] is None and result["stability"] < 0.95
    assert set(result["contention"]) == {"a", "b"}
    assert set(result["retired"]) == {"c", "d"}
    assert result["added"] == {"a": [3, 4], "b": [3, 4]}
    assert result["p_picked"]["c"] == 0 and result["p_tied"]["d"] == 0


def test_a_clear_winner_stops_after_the_initial_round():
    accuracies = {"a": 0.97, "b": 0.95, "c": 0.92}
    result = plan(accuracies, dict.fromkeys(accuracies, 3))
    assert result["stop"] == "stable" and result["added"] == {}
    assert result["stability"] == 1.0
    assert result["reason"] == "stable at 100.0% after 3 seeds"
    assert list(result["contention"]) == ["a"]


def test_a_race_still_open_at_max_seeds_stops_and_names_it():
    accuracies = {"a": 0.9505, "b": 0.9500, "c": 0.92}
    seeds = {"a": 7, "b": 7, "c": 3}
    previous = {"contention": {"a": "the pick", "b": "tied"}}
    result = plan(accuracies, seeds, number=2, previous=previous)
    assert result["stop"] == "budget" and result["added"] == {}
    assert result["reason"].startswith("budget reached, pick not stable at ")
    assert result["reason"].endswith("the decision between a and b stays open at 7 seeds each")


def test_the_last_round_may_add_fewer_seeds_than_a_round():
    accuracies = {"a": 0.9505, "b": 0.9500}
    result = plan(accuracies, {"a": 6, "b": 6}, number=2, previous={"contention": {"a": "", "b": ""}})
    assert result["added"] == {"a": [6], "b": [6]}


def test_an_experiment_left_out_stays_out():
    # c is as close as b, but an earlier round left it out: its results are final, and it gets no seeds.
    accuracies = {"a": 0.9505, "b": 0.9500, "c": 0.9502}
    seeds = {"a": 5, "b": 5, "c": 3}
    result = plan(accuracies, seeds, number=1, previous={"contention": {"a": "the pick", "b": "tied"}})
    assert "c" not in result["contention"] and "c" not in result["retired"]
    assert set(result["added"]) <= {"a", "b"}


def test_the_stability_is_the_evidences_decision_stability():
    # The same bootstrap as the evidence: the same draws, so the same share of draws picks the pick.
    accuracies = {"a": 0.9505, "b": 0.9500, "c": 0.92}
    correct = validation_runs(accuracies, dict.fromkeys(accuracies, 3))
    decision = rerun_decision(table_of(correct, dict.fromkeys(accuracies, 1)), correct, ONE_SE)
    again = rerun_decision(table_of(correct, dict.fromkeys(accuracies, 1)), correct, ONE_SE)
    np.testing.assert_array_equal(decision["picks"], again["picks"])
    result = plan_round(0, {name: [0, 1, 2] for name in accuracies}, decision, POLICY, None)
    assert result["stability"] == np.mean(decision["picks"] == decision["choice"]["picked"])
    assert 0 < result["stability"] < 1


def test_more_seeds_settle_a_race_that_is_real():
    # a is truly 0.3 pp ahead; with more seeds the seed noise shrinks and the decision becomes stable.
    accuracies = {"a": 0.953, "b": 0.950}
    few = plan(accuracies, {"a": 3, "b": 3}, seed_sd=0.004)
    many = plan(accuracies, {"a": 30, "b": 30}, seed_sd=0.004, policy={**POLICY, "max": 40})
    assert few["stability"] < many["stability"]
    assert many["stop"] == "stable"


def test_rounds_summary_counts_runs_and_training_time_against_max_seeds():
    runs = pd.DataFrame(
        {
            "experiment": ["a"] * 7 + ["b"] * 7 + ["c"] * 3,
            "seed": [*range(7), *range(7), *range(3)],
            "train_seconds": [10.0] * 7 + [20.0] * 7 + [4.0] * 3,
        }
    )
    plans = [{"stop": None, "reason": "not yet stable at 60%"}, {"stop": "budget", "reason": "budget reached"}]
    summary = seed_summary(POLICY, plans, runs)
    assert summary["seeds"] == {"a": list(range(7)), "b": list(range(7)), "c": [0, 1, 2]}
    assert summary["stop"] == "budget" and summary["reason"] == "budget reached"
    cost = summary["cost"]
    assert cost["runs"] == 17 and cost["runs_at_max"] == 21
    assert cost["train_seconds"] == 70 + 140 + 12
    assert cost["train_seconds_at_max"] == 7 * (10 + 20 + 4)
    assert cost["saved_share"] == pytest.approx(1 - 222 / 238)


def test_fixed_seeds_have_no_rounds():
    runs = pd.DataFrame({"experiment": ["a", "a"], "seed": [0, 1], "train_seconds": [1.0, 2.0]})
    summary = seed_summary({"adaptive": False, "seeds": [0, 1]}, [], runs)
    assert summary["rounds"] == [] and summary["stop"] is None
    assert summary["cost"] == {"runs": 2, "train_seconds": 3.0}
