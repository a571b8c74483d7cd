"""Collect every run into the comparison table, choose the model (decide), and compute the evidence behind the
choice (evidence)."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from mlpstudy.config import architecture_label, regularization_label
from mlpstudy.data import read_prepared, read_summary
from mlpstudy.evaluation import RUN_METRICS, correct_matrix, load_run, per_class_accuracy
from mlpstudy.io import atomic_path, read_json, read_npz, write_json
from mlpstudy.refit import deployed_model
from mlpstudy.rounds import BOOTSTRAP_DRAWS, PLAN_KEYS, plan_round, rerun_decision, seed_summary, seeds_by_experiment
from mlpstudy.selection import COST_LABELS, EXACT_COSTS, select_model
from mlpstudy.stats import (
    calibration,
    expected_accuracy_interval,
    holm,
    informative,
    paired_difference,
    paired_proportion_difference,
    paired_se_matrix,
    rank_distribution,
    run_prediction_interval,
    t_interval,
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
log = logging.getLogger("mlpstudy.aggregate")
VERSUS_PICK_COLUMNS = [
    "experiment",
    "pick",
    "deploy",
    "pick_accuracy",
    "other_accuracy",
    "difference",
    "difference_ci_low",
    "difference_ci_high",
    "seed_component_known",
    "p_value",
    "p_holm",
    "verdict",
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


def comparison_table(runs: pd.DataFrame, experiments: list[dict], defaults: dict) -> pd.DataFrame:
    """One row per experiment in config order: what it is, means over seeds, 95% t-intervals of the means
    across seeds (not clipped: `*_ci_informative` says whether they are inside (0, 1)), the lower end of the
    gap's interval, and the range over seeds of every measured cost."""
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
            _, low, high = t_interval(own[f"{part}_accuracy"])
            row[f"{part}_accuracy_ci_low"], row[f"{part}_accuracy_ci_high"] = low, high
            row[f"{part}_accuracy_ci_informative"] = informative(low, high)
            row[f"{part}_accuracy_sd"] = float(own[f"{part}_accuracy"].std(ddof=1)) if len(own) > 1 else math.nan
        row["generalization_gap_low"] = t_interval(own["generalization_gap"])[1]
        for cost in set(COST_LABELS) - EXACT_COSTS:
            row[f"{cost}_low"], row[f"{cost}_high"] = float(own[cost].min()), float(own[cost].max())
        row["published_test_accuracy"] = spec.get("published_test_accuracy", math.nan)
        rows.append(row)
    table = pd.DataFrame(rows)
    table[["params", "model_bytes"]] = table[["params", "model_bytes"]].astype(int)
    return table


def ensemble_predictions(experiment_runs: list, part: str = "test") -> np.ndarray:
    """Class predicted by the mean probability over an experiment's seeds."""
    return np.mean([getattr(run, f"{part}_probabilities") for run in experiment_runs], axis=0).argmax(axis=1)


def verdict(low: float, high: float, p_holm: float, margin: float) -> str:
    """'better' or 'worse' (Holm-adjusted p below the significance level), 'equivalent' (the whole interval
    within ±margin), or 'cannot tell'."""
    if p_holm < SIGNIFICANCE:
        return "better" if low > 0 else "worse"
    if -margin < low and high < margin:
        return "equivalent"
    return "cannot tell"


def versus_pick_table(
    pick: str, deploy: str, correct: dict[str, np.ndarray], ensemble_right: dict[str, np.ndarray], margin: float
) -> pd.DataFrame:
    """The pick against every other experiment, in the quantity that is deployed: with `deploy` single, the
    expected test accuracy of one model trained that way (`correct`: each experiment's (n_seeds, n_images)
    matrix; paired over test images, seeds independent); with ensemble, the seed ensemble's test accuracy
    (`ensemble_right`; McNemar mid-p). Holm over the family; a verdict with the equivalence `margin`."""
    rows = []
    for name, other in correct.items():
        if name == pick:
            continue
        if deploy == "ensemble":
            result = paired_proportion_difference(ensemble_right[pick], ensemble_right[name])
            accuracies = (ensemble_right[pick].mean(), ensemble_right[name].mean())
            result["seed_component_known"] = True
        else:
            result = paired_difference(correct[pick], other)
            accuracies = (correct[pick].mean(), other.mean())
        rows.append(
            {
                "experiment": name,
                "pick": pick,
                "deploy": deploy,
                "pick_accuracy": float(accuracies[0]),
                "other_accuracy": float(accuracies[1]),
                "difference": result["difference"],
                "difference_ci_low": result["low"],
                "difference_ci_high": result["high"],
                "seed_component_known": result["seed_component_known"],
                "p_value": result["p_value"],
            }
        )
    for row, adjusted in zip(rows, holm([row["p_value"] for row in rows])):
        row["p_holm"] = float(adjusted)
        row["verdict"] = verdict(row["difference_ci_low"], row["difference_ci_high"], adjusted, margin)
    return pd.DataFrame(rows, columns=VERSUS_PICK_COLUMNS)


