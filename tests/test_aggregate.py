import numpy as np
import pandas as pd
import pytest

from mlpstudy.aggregate import comparison_table, mcnemar_table
from mlpstudy.plots import pareto_front

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


def test_comparison_table_means_intervals_and_standard_errors():
    runs = pd.DataFrame(
        [run("a", 0, 0.97, 0.96), run("a", 1, 0.98, 0.97), run("a", 2, 0.99, 0.98), run("b", 0, 0.95, 0.94)]
    )
    experiments = [
        {**SPEC, "name": "a", "description": "A", "label": "Exp A"},
        {**SPEC, "name": "b", "description": "B", "hidden_layers": [], "published_test_accuracy": 0.9},
    ]
    table = comparison_table(runs, experiments, SPEC, n_val=10000).set_index("experiment")
    a, b = table.loc["a"], table.loc["b"]
    assert a["val_accuracy"] == pytest.approx(0.98) and a["n_seeds"] == 3 and a["width"] == 64
    assert a["val_accuracy_se"] == pytest.approx(0.01 / np.sqrt(3))
    assert a["test_accuracy_ci_high"] - a["test_accuracy"] == pytest.approx(4.302653 * 0.01 / np.sqrt(3), rel=1e-6)
    assert a["generalization_gap"] == pytest.approx(0.01)
    # one seed: no t-interval, binomial standard error
    assert np.isnan(b["val_accuracy_ci_low"]) and b["val_accuracy_se"] == pytest.approx(np.sqrt(0.95 * 0.05 / 10000))
    assert b["activation"] == "none" and b["published_test_accuracy"] == 0.9 and np.isnan(a["published_test_accuracy"])


def test_intervals_are_clipped_to_valid_accuracies():
    runs = pd.DataFrame([run("a", 0, 0.999, 0.99), run("a", 1, 0.95, 0.999)])
    table = comparison_table(runs, [{**SPEC, "name": "a", "description": "A"}], SPEC, n_val=100)
    assert table.loc[0, "val_accuracy_ci_high"] == 1.0 and table.loc[0, "test_accuracy_ci_high"] == 1.0


def test_mcnemar_table_counts_discordant_pairs_and_applies_holm():
    labels = np.zeros(100, dtype=int)
    pick = np.zeros(100, dtype=int)
    pick[:5] = 1  # pick wrong on 0..4
    worse = np.zeros(100, dtype=int)
    worse[:25] = 1  # wrong on 0..24: pick alone right on 20 images
    same = pick.copy()
    table = mcnemar_table("pick", {"pick": pick, "worse": worse, "same": same}, labels).set_index("experiment")
    assert (table.loc["worse", "pick_only_right"], table.loc["worse", "other_only_right"]) == (20, 0)
    assert table.loc["worse", "p_value"] == pytest.approx(2 * 0.5**20)
    assert table.loc["worse", "p_holm"] == pytest.approx(2 * 2 * 0.5**20) and table.loc["worse", "significant"]
    assert table.loc["same", "p_value"] == 1.0 and not table.loc["same", "significant"]


def test_pareto_front():
    costs = np.array([10, 20, 30, 40, 15])
    accuracy = np.array([0.90, 0.95, 0.94, 0.97, 0.89])
    assert pareto_front(costs, accuracy).tolist() == [0, 1, 3]
