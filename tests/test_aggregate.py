import numpy as np
import pandas as pd
import pytest

from mlpstudy.aggregate import comparison_table, verdict, versus_pick_table
from mlpstudy.plots import pareto_front
from mlpstudy.stats import mcnemar_mid_p

SPEC = {
    "hidden_layers": [64],
    "activation": "relu",
    "dropout": 0.0,
    "input_dropout": 0.0,
    "l2": 0.0,
    "batch_norm": False,
    "early_stopping": {"enabled": False},
    "optimizer": {"name": "rmsprop", "learning_rate": 0.001},
    "batch_size": 32,
    "epochs": 10,
}


def run(name, seed, val, test, train=0.99):
    return {
        "experiment": name,
        "seed": seed,
        "params": 100,
        "model_bytes": 1000,
        "epochs": 10,
        "train_accuracy": train,
        "val_accuracy": val,
        "test_accuracy": test,
        "train_loss": 0.1,
        "val_loss": 0.2,
        "test_loss": 0.2,
        "generalization_gap": train - val,
        "train_seconds": 10.0,
        "seconds_per_epoch": 1.0,
        "latency_ms_single": 0.1,
        "latency_ms_per_1000": 2.0,
    }


def test_comparison_table_means_intervals_and_cost_ranges():
    runs = pd.DataFrame(
        [run("a", 0, 0.97, 0.96), run("a", 1, 0.98, 0.97), run("a", 2, 0.99, 0.98), run("b", 0, 0.95, 0.94)]
    )
    runs.loc[1, "latency_ms_single"] = 0.3
    experiments = [
        {**SPEC, "name": "a", "description": "A", "label": "Exp A"},
        {**SPEC, "name": "b", "description": "B", "hidden_layers": [], "published_test_accuracy": 0.9},
    ]
    table = comparison_table(runs, experiments, SPEC).set_index("experiment")
    a, b = table.loc["a"], table.loc["b"]
    assert a["val_accuracy"] == pytest.approx(0.98) and a["n_seeds"] == 3 and a["width"] == 64
    assert a["test_accuracy_ci_high"] - a["test_accuracy"] == pytest.approx(4.302653 * 0.01 / np.sqrt(3), rel=1e-6)
    assert a["generalization_gap"] == pytest.approx(0.01) and a["test_accuracy_ci_informative"]
    assert (a["latency_ms_single_low"], a["latency_ms_single_high"]) == (0.1, 0.3)
    gaps = [0.02, 0.01, 0.0]
    assert a["generalization_gap_low"] == pytest.approx(np.mean(gaps) - 4.302653 * np.std(gaps, ddof=1) / np.sqrt(3))
    # one seed: no t-interval
    assert np.isnan(b["val_accuracy_ci_low"]) and np.isnan(b["generalization_gap_low"])
    assert b["activation"] == "none" and b["published_test_accuracy"] == 0.9 and np.isnan(a["published_test_accuracy"])


def test_intervals_are_not_clipped_but_marked_uninformative():
    runs = pd.DataFrame([run("a", 0, 0.999, 0.99), run("a", 1, 0.95, 0.999)])
    table = comparison_table(runs, [{**SPEC, "name": "a", "description": "A"}], SPEC)
    assert table.loc[0, "val_accuracy_ci_high"] > 1.0 and not table.loc[0, "val_accuracy_ci_informative"]
    assert not table.loc[0, "test_accuracy_ci_informative"]


@pytest.mark.parametrize(
    "low, high, p_holm, expected",
    [
        (0.001, 0.004, 0.01, "better"),
        (-0.004, -0.001, 0.01, "worse"),
        (-0.0015, 0.0012, 0.6, "equivalent"),
        (-0.003, 0.001, 0.3, "cannot tell"),
        (0.0005, 0.0015, 0.07, "equivalent"),  # unadjusted it excludes 0, but Holm does not let it count
    ],
)
def test_verdicts(low, high, p_holm, expected):
    assert verdict(low, high, p_holm, margin=0.002) == expected


def test_versus_pick_single_pairs_seeds_and_images_and_ensemble_uses_mcnemar_mid_p():
    rng = np.random.default_rng(0)
    base = rng.random(4000) < 0.97
    pick = np.array([base | (rng.random(4000) < 0.5)] * 3)  # identical seeds: no seed variation
    worse = np.array([base & (rng.random(4000) < 0.98) for _ in range(3)])
    same = pick.copy()
    correct = {"pick": pick, "worse": worse, "same": same}
    table = versus_pick_table("pick", "single", correct, {}, 0.002).set_index("experiment")
    assert list(table.index) == ["worse", "same"]
    assert table.loc["worse", "difference"] == pytest.approx(pick.mean() - worse.mean())
    assert table.loc["worse", "verdict"] == "better" and table.loc["same", "verdict"] == "equivalent"
    assert table.loc["worse", "p_holm"] == pytest.approx(min(1, 2 * table.loc["worse", "p_value"]))
    ensembles = {name: runs[0] for name, runs in correct.items()}
    table = versus_pick_table("pick", "ensemble", correct, ensembles, 0.002).set_index("experiment")
    b, c = int(np.sum(pick[0] & ~worse[0])), int(np.sum(~pick[0] & worse[0]))
    assert table.loc["worse", "p_value"] == pytest.approx(mcnemar_mid_p(b, c))
    assert table.loc["worse", "pick_accuracy"] == pytest.approx(pick[0].mean())


def test_pareto_front():
    costs = np.array([10, 20, 30, 40, 15])
    accuracy = np.array([0.90, 0.95, 0.94, 0.97, 0.89])
    assert pareto_front(costs, accuracy).tolist() == [0, 1, 3]