def calibration_summary(experiment_runs: list, labels: np.ndarray) -> dict:
    """Calibration of one model trained this way: NLL, Brier score and ECE of each run, as the mean over seeds,
    and the reliability diagram of all runs' predictions together."""
    per_run = [calibration(run.test_probabilities, labels) for run in experiment_runs]
    pooled = calibration(
        np.concatenate([run.test_probabilities for run in experiment_runs]), np.tile(labels, len(per_run))
    )
    return {
        **{key: float(np.mean([run[key] for run in per_run])) for key in ("nll", "brier", "ece")},
        "reliability": pooled["reliability"],
    }


def worst_class(correct: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict:
    """The class with the lowest mean accuracy over seeds, with the expected-accuracy interval of one model
    trained this way on images of that class."""
    accuracies = [correct[:, labels == k].mean() for k in range(len(class_names))]
    k = int(np.argmin(accuracies))
    mean, low, high = expected_accuracy_interval(correct[:, labels == k])
    return {
        "class": class_names[k],
        "images": int((labels == k).sum()),
        "accuracy": mean,
        "low": low,
        "high": high,
        "informative": informative(low, high),
    }


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
    """The runs table and the comparison table (before the evidence's columns) from every run's metrics, grouped
    as _by_experiment groups them. The evidence computes the table again from the same metrics rather than
    reading runs.csv back, so that its floats are the decision's to the last bit."""
    runs = runs_table(metrics, n_val, n_test)
    return runs, comparison_table(runs, settings["experiments"], settings["defaults"])


def _validation_results(
    settings: dict, metrics: list[str], predictions: list[str], dataset: str, summary: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    """What the choice may see, from every run's metrics (.json) and validation predictions (.npz, in the same
    order), the prepared split (`dataset`, for the validation labels) and its sizes (the data `summary`): the runs
    table, the comparison table, and each experiment's (n_seeds, n_images) right/wrong matrix on validation."""
    sizes = read_summary(summary)
    y_val = read_prepared(dataset, ("y_val",))["y_val"]
    names = [spec["name"] for spec in settings["experiments"]]
    grouped = _by_experiment(
        [
            (read_json(path, RUN_METRICS), read_npz(npz, ("val_probabilities",))["val_probabilities"])
            for path, npz in zip(metrics, predictions)
        ],
        names,
        lambda run: run[0],
    )
    runs_frame, table = _tables(
        settings, {n: [m for m, _ in g] for n, g in grouped.items()}, sizes["n_val"], sizes["n_test"]
    )
    return runs_frame, table, {name: correct_matrix([p for _, p in group], y_val) for name, group in grouped.items()}


def plan_next_round(
    settings: dict,
    number: int,
    metrics: list[str],
    predictions: list[str],
    dataset: str,
    summary: str,
    previous: list[str],
    plan: str,
) -> None:
    """Round `number` of an adaptive seed policy: from the runs so far (as decide reads them) and the last
    round's plan (`previous`: its file, none in round 0), write this round's `plan` (.json): who is in contention
    and why, whether to stop, and the seeds the next round adds."""
    runs_frame, table, val_correct = _validation_results(settings, metrics, predictions, dataset, summary)
    seeds = seeds_by_experiment(runs_frame)
    last = read_json(previous[0], PLAN_KEYS) if previous else None
    decision = rerun_decision(table, val_correct, settings["selection"])
    planned = plan_round(number, seeds, decision, settings["seed_policy"], last)
    log.info("round %d: %s; in contention: %s", number, planned["reason"], planned["contention"])
    log.info("left out: %s; next round adds: %s", planned["retired"] or "none", planned["added"] or "nothing")
    write_json(plan, planned)


def decide(
    settings: dict,
    metrics: list[str],
    predictions: list[str],
    dataset: str,
    summary: str,
    plans: list[str],
    runs: str,
    selection: str,
    rounds: str,
) -> dict:
    """The choice, from every run's metrics and validation predictions (as _validation_results reads them):
    writes the runs table (`runs`, .csv), the decision (`selection`, .json) and the seeds each experiment
    received with every round's plan (`plans`, none without an adaptive seed policy) as `rounds` (.json). It
    reads validation results and cost only, and nothing that the evidence below computes, so that the refit
    runs never wait for figures."""
    runs_frame, table, val_correct = _validation_results(settings, metrics, predictions, dataset, summary)
    choice = select_model(table, settings["selection"], paired_se_matrix(val_correct))
    with atomic_path(runs) as tmp:
        runs_frame.to_csv(tmp, index=False)
    every_round = [read_json(path, PLAN_KEYS) for path in plans]
    write_json(rounds, seed_summary(settings["seed_policy"], every_round, runs_frame))
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
    versus_pick: str,
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
    calibration_figure: str,
) -> None:
    """The evidence behind the choice (`selection`, from decide), from every run's files (`metrics`,
    `histories` and `predictions`, one of each per run, in the same order): the comparison table, the pick
    against every other experiment in the deployed quantity, the bootstrap of the whole decision, the facts the
    summary quotes, and the figures."""
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
    choice = read_json(selection, ("picked", "overfitted", "best_validation", "candidates"))
    pick, deploy = choice["picked"], settings["deploy"]
    table["recommended"] = table["experiment"] == pick
    table["overfitting_flag"] = table["experiment"].isin(choice["overfitted"])
    val_correct = {name: correct_matrix([r.val_probabilities for r in loaded[name]], y_val) for name in names}
    test_correct = {name: correct_matrix([r.test_probabilities for r in loaded[name]], y_test) for name in names}
    expected = [expected_accuracy_interval(test_correct[name]) for name in names]
    table["test_expected_low"] = [low for _, low, _ in expected]
    table["test_expected_high"] = [high for _, _, high in expected]
    table["test_expected_informative"] = [informative(low, high) for _, low, high in expected]
    # The yardstick for a single published run on the same test set.
    one_run = [run_prediction_interval([run["test_accuracy"] for run in grouped[name]]) for name in names]
    table["test_run_low"] = [low for _, low, _ in one_run]
    table["test_run_high"] = [high for _, _, high in one_run]

    # The whole decision, rerun on bootstrap draws of the validation images and seeds.
    decision = rerun_decision(table, val_correct, settings["selection"])
    picks, val_se = decision["picks"], decision["paired_se"]
    ranks = rank_distribution(decision["draws"])
    best_table = pd.DataFrame(
        [
            {
                "experiment": name,
                "p_best": ranks[i, 0],
                "p_picked": float(np.mean(picks == name)),
                "expected_rank": float(np.dot(np.arange(1, len(names) + 1), ranks[i])),
                **{f"rank_{k + 1}": p for k, p in enumerate(ranks[i])},
            }
            for i, name in enumerate(names)
        ]
    )
    table = table.merge(best_table[["experiment", "p_best", "p_picked"]], on="experiment")

    test_predictions = {name: ensemble_predictions(loaded[name]) for name in names}
    ensemble_right = {name: test_predictions[name] == y_test for name in names}
    versus = versus_pick_table(pick, deploy, test_correct, ensemble_right, settings["equivalence_margin"])
    by_validation = table.sort_values(["val_accuracy", "experiment"], ascending=[False, True])["experiment"].tolist()
    # The comparator is chosen on validation: the best there, or the runner-up when that is the pick.
    comparator = next((name for name in by_validation if name != pick), None)
    close = list(dict.fromkeys([pick, *choice["candidates"], *by_validation]))[:3]
    correct = np.array([ensemble_right[name] for name in names])
    all_wrong = np.flatnonzero(~correct.any(axis=0))
    others_right = np.delete(correct, names.index(pick), axis=0).all(axis=0) if len(names) > 1 else correct[0]
    only_pick_wrong = np.flatnonzero(~correct[names.index(pick)] & others_right)
    shown = list(dict.fromkeys(name for name in (pick, comparator) if name))
    per_class = {name: per_class_accuracy(y_test, test_predictions[name], len(class_names)).tolist() for name in shown}
    calibrations = {name: calibration_summary(loaded[name], y_test) for name in close}
    facts_json = {
        "pick": pick,
        "deploy": deploy,
        "comparator": comparator,
        "n_val": len(y_val),
        "n_test": len(y_test),
        "n_seeds": int(table["n_seeds"].min()),
        "bootstrap_draws": BOOTSTRAP_DRAWS,
        "decision_stability": float(np.mean(picks == pick)),
        "equivalence_margin": settings["equivalence_margin"],
        "deployed_without_refit": deployed_model(
            pick,
            deploy,
            settings["deploy_seed"],
            [run.metrics for run in loaded[pick]],
            [run.test_probabilities for run in loaded[pick]],
            y_test,
        ),
        "all_wrong": all_wrong.tolist(),
        "only_pick_wrong": only_pick_wrong.tolist(),
        "per_class_accuracy": per_class,
        "worst_class": worst_class(test_correct[pick], y_test, class_names),
        "calibration": {name: {k: v for k, v in c.items() if k != "reliability"} for name, c in calibrations.items()},
        "alternatives": {
            rule: select_model(table, {**settings["selection"], "rule": rule}, val_se)["picked"]
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
    plots.learning_curve_bands({name: [r.history for r in loaded[name]] for name in shown}, learning_curves_figure)
    plots.error_examples(
        x_test, y_test, test_predictions[pick], all_wrong, only_pick_wrong, class_names, pick, errors_figure
    )
    plots.reliability_diagram({name: c["reliability"] for name, c in calibrations.items()}, calibration_figure)

    for frame, path in ((table, comparison), (versus, versus_pick), (best_table, probability_best)):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
    write_json(facts, facts_json)
