"""Collect every run into the comparison table, choose the model, and compute the evidence behind the choice."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from mlpstudy import plots
from mlpstudy.config import architecture_label, regularization_label
from mlpstudy.data import read_prepared, read_summary
from mlpstudy.evaluation import load_run, per_class_accuracy
from mlpstudy.io import atomic_path, read_csv, read_json, write_json
from mlpstudy.layout import COMPARISON_FIGURES, COMPARISON_FILES
from mlpstudy.selection import select_model
from mlpstudy.stats import (
    accuracy_spread,
    bootstrap_best,
    holm,
    mcnemar_exact,
    wilson_interval,
)

MEAN_COLUMNS = [
    "params",
    "model_bytes",
    "epochs",
    "train_accuracy",
    "val_accuracy",
    "test_accuracy",
    "train_loss",
    "val_loss",
    "test_loss",
    "generalization_gap",
    "train_seconds",
    "seconds_per_epoch",
    "latency_ms_single",
    "latency_ms_per_1000",
]
SIGNIFICANCE = 0.05
BOOTSTRAP_DRAWS = 2000
MCNEMAR_COLUMNS = [
    "experiment",
    "pick",
    "pick_only_right",
    "other_only_right",
    "pick_ensemble_accuracy",
    "other_ensemble_accuracy",
    "p_value",
    "p_holm",
    "significant",
]


def _is_plain(spec: dict, reference: dict) -> bool:
    """Same training settings as the defaults apart from the hidden layers, with equal-width layers."""
    settings = (
        "activation",
        "dropout",
        "input_dropout",
        "l2",
        "batch_norm",
        "early_stopping",
        "optimizer",
        "batch_size",
        "epochs",
    )
    return (
        len(spec["hidden_layers"]) > 0
        and len(set(spec["hidden_layers"])) == 1
        and all(spec[key] == reference[key] for key in settings)
    )


def runs_table(runs: dict[str, list], n_val: int, n_test: int) -> pd.DataFrame:
    """One row per (experiment, seed) run, with the Wilson interval of its single-run accuracies."""
    rows = []
    for experiment_runs in runs.values():
        for run in experiment_runs:
            row = {key: value for key, value in run.metrics.items() if key != "spec"}
            for part, n in (("val", n_val), ("test", n_test)):
                low, high = wilson_interval(round(row[f"{part}_accuracy"] * n), n)
                row[f"{part}_accuracy_wilson_low"], row[f"{part}_accuracy_wilson_high"] = low, high
            rows.append(row)
    return pd.DataFrame(rows)


def comparison_table(runs: pd.DataFrame, experiments: list[dict], defaults: dict, n_val: int) -> pd.DataFrame:
    """One row per experiment in config order: what it is, means over seeds, t-intervals, standard errors."""
    rows = []
    for spec in experiments:
        name = spec["name"]
        own = runs[runs["experiment"] == name]
        row = {
            "experiment": name,
            "label": spec.get("label", ""),
            "description": spec["description"],
            "hidden_layers": architecture_label(spec),
            "depth": len(spec["hidden_layers"]),
            "width": spec["hidden_layers"][0] if _is_plain(spec, defaults) else None,
            "activation": spec["activation"] if spec["hidden_layers"] else "none",
            "regularization": regularization_label(spec),
            "optimizer": spec["optimizer"]["name"],
            "learning_rate": spec["optimizer"]["learning_rate"],
            "batch_size": spec["batch_size"],
            "n_seeds": len(own),
            **own[MEAN_COLUMNS].mean().to_dict(),
        }
        for part in ("val", "test"):
            (row[f"{part}_accuracy_ci_low"], row[f"{part}_accuracy_ci_high"], row[f"{part}_accuracy_sd"]) = (
                accuracy_spread(own[f"{part}_accuracy"])
            )
        # Standard error of the mean validation accuracy: across seeds when there are several, otherwise
        # the binomial error of the single run on n_val images.
        mean_val = row["val_accuracy"]
        row["val_accuracy_se"] = (
            row["val_accuracy_sd"] / math.sqrt(len(own))
            if len(own) > 1
            else math.sqrt(mean_val * (1 - mean_val) / n_val)
        )
        row["published_test_accuracy"] = spec.get("published_test_accuracy", math.nan)
        rows.append(row)
    table = pd.DataFrame(rows)
    table[["params", "model_bytes"]] = table[["params", "model_bytes"]].astype(int)
    return table


def ensemble_predictions(experiment_runs: list, part: str = "test") -> np.ndarray:
    """Class predicted by the mean probability over an experiment's seeds."""
    return np.mean([getattr(run, f"{part}_probabilities") for run in experiment_runs], axis=0).argmax(axis=1)


def mcnemar_table(pick: str, predictions: dict[str, np.ndarray], labels: np.ndarray) -> pd.DataFrame:
    """Exact McNemar test of the pick against every other experiment, Holm-corrected over those tests."""
    pick_right = predictions[pick] == labels
    rows = []
    for name, predicted in predictions.items():
        if name == pick:
            continue
        other_right = predicted == labels
        b = int(np.sum(pick_right & ~other_right))
        c = int(np.sum(~pick_right & other_right))
        rows.append(
            {
                "experiment": name,
                "pick": pick,
                "pick_only_right": b,
                "other_only_right": c,
                "pick_ensemble_accuracy": float(pick_right.mean()),
                "other_ensemble_accuracy": float(other_right.mean()),
                "p_value": mcnemar_exact(b, c),
            }
        )
    p_holm = holm([row["p_value"] for row in rows])
    for row, adjusted in zip(rows, p_holm):
        row["p_holm"], row["significant"] = float(adjusted), bool(adjusted < SIGNIFICANCE)
    return pd.DataFrame(rows, columns=MCNEMAR_COLUMNS)


