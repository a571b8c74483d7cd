"""Collect every run into the comparison table, choose the model (decide), and compute the evidence behind the
choice (evidence)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mlpstudy.config import architecture_label, regularization_label
from mlpstudy.data import read_prepared, read_summary
from mlpstudy.evaluation import RUN_METRICS, load_run, per_class_accuracy
from mlpstudy.io import atomic_path, read_json, write_json
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


def runs_table(runs: dict[str, list[dict]], n_val: int, n_test: int) -> pd.DataFrame:
    """One row per (experiment, seed) run, from each run's metrics, with the Wilson interval of its single-run
    accuracies."""
    rows = []
    for experiment_runs in runs.values():
        for metrics in experiment_runs:
            row = {key: value for key, value in metrics.items() if key != "spec"}
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


def _by_experiment(runs: list, names: list[str], metrics_of=lambda run: run) -> dict[str, list]:
    """`runs` grouped by experiment in config order (`names`), each group in seed order; `metrics_of(run)` is a
    run's metrics."""
    grouped: dict[str, list] = {name: [] for name in names}
    for run in runs:
        grouped[metrics_of(run)["experiment"]].append(run)
    return {name: sorted(group, key=lambda run: metrics_of(run)["seed"]) for name, group in grouped.items()}


def _tables(
    settings: dict, metrics: dict[str, list[dict]], n_val: int, n_test: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs table and the comparison table (before the choice's columns) from every run's metrics, grouped
    as _by_experiment groups them. The evidence computes the table again from the same metrics rather than
    reading runs.csv back, so that its floats are the decision's to the last bit."""
    runs = runs_table(metrics, n_val, n_test)
    return runs, comparison_table(runs, settings["experiments"], settings["defaults"], n_val)


def decide(settings: dict, metrics: list[str], summary: str, runs: str, selection: str) -> dict:
    """The choice, from every run's metrics (.json) and the split's sizes (the data `summary`): writes the runs
    table (`runs`, .csv) and the decision (`selection`, .json). It reads validation results and cost only, and
    nothing that the evidence below computes, so that the refit runs never wait for figures."""
    sizes = read_summary(summary)
    names = [spec["name"] for spec in settings["experiments"]]
    grouped = _by_experiment([read_json(path, RUN_METRICS) for path in metrics], names)
    runs_frame, table = _tables(settings, grouped, sizes["n_val"], sizes["n_test"])
    choice = select_model(table, settings["selection"])
    with atomic_path(runs) as tmp:
        runs_frame.to_csv(tmp, index=False)
    write_json(selection, choice)
    return choice


def evidence(
    settings: dict,
    metrics: list[str],
    histories: list[str],
    predictions: list[str],
    dataset: str,
    summary: str,
    selection: str,
    comparison: str,
    mcnemar: str,
    probability_best: str,
    facts: str,
    width_depth_figure: str,
    gap_figure: str,
    pareto_figure: str,
    forest_figure: str,
    probability_best_figure: str,
    per_class_figure: str,
    learning_curves_figure: str,
    errors_figure: str,
) -> None:
    """The evidence behind the choice (`selection`, from decide), from every run's files (`metrics`,
    `histories` and `predictions`, one of each per run, in the same order): the comparison table, McNemar tests
    against the pick, the bootstrap probability of being best, the facts the summary quotes, and the figures."""
    from mlpstudy import plots  # here, not at the top: decide (the checkpoint) and the report need no plotting

    class_names = read_summary(summary)["class_names"]
    prepared = read_prepared(dataset, ("y_val", "y_test", "x_test"))
    y_val, y_test, x_test = prepared["y_val"], prepared["y_test"], prepared["x_test"]
    names = [spec["name"] for spec in settings["experiments"]]
    loaded = _by_experiment(
        [load_run(*files, len(y_val), len(y_test), len(class_names)) for files in zip(metrics, histories, predictions)],
        names,
        lambda run: run.metrics,
    )
    grouped = {name: [run.metrics for run in group] for name, group in loaded.items()}
    _, table = _tables(settings, grouped, len(y_val), len(y_test))
    choice = read_json(selection, ("picked", "overfitted"))
    pick = choice["picked"]
    table["recommended"] = table["experiment"] == pick
    table["overfitting_flag"] = table["experiment"].isin(choice["overfitted"])

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
    mcnemar_frame = mcnemar_table(pick, test_predictions, y_test)
    most_accurate = table.sort_values(["test_accuracy", "experiment"], ascending=[False, True]).iloc[0]["experiment"]
    correct = np.array([test_predictions[name] == y_test for name in names])
    all_wrong = np.flatnonzero(~correct.any(axis=0))
    others_right = np.delete(correct, names.index(pick), axis=0).all(axis=0) if len(names) > 1 else correct[0]
    only_pick_wrong = np.flatnonzero(~correct[names.index(pick)] & others_right)
    per_class = {
        name: per_class_accuracy(y_test, test_predictions[name], len(class_names)).tolist()
        for name in dict.fromkeys([pick, most_accurate])
    }
    facts_json = {
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
    plots.accuracy_by_width_depth(plain, width_depth_figure)
    plots.generalization_gap(table, settings["selection"]["overfit_threshold"], gap_figure)
    plots.accuracy_vs_cost(table, pick, settings["selection"]["cost_order"][0], pareto_figure)
    plots.confidence_forest(table, pick, forest_figure)
    plots.probability_best(best_table, pick, probability_best_figure)
    plots.per_class_comparison(per_class, class_names, per_class_figure)
    plots.learning_curve_bands({name: [r.history for r in loaded[name]] for name in per_class}, learning_curves_figure)
    plots.error_examples(
        x_test, y_test, test_predictions[pick], all_wrong, only_pick_wrong, class_names, pick, errors_figure
    )

    for frame, path in ((table, comparison), (mcnemar_frame, mcnemar), (best_table, probability_best)):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
    write_json(facts, facts_json)
