"""After the choice: the pick and the accuracy ceiling retrained on all training images, measured on test.

Selection needs a validation split, so every experiment it compares trains on the remaining images only
(48,000 of MNIST's 60,000 by default). The model one deploys, and the ceiling figure a plain MLP is known for,
are trained on all of them; these refit runs measure that, and selection never sees them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlpstudy.data import read_prepared
from mlpstudy.evaluation import correct_matrix
from mlpstudy.io import atomic_path, read_csv, read_json, read_npz, write_json
from mlpstudy.stats import expected_accuracy_interval, informative, paired_difference, wilson_interval

REFIT_COLUMNS = [
    "experiment",
    "role",
    "n_seeds",
    "train_images",
    "epochs",
    "test_accuracy",
    "test_expected_low",
    "test_expected_high",
    "test_expected_informative",
    "seed_test_accuracies",
    "selection_test_accuracy",
    "gain",
    "gain_ci_low",
    "gain_ci_high",
    "gain_p_value",
    "gain_distinguishable",
    "train_seconds",
]


def refit_experiments(pick: str, ceiling: str | None) -> list[str]:
    """The experiments to refit: the pick, then the ceiling when there is one and it is another experiment."""
    return list(dict.fromkeys(name for name in (pick, ceiling) if name))


def refit_role(name: str, pick: str, ceiling: str | None) -> str:
    roles = [role for role, holder in (("pick", pick), ("ceiling", ceiling)) if holder == name]
    return " and ".join(roles)


def refit_table(
    runs: list[dict], refit_correct: dict, selection_correct: dict, pick: str, ceiling: str | None
) -> pd.DataFrame:
    """One row per refit experiment: mean test accuracy over its refit seeds, the prediction interval for one
    model trained that way (`refit_correct[name]`: (n_seeds, n_images), seed order), and the change from the
    same experiment's selection runs (`selection_correct[name]`, trained on the training split only) with its
    interval, paired over the test images."""
    rows = []
    for name in refit_experiments(pick, ceiling):
        own = sorted((run for run in runs if run["experiment"] == name), key=lambda run: run["seed"])
        if not own:
            raise ValueError(f"no refit run of {name!r} among the {len(runs)} given")
        mean, low, high = expected_accuracy_interval(refit_correct[name])
        gain = paired_difference(refit_correct[name], selection_correct[name])
        rows.append(
            {
                "experiment": name,
                "role": refit_role(name, pick, ceiling),
                "n_seeds": len(own),
                "train_images": own[0]["train_images"],
                "epochs": float(np.mean([run["epochs"] for run in own])),
                "test_accuracy": mean,
                "test_expected_low": low,
                "test_expected_high": high,
                "test_expected_informative": informative(low, high),
                "seed_test_accuracies": " ".join(f"{run['test_accuracy']:.4f}" for run in own),
                "selection_test_accuracy": float(selection_correct[name].mean()),
                "gain": gain["difference"],
                "gain_ci_low": gain["low"],
                "gain_ci_high": gain["high"],
                "gain_p_value": gain["p_value"],
                "gain_distinguishable": bool(gain["low"] > 0 or gain["high"] < 0),
                "train_seconds": float(np.mean([run["train_seconds"] for run in own])),
            }
        )
    return pd.DataFrame(rows, columns=REFIT_COLUMNS)


def deployed_model(pick: str, deploy: str, deploy_seed: int, runs: list[dict], probabilities: list, labels) -> dict:
    """The object to ship and its test accuracy with the Wilson interval (the object is fixed, so only the test
    images vary): among `runs` (metrics) and their test `probabilities`, the pick's run of `deploy_seed`
    (single) or the pick's seed ensemble. The refit runs when there are some, otherwise the selection runs."""
    own = [(run, p) for run, p in zip(runs, probabilities) if run["experiment"] == pick]
    if deploy == "ensemble":
        chosen = own
        predicted = np.mean([p for _, p in own], axis=0).argmax(axis=1)
    else:
        chosen = [(run, p) for run, p in own if run["seed"] == deploy_seed]
        predicted = chosen[0][1].argmax(axis=1)
    right = int(np.sum(predicted == labels))
    low, high = wilson_interval(right, len(labels))
    return {
        "experiment": pick,
        "deploy": deploy,
        "seeds": sorted(run["seed"] for run, _ in chosen),
        "train_images": chosen[0][0]["train_images"],
        "accuracy": right / len(labels),
        "low": low,
        "high": high,
    }


def summarize_refits(
    ceiling: str | None,
    deploy: str,
    deploy_seed: int,
    refit_metrics: list[str],
    refit_predictions: list[str],
    selection_predictions: list[str],
    dataset: str,
    selection: str,
    refits: str,
    deployed: str,
) -> pd.DataFrame:
    """The refit table (`refits`, .csv) and the deployed object (`deployed`, .json) from every refit run's
    metrics (.json) and predictions (.npz), the same experiments' selection-run predictions (one per refit run,
    in the same order), the test labels (`dataset`) and the decision (`selection`, for the pick)."""
    pick = read_json(selection, ("picked",))["picked"]
    labels = read_prepared(dataset, ("y_test",))["y_test"]
    keys = ("experiment", "seed", "test_accuracy", "train_seconds", "train_images", "epochs")
    runs = [read_json(path, keys) for path in refit_metrics]
    probabilities = [read_npz(path, ("test_probabilities",))["test_probabilities"] for path in refit_predictions]
    selection_right = correct_matrix(
        [read_npz(path, ("test_probabilities",))["test_probabilities"] for path in selection_predictions], labels
    )
    refit_right = correct_matrix(probabilities, labels)
    refit_correct, selection_correct = {}, {}
    for name in dict.fromkeys(run["experiment"] for run in runs):
        members = [i for _, i in sorted((run["seed"], i) for i, run in enumerate(runs) if run["experiment"] == name)]
        refit_correct[name], selection_correct[name] = refit_right[members], selection_right[members]
    table = refit_table(runs, refit_correct, selection_correct, pick, ceiling)
    with atomic_path(refits) as tmp:
        table.to_csv(tmp, index=False)
    write_json(deployed, deployed_model(pick, deploy, deploy_seed, runs, probabilities, labels))
    return table


def read_refits(path) -> pd.DataFrame:
    """refit.csv as written; the per-seed column stays text even with a single seed."""
    return read_csv(path, ("experiment", "role", "test_accuracy"), dtype={"seed_test_accuracies": str})
