"""The decision rule: which experiment to recommend, from validation results and measured cost only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlpstudy.io import read_csv

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


class _Rule:
    """The rule on one table, for any validation accuracies: margins and costs are fixed, so the tie set's
    cheapest experiments are computed once per tie set however many bootstrap draws reach it."""

    def __init__(self, table: pd.DataFrame, settings: dict, paired_se: pd.DataFrame | None):
        self.settings = settings
        self.table = table[VALIDATION_COLUMNS + cost_columns(settings["cost_order"])].set_index(
            table["experiment"].to_numpy()
        )
        self.names = self.table.index.to_numpy()
        n = len(self.names)
        if settings["rule"] == "one_se":
            # margins[b, k]: how far k may be below b when b is the best.
            self.margins = paired_se.loc[self.names, self.names].to_numpy(dtype=float, copy=True)
            np.fill_diagonal(self.margins, 0.0)
        else:
            self.margins = np.full((n, n), float(settings["tolerance"]))
        self.name_rank = np.argsort(np.argsort(self.names))
        self._cheapest = {}

    def _order(self, accuracy: np.ndarray) -> np.ndarray:
        """Indices by validation accuracy, highest first; equal accuracies by name."""
        return np.lexsort((self.name_rank, -accuracy))

    def apply(self, accuracy: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, int]:
        """The best, the tie set and its cheapest (boolean masks) and the pick, as indices into the table."""
        order = self._order(accuracy)
        best = order[0]
        candidates = accuracy[best] - accuracy <= self.margins[best] + 1e-12
        key = candidates.tobytes()
        if key not in self._cheapest:
            tied = _cheapest(self.table[candidates], self.settings["cost_order"]).index
            self._cheapest[key] = np.isin(self.names, tied)
        tied = self._cheapest[key]
        picked = next(i for i in order if tied[i])
        return best, candidates, tied, picked


def select_model(table: pd.DataFrame, settings: dict, paired_se: pd.DataFrame | None = None) -> dict:
    """Apply the configured rule to a table of mean validation accuracy, the generalization gap and cost columns.
    `paired_se[a][b]` is the standard error of the difference in mean validation accuracy between experiments a
    and b (needed by the one-standard-error rule)."""
    rule = _Rule(table, settings, paired_se)
    accuracy = rule.table["val_accuracy"].to_numpy(dtype=float)
    best, candidates, tied, picked = rule.apply(accuracy)
    gap = rule.table["generalization_gap_low"].where(
        rule.table["generalization_gap_low"].notna(), rule.table["generalization_gap"]
    )
    overfitted = rule.names[(gap > settings["overfit_threshold"]).to_numpy()].tolist()
    order = rule._order(accuracy)
    return {
        "rule": settings["rule"],
        "description": describe_rule(settings),
        "cost_order": list(settings["cost_order"]),
        "margins": {name: float(margin) for name, margin in zip(rule.names, rule.margins[best])},
        "overfit_threshold": settings["overfit_threshold"],
        "picked": str(rule.names[picked]),
        "best_validation": str(rule.names[best]),
        "candidates": [str(rule.names[i]) for i in order if candidates[i]],
        "cost_tied": [str(name) for name in rule.names[tied]],
        "overfitted": overfitted,
        "picked_overfits": rule.names[picked] in overfitted,
    }


def decision_draws(
    table: pd.DataFrame, settings: dict, paired_se: pd.DataFrame | None, val_accuracy_draws: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The rule rerun once per row of `val_accuracy_draws` (bootstrap draws of every experiment's mean validation
    accuracy, columns in table order), costs and margins held as measured: the experiment picked in each draw,
    and a (draws, experiments) boolean array of which experiments are in each draw's tie set."""
    rule = _Rule(table, settings, paired_se)
    picks, tied = [], np.zeros(val_accuracy_draws.shape, dtype=bool)
    for row, draw in enumerate(val_accuracy_draws):
        _, tied[row], _, picked = rule.apply(np.asarray(draw, dtype=float))
        picks.append(rule.names[picked])
    return np.array(picks), tied


def closest_competitors(runs: str, pick: str, count: int) -> list[str]:
    """The `count` experiments other than `pick` with the highest mean validation accuracy (runs.csv), best
    first; ties keep the table's order."""
    table = read_csv(runs, ("experiment", "val_accuracy"))
    means = table.groupby("experiment", sort=False)["val_accuracy"].mean().drop(pick, errors="ignore")
    return means.sort_values(ascending=False, kind="stable").index[:count].tolist()
