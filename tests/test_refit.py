"""The refit summary: which experiments are refit, their roles, intervals and the change from the comparison."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlpstudy.refit import read_refits, refit_experiments, refit_table


def run(experiment, seed, accuracy):
    return {
        "experiment": experiment,
        "seed": seed,
        "test_accuracy": accuracy,
        "train_images": 60000,
        "epochs": 20,
        "train_seconds": 100.0 + seed,
    }


SELECTION_RUNS = pd.DataFrame(
    [{"experiment": "small", "seed": s, "test_accuracy": a} for s, a in enumerate([0.970, 0.972, 0.971])]
    + [{"experiment": "big", "seed": s, "test_accuracy": a} for s, a in enumerate([0.9830, 0.9800, 0.9832])]
)


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
    # Seeds given out of order: the per-seed column must come out in seed order.
    runs = [
        run("big", 2, 0.9838),
        run("big", 0, 0.9835),
        run("small", 0, 0.9731),
        run("big", 1, 0.9850),
        run("small", 1, 0.9744),
        run("small", 2, 0.9736),
    ]
    table = refit_table(runs, "small", "big", SELECTION_RUNS).set_index("experiment")
    assert list(table.index) == ["small", "big"]
    assert table.loc["small", "role"] == "pick" and table.loc["big", "role"] == "ceiling"
    big = table.loc["big"]
    values = [0.9835, 0.9850, 0.9838]
    assert big["seed_test_accuracies"] == "0.9835 0.9850 0.9838"
    assert big["test_accuracy"] == pytest.approx(np.mean(values))
    half = stats.t.ppf(0.975, 2) * np.std(values, ddof=1) / math.sqrt(3)
    assert (big["test_accuracy_ci_low"], big["test_accuracy_ci_high"]) == pytest.approx(
        (np.mean(values) - half, np.mean(values) + half)
    )
    assert big["selection_test_accuracy"] == pytest.approx(np.mean([0.9830, 0.9800, 0.9832]))
    welch = stats.ttest_ind(values, [0.9830, 0.9800, 0.9832], equal_var=False).confidence_interval(0.95)
    assert big["gain"] == pytest.approx(big["test_accuracy"] - big["selection_test_accuracy"])
    assert (big["gain_ci_low"], big["gain_ci_high"]) == pytest.approx((welch.low, welch.high))
    assert big["train_images"] == 60000 and big["n_seeds"] == 3 and big["train_seconds"] == pytest.approx(101.0)


def test_refit_table_when_the_pick_is_the_ceiling_and_runs_are_missing():
    runs = [run("big", seed, 0.984) for seed in range(3)]
    table = refit_table(runs, "big", "big", SELECTION_RUNS)
    assert table["experiment"].tolist() == ["big"] and table["role"].tolist() == ["pick and ceiling"]
    with pytest.raises(ValueError, match="no refit run of 'small'"):
        refit_table(runs, "small", "big", SELECTION_RUNS)


def test_one_seed_refit_table_reads_back_with_its_per_seed_text(tmp_path):
    table = refit_table([run("big", 0, 0.9835)], "big", None, SELECTION_RUNS)
    assert math.isnan(table.loc[0, "test_accuracy_ci_low"]) and math.isnan(table.loc[0, "gain_ci_low"])
    table.to_csv(tmp_path / "refit.csv", index=False)
    assert read_refits(tmp_path / "refit.csv").loc[0, "seed_test_accuracies"] == "0.9835"
