"""After the choice: the pick and the accuracy ceiling retrained on all training images, measured on test.

Selection needs a validation split, so every experiment it compares trains on the remaining images only
(48,000 of MNIST's 60,000 by default). The model one deploys, and the ceiling figure a plain MLP is known for,
are trained on all of them; these refit runs measure that, and selection never sees them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlpstudy.io import atomic_path, read_csv, read_json
from mlpstudy.stats import accuracy_spread, welch_interval

REFIT_COLUMNS = [
    "experiment",
    "role",
    "n_seeds",
    "train_images",
    "epochs",
    "test_accuracy",
    "test_accuracy_ci_low",
    "test_accuracy_ci_high",
    "test_accuracy_sd",
    "seed_test_accuracies",
    "selection_test_accuracy",
    "gain",
    "gain_ci_low",
    "gain_ci_high",
    "train_seconds",
]


def refit_experiments(pick: str, ceiling: str | None) -> list[str]:
    """The experiments to refit: the pick, then the ceiling when there is one and it is another experiment."""
    return list(dict.fromkeys(name for name in (pick, ceiling) if name))


def refit_role(name: str, pick: str, ceiling: str | None) -> str:
    roles = [role for role, holder in (("pick", pick), ("ceiling", ceiling)) if holder == name]
    return " and ".join(roles)


def refit_table(runs: list[dict], pick: str, ceiling: str | None, selection_runs: pd.DataFrame) -> pd.DataFrame:
    """One row per refit experiment: test accuracy over seeds with its t-interval, beside the same experiment's
    runs for selection (trained on the training split only; `selection_runs` is runs.csv), with the change and
    its Welch interval."""
    rows = []
    for name in refit_experiments(pick, ceiling):
        own = sorted((run for run in runs if run["experiment"] == name), key=lambda run: run["seed"])
        if not own:
            raise ValueError(f"no refit run of {name!r} among the {len(runs)} given")
        accuracies = np.array([run["test_accuracy"] for run in own])
        low, high, sd = accuracy_spread(accuracies)
        selected = selection_runs.loc[selection_runs["experiment"] == name, "test_accuracy"].to_numpy()
        gain, gain_low, gain_high = welch_interval(accuracies, selected)
        rows.append(
            {
                "experiment": name,
                "role": refit_role(name, pick, ceiling),
                "n_seeds": len(own),
                "train_images": own[0]["train_images"],
                "epochs": float(np.mean([run["epochs"] for run in own])),
                "test_accuracy": float(accuracies.mean()),
                "test_accuracy_ci_low": low,
                "test_accuracy_ci_high": high,
                "test_accuracy_sd": sd,
                "seed_test_accuracies": " ".join(f"{value:.4f}" for value in accuracies),
                "selection_test_accuracy": float(selected.mean()),
                "gain": gain,
                "gain_ci_low": gain_low,
                "gain_ci_high": gain_high,
                "train_seconds": float(np.mean([run["train_seconds"] for run in own])),
            }
        )
    return pd.DataFrame(rows, columns=REFIT_COLUMNS)


def summarize_refits(
    ceiling: str | None, refit_metrics: list[str], selection: str, selection_runs: str, refits: str
) -> pd.DataFrame:
    """The refit table (`refits`, .csv) from every refit run's metrics (.json), the decision (`selection`, for
    the pick) and the runs table of the selection runs (`selection_runs`, for their test accuracy)."""
    pick = read_json(selection, ("picked",))["picked"]
    runs = [read_json(path, ("experiment", "seed", "test_accuracy", "train_seconds")) for path in refit_metrics]
    table = refit_table(runs, pick, ceiling, read_csv(selection_runs, ("experiment", "seed", "test_accuracy")))
    with atomic_path(refits) as tmp:
        table.to_csv(tmp, index=False)
    return table


def read_refits(path) -> pd.DataFrame:
    """refit.csv as written; the per-seed column stays text even with a single seed."""
    return read_csv(path, ("experiment", "role", "test_accuracy"), dtype={"seed_test_accuracies": str})
