"""The decision rule: which experiment to recommend, from validation results and measured cost only."""

from __future__ import annotations

import pandas as pd

# What the rule may see. Selecting on test data would make the reported test accuracy optimistic.
VALIDATION_COLUMNS = ["experiment", "val_accuracy", "val_accuracy_se", "generalization_gap"]
COST_LABELS = {
    "params": "trainable parameters",
    "model_bytes": "size on disk",
    "latency_ms_single": "latency per image",
    "latency_ms_per_1000": "latency per 1,000 images",
    "seconds_per_epoch": "training seconds per epoch",
}


def describe_rule(settings: dict) -> str:
    costs = ", then ".join(COST_LABELS[c] for c in settings["cost_order"])
    if settings["rule"] == "one_se":
        tie = (
            "whose mean validation accuracy is within one standard error of the best experiment's "
            "(the one-standard-error rule)"
        )
    else:
        tie = f"whose mean validation accuracy is within {settings['tolerance'] * 100:g} percentage points of the best"
    return (
        f"Among the experiments {tie}, recommend the cheapest by {costs}. Flag over-fitting where train accuracy "
        f"exceeds validation accuracy by more than {settings['overfit_threshold'] * 100:g} percentage points. "
        "Test data play no part."
    )


def select_model(table: pd.DataFrame, settings: dict) -> dict:
    """Apply the configured rule to a table of mean validation accuracy, its standard error and cost columns."""
    table = table[VALIDATION_COLUMNS + list(settings["cost_order"])]
    best = table.sort_values(["val_accuracy", "experiment"], ascending=[False, True]).iloc[0]
    margin = best["val_accuracy_se"] if settings["rule"] == "one_se" else settings["tolerance"]
    threshold = best["val_accuracy"] - margin
    candidates = table[table["val_accuracy"] >= threshold - 1e-12]
    order = list(settings["cost_order"]) + ["val_accuracy", "experiment"]
    ascending = [True] * len(settings["cost_order"]) + [False, True]
    picked = candidates.sort_values(order, ascending=ascending).iloc[0]
    overfitted = table.loc[table["generalization_gap"] > settings["overfit_threshold"], "experiment"].tolist()
    return {
        "rule": settings["rule"],
        "description": describe_rule(settings),
        "cost_order": list(settings["cost_order"]),
        "margin": float(margin),
        "threshold": float(threshold),
        "overfit_threshold": settings["overfit_threshold"],
        "picked": picked["experiment"],
        "best_validation": best["experiment"],
        "candidates": candidates.sort_values("val_accuracy", ascending=False)["experiment"].tolist(),
        "overfitted": overfitted,
        "picked_overfits": picked["experiment"] in overfitted,
    }
