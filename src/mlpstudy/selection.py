"""The decision rule: which experiment to recommend, from validation results and measured cost only."""

from __future__ import annotations

import numpy as np
import pandas as pd

# What the rule may see. Selecting on test data would make the reported test accuracy optimistic.
VALIDATION_COLUMNS = ["experiment", "val_accuracy", "generalization_gap", "generalization_gap_low"]
COST_LABELS = {
    "params": "trainable parameters",
    "model_bytes": "size on disk",
    "latency_ms_single": "latency per image",
    "latency_ms_per_1000": "latency per 1,000 images",
    "seconds_per_epoch": "training seconds per epoch",
}
# Costs known exactly from the architecture; the others are measured, so they carry noise.
EXACT_COSTS = {"params"}


def cost_columns(cost_order) -> list[str]:
    """The table columns the rule reads for these costs: each cost, and for measured ones its range over seeds."""
    columns = []
    for cost in cost_order:
        columns += [cost] if cost in EXACT_COSTS else [cost, f"{cost}_low", f"{cost}_high"]
    return columns


def describe_rule(settings: dict) -> str:
    costs = ", then ".join(COST_LABELS[c] for c in settings["cost_order"])
    if settings["rule"] == "one_se":
        tie = (
            "whose mean validation accuracy is within one standard error of the best experiment's, the standard "
            "error of that pair's difference (paired over the validation images, with both experiments' "
            "seed-to-seed variation)"
        )
    else:
        tie = f"whose mean validation accuracy is within {settings['tolerance'] * 100:g} percentage points of the best"
    measured = [COST_LABELS[c] for c in settings["cost_order"] if c not in EXACT_COSTS]
    noise = (
        f" Measured costs ({', '.join(measured)}) count as equal when their ranges over seeds overlap;"
        " equal costs go to the higher validation accuracy."
        if measured
        else " Equal costs go to the higher validation accuracy."
    )
    return (
        f"Among the experiments {tie}, recommend the cheapest by {costs}.{noise} Flag over-fitting where train "
        f"accuracy exceeds validation accuracy by more than {settings['overfit_threshold'] * 100:g} percentage "
        "points beyond seed-to-seed noise (the lower end of the gap's 95% interval across seeds; with one seed, "
        "the gap itself). Test data play no part."
    )


def _cheapest(candidates: pd.DataFrame, cost_order) -> pd.DataFrame:
    """The candidates that tie for cheapest: for each cost in turn, those equal to the cheapest (exact costs) or
    whose range over seeds reaches the cheapest one's range (measured costs)."""
    for cost in cost_order:
        if cost in EXACT_COSTS:
            candidates = candidates[candidates[cost] == candidates[cost].min()]
        else:
            cheapest = candidates.loc[candidates[cost].idxmin()]
            candidates = candidates[candidates[f"{cost}_low"] <= cheapest[f"{cost}_high"]]
    return candidates


def select_model(table: pd.DataFrame, settings: dict, paired_se: pd.DataFrame | None = None) -> dict:
    """Apply the configured rule to a table of mean validation accuracy, the generalization gap and cost columns.
    `paired_se[a][b]` is the standard error of the difference in mean validation accuracy between experiments a
    and b (needed by the one-standard-error rule)."""
    table = table[VALIDATION_COLUMNS + cost_columns(settings["cost_order"])]
    table.index = table["experiment"].to_numpy()
    best = table.sort_values(["val_accuracy", "experiment"], ascending=[False, True]).iloc[0]["experiment"]
    if settings["rule"] == "one_se":
        margins = paired_se.loc[best, table.index].astype(float)
        margins[best] = 0.0
    else:
        margins = pd.Series(settings["tolerance"], index=table.index)
    below = table.loc[best, "val_accuracy"] - table["val_accuracy"]
    candidates = table[below <= margins + 1e-12]
    tied = _cheapest(candidates, settings["cost_order"])
    picked = tied.sort_values(["val_accuracy", "experiment"], ascending=[False, True]).iloc[0]["experiment"]
    gap_bound = table["generalization_gap_low"].where(
        table["generalization_gap_low"].notna(), table["generalization_gap"]
    )
    overfitted = table.index[gap_bound > settings["overfit_threshold"]].tolist()
    return {
        "rule": settings["rule"],
        "description": describe_rule(settings),
        "cost_order": list(settings["cost_order"]),
        "margins": {name: float(margins[name]) for name in table.index},
        "overfit_threshold": settings["overfit_threshold"],
        "picked": picked,
        "best_validation": best,
        "candidates": candidates.sort_values("val_accuracy", ascending=False)["experiment"].tolist(),
        "cost_tied": tied["experiment"].tolist(),
        "overfitted": overfitted,
        "picked_overfits": picked in overfitted,
    }


def decision_stability(
    table: pd.DataFrame, settings: dict, paired_se: pd.DataFrame | None, val_accuracy_draws: np.ndarray
) -> np.ndarray:
    """The rule rerun once per row of `val_accuracy_draws` (bootstrap draws of every experiment's mean validation
    accuracy, columns in table order), costs and margins held as measured: the experiment picked in each draw."""
    draw_table = table.copy()
    picks = []
    for draw in val_accuracy_draws:
        draw_table["val_accuracy"] = draw
        picks.append(select_model(draw_table, settings, paired_se)["picked"])
    return np.array(picks)