def aggregate(settings: dict, metrics_paths, dataset_path, summary_path, output_dir, comparison_path) -> dict:
    output_dir, figures_dir = Path(output_dir), Path(output_dir) / "figures"
    class_names = read_summary(summary_path)["class_names"]
    prepared = read_prepared(dataset_path, ("y_val", "y_test", "x_test"))
    y_val, y_test, x_test = prepared["y_val"], prepared["y_test"], prepared["x_test"]
    loaded: dict[str, list] = {}
    for path in metrics_paths:
        run = load_run(Path(path).parent, len(y_val), len(y_test), len(class_names))
        loaded.setdefault(run.metrics["experiment"], []).append(run)
    for experiment_runs in loaded.values():
        experiment_runs.sort(key=lambda run: run.metrics["seed"])
    experiments = settings["experiments"]
    names = [spec["name"] for spec in experiments]
    runs = runs_table({name: loaded[name] for name in names}, len(y_val), len(y_test))
    table = comparison_table(runs, experiments, settings["defaults"], len(y_val))

    # The choice sees validation results and cost only; everything below it may use the test set.
    selection = select_model(table, settings["selection"])
    pick = selection["picked"]
    table["recommended"] = table["experiment"] == pick
    table["overfitting_flag"] = table["experiment"].isin(selection["overfitted"])

    val_correct = {name: np.array([r.val_probabilities.argmax(1) == y_val for r in loaded[name]]) for name in names}
    ranks = bootstrap_best(val_correct, n_boot=BOOTSTRAP_DRAWS, seed=0)
    best_table = pd.DataFrame(
        [
            {
                "experiment": name,
                "p_best": dist[0],
                "expected_rank": float(np.dot(np.arange(1, len(names) + 1), dist)),
                **{f"rank_{k + 1}": p for k, p in enumerate(dist)},
            }
            for name, dist in ranks.items()
        ]
    )
    table = table.merge(best_table[["experiment", "p_best"]], on="experiment")

    test_predictions = {name: ensemble_predictions(loaded[name]) for name in names}
    mcnemar = mcnemar_table(pick, test_predictions, y_test)
    most_accurate = table.sort_values(["test_accuracy", "experiment"], ascending=[False, True]).iloc[0]["experiment"]
    correct = np.array([test_predictions[name] == y_test for name in names])
    all_wrong = np.flatnonzero(~correct.any(axis=0))
    others_right = np.delete(correct, names.index(pick), axis=0).all(axis=0) if len(names) > 1 else correct[0]
    only_pick_wrong = np.flatnonzero(~correct[names.index(pick)] & others_right)
    per_class = {
        name: per_class_accuracy(y_test, test_predictions[name], len(class_names)).tolist()
        for name in dict.fromkeys([pick, most_accurate])
    }
    facts = {
        "pick": pick,
        "most_accurate": most_accurate,
        "n_val": len(y_val),
        "n_test": len(y_test),
        "n_seeds": int(table["n_seeds"].min()),
        "bootstrap_draws": BOOTSTRAP_DRAWS,
        "all_wrong": all_wrong.tolist(),
        "only_pick_wrong": only_pick_wrong.tolist(),
        "per_class_accuracy": per_class,
        "alternatives": {
            rule: select_model(table, {**settings["selection"], "rule": rule})["picked"]
            for rule in ("one_se", "tolerance")
        },
    }

    plain = table.dropna(subset=["width"]).astype({"width": int})

    def figure(key):
        return figures_dir / COMPARISON_FIGURES[key]

    plots.accuracy_by_width_depth(plain, figure("width_depth"))
    plots.generalization_gap(table, settings["selection"]["overfit_threshold"], figure("gap"))
    plots.accuracy_vs_cost(table, pick, settings["selection"]["cost_order"][0], figure("pareto"))
    plots.confidence_forest(table, pick, figure("forest"))
    plots.probability_best(best_table, pick, figure("probability_best"))
    plots.per_class_comparison(per_class, class_names, figure("per_class"))
    plots.learning_curve_bands(
        {name: [r.history for r in loaded[name]] for name in per_class}, figure("learning_curves")
    )
    plots.error_examples(
        x_test, y_test, test_predictions[pick], all_wrong, only_pick_wrong, class_names, pick, figure("errors")
    )

    for frame, path in (
        (table, comparison_path),
        (runs, output_dir / COMPARISON_FILES["runs"]),
        (mcnemar, output_dir / COMPARISON_FILES["mcnemar"]),
        (best_table, output_dir / COMPARISON_FILES["probability_best"]),
    ):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
    write_json(output_dir / COMPARISON_FILES["selection"], selection)
    write_json(output_dir / COMPARISON_FILES["facts"], facts)
    return selection


def read_comparison(results_dir: str | Path) -> dict:
    """Everything aggregate wrote, for the report."""
    results = Path(results_dir)
    comparison = results / "comparison"
    table = read_csv(results / "comparison.csv", ("experiment", "label", "test_accuracy", "val_accuracy"))
    table["label"] = table["label"].fillna("")
    return {
        "table": table,
        "runs": read_csv(comparison / COMPARISON_FILES["runs"], ("experiment", "seed")),
        "mcnemar": read_csv(comparison / COMPARISON_FILES["mcnemar"], MCNEMAR_COLUMNS),
        "probability_best": read_csv(comparison / COMPARISON_FILES["probability_best"], ("experiment", "p_best")),
        "selection": read_json(comparison / COMPARISON_FILES["selection"], ("picked",)),
        "facts": read_json(comparison / COMPARISON_FILES["facts"], ("most_accurate", "pick")),
    }
