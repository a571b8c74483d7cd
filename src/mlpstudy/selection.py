"""The decision rule: which experiment to recommend, from validation results only."""

from __future__ import annotations

import pandas as pd

# The only columns the rule may see: selecting on test data would make the reported test accuracy optimistic.
SELECTION_COLUMNS = ["experiment", "val_accuracy", "params", "generalization_gap"]


def select_model(table: pd.DataFrame, tolerance: float, overfit_threshold: float) -> dict:
    """Pick the smallest model whose mean validation accuracy is within `tolerance` of the best.

    Ties in size go to the higher validation accuracy, then to the name. Returns the pick, the best
    experiment, the candidates and the over-fitting flags.
    """
    table = table[SELECTION_COLUMNS]
    best = table.sort_values(["val_accuracy", "params", "experiment"], ascending=[False, True, True]).iloc[0]
    candidates = table[table["val_accuracy"] >= best["val_accuracy"] - tolerance - 1e-12]
    picked = candidates.sort_values(["params", "val_accuracy", "experiment"], ascending=[True, False, True]).iloc[0]
    overfitted = table.loc[table["generalization_gap"] > overfit_threshold, "experiment"].tolist()
    return {
        "rule": (
            f"Among experiments whose mean validation accuracy is within {tolerance * 100:g} percentage points "
            "of the best, pick the one with the fewest trainable parameters. Test data is not used."
        ),
        "tolerance": tolerance,
        "overfit_threshold": overfit_threshold,
        "picked": picked["experiment"],
        "best_validation": best["experiment"],
        "candidates": candidates.sort_values("val_accuracy", ascending=False)["experiment"].tolist(),
        "overfitted": overfitted,
        "picked_overfits": picked["experiment"] in overfitted,
    }
