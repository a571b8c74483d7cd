"""The refit summary: which experiments are refit, their roles, intervals, the change from the comparison, and
the deployed model."""

import math

import numpy as np
import pytest

from mlpstudy.refit import deployed_model, read_refits, refit_experiments, refit_table
from mlpstudy.stats import expected_accuracy_interval, paired_difference, wilson_interval

RNG = np.random.default_rng(0)
LABELS = RNG.integers(0, 10, 2000)


def correct(*accuracies):
    """(n_seeds, 2000) right/wrong with roughly these accuracies."""
    return np.array([RNG.random(2000) < a for a in accuracies])


def run(experiment, seed, accuracy):
    return {
        "experiment": experiment,
        "seed": seed,
        "test_accuracy": accuracy,
        "train_images": 60000,
        "epochs": 20,
        "train_seconds": 100.0 + seed,
    }


@pytest.mark.parametrize(
    "pick, ceiling, expected",
    [
        ("small", "big", ["small", "big"]),
        ("big", "big", ["big"]),
        ("small", None, ["small"]),
    ],
)
def test_refit_experiments(pick, ceiling, expected):
    assert refit_experiments(pick, ceiling) == expected


def test_refit_table_rows_intervals_and_change():
    refit_correct = {"small": correct(0.973, 0.974, 0.973), "big": correct(0.984, 0.985, 0.984)}
    selection_correct = {"small": correct(0.97, 0.972, 0.971), "big": correct(0.983, 0.98, 0.983)}
    # Seeds given out of order: the per-seed column must come out in seed order.
    runs = [run("big", 2, 0.9838), run("big", 0, 0.9835), run("small", 0, 0.9731), run("big", 1, 0.9850)]
    runs += [run("small", 1, 0.9744), run("small", 2, 0.9736)]
    table = refit_table(runs, refit_correct, selection_correct, "small", "big").set_index("experiment")
    assert list(table.index) == ["small", "big"]
    assert table.loc["small", "role"] == "pick" and table.loc["big", "role"] == "ceiling"
    big = table.loc["big"]
    assert big["seed_test_accuracies"] == "0.9835 0.9850 0.9838"
    mean, low, high = expected_accuracy_interval(refit_correct["big"])
    assert (big["test_accuracy"], big["test_expected_low"], big["test_expected_high"]) == (mean, low, high)
    gain = paired_difference(refit_correct["big"], selection_correct["big"])
    assert (big["gain"], big["gain_ci_low"], big["gain_ci_high"]) == (gain["difference"], gain["low"], gain["high"])
    assert big["gain_distinguishable"] == (gain["low"] > 0 or gain["high"] < 0)
    assert big["selection_test_accuracy"] == pytest.approx(selection_correct["big"].mean())
    assert big["train_images"] == 60000 and big["n_seeds"] == 3 and big["train_seconds"] == pytest.approx(101.0)


def test_refit_table_when_the_pick_is_the_ceiling_and_runs_are_missing():
    runs = [run("big", seed, 0.984) for seed in range(3)]
    matrices = {"big": correct(0.98, 0.98, 0.98)}
    table = refit_table(runs, matrices, matrices, "big", "big")
    assert table["experiment"].tolist() == ["big"] and table["role"].tolist() == ["pick and ceiling"]
    with pytest.raises(ValueError, match="no refit run of 'small'"):
        refit_table(runs, matrices, matrices, "small", "big")


def test_one_seed_refit_table_reads_back_with_its_per_seed_text(tmp_path):
    table = refit_table([run("big", 0, 0.9835)], {"big": correct(0.98)}, {"big": correct(0.98)}, "big", None)
    assert math.isnan(table.loc[0, "test_expected_low"]) and not table.loc[0, "test_expected_informative"]
    table.to_csv(tmp_path / "refit.csv", index=False)
    assert read_refits(tmp_path / "refit.csv").loc[0, "seed_test_accuracies"] == "0.9835"


def probabilities_reading(right):
    """Class probabilities whose argmax is LABELS where `right`, another class elsewhere."""
    predicted = np.where(right, LABELS, (LABELS + 1) % 10)
    return np.eye(10)[predicted] * 0.9 + 0.01


def test_deployed_model_is_one_seed_or_the_ensemble_with_its_wilson_interval():
    runs = [run("small", seed, 0) for seed in (0, 1, 2)] + [run("big", 0, 0)]
    rights = [RNG.random(2000) < 0.97 for _ in range(4)]
    probabilities = [probabilities_reading(right) for right in rights]
    single = deployed_model("small", "single", 1, runs, probabilities, LABELS)
    assert single["seeds"] == [1] and single["accuracy"] == rights[1].mean()
    assert (single["low"], single["high"]) == wilson_interval(int(rights[1].sum()), 2000)
    ensemble = deployed_model("small", "ensemble", 1, runs, probabilities, LABELS)
    majority = (np.sum(rights[:3], axis=0) >= 2).mean()  # three one-hot-like votes: the ensemble is the majority
    assert ensemble["seeds"] == [0, 1, 2] and ensemble["accuracy"] == pytest.approx(majority)
    assert ensemble["train_images"] == 60000 and ensemble["deploy"] == "ensemble"
