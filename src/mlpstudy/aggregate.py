"""Collect every run's metrics into the comparison table, apply the decision rule, draw comparison figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlpstudy import plots
from mlpstudy.config import architecture_label, regularization_label
from mlpstudy.io import atomic_path, read_json, write_json
from mlpstudy.selection import select_model

MEAN_COLUMNS = [
    "params", "model_bytes", "epochs", "train_accuracy", "val_accuracy", "test_accuracy",
    "train_loss", "val_loss", "test_loss", "generalization_gap", "train_seconds", "seconds_per_epoch",
]
SD_COLUMNS = ["val_accuracy", "test_accuracy"]
COMPARISON_FIGURES = {
    "width_depth": "accuracy_by_width_depth.png",
    "gap": "generalization_gap.png",
    "params": "accuracy_vs_params.png",
}


def runs_table(metrics_paths) -> pd.DataFrame:
    """One row per (experiment, seed) run."""
    rows = []
    for path in metrics_paths:
        metrics = read_json(path)
        row = {key: value for key, value in metrics.items() if key != "spec"}
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["experiment", "seed"]).reset_index(drop=True)


def _is_plain(spec: dict, reference: dict) -> bool:
    """Same training settings as the defaults apart from the hidden layers, with equal-width layers."""
    settings = ("activation", "dropout", "input_dropout", "l2", "batch_norm", "early_stopping", "optimizer",
                "batch_size", "epochs")
    return (
        len(spec["hidden_layers"]) > 0
        and len(set(spec["hidden_layers"])) == 1
        and all(spec[key] == reference[key] for key in settings)
    )


def comparison_table(runs: pd.DataFrame, experiments: list[dict], defaults: dict) -> pd.DataFrame:
    """One row per experiment in config order: description columns, means over seeds, SDs."""
    grouped = runs.groupby("experiment")
    means = grouped[MEAN_COLUMNS].mean()
    sds = grouped[SD_COLUMNS].std(ddof=1).add_suffix("_sd")
    rows = []
    for spec in experiments:
        name = spec["name"]
        rows.append({
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
            "n_seeds": int(grouped.size()[name]),
            **means.loc[name].to_dict(),
            **sds.loc[name].to_dict(),
        })
    table = pd.DataFrame(rows)
    table[["params", "model_bytes"]] = table[["params", "model_bytes"]].astype(int)
    return table


def aggregate(settings: dict, metrics_paths, comparison_path, runs_path, selection_path, figures_dir) -> dict:
    runs = runs_table(metrics_paths)
    table = comparison_table(runs, settings["experiments"], settings["defaults"])
    selection = settings["selection"]
    choice = select_model(table, selection["tolerance"], selection["overfit_threshold"])
    table["recommended"] = table["experiment"] == choice["picked"]
    table["overfitting_flag"] = table["experiment"].isin(choice["overfitted"])

    figures_dir = Path(figures_dir)
    plain = table.dropna(subset=["width"]).astype({"width": int})
    plots.accuracy_by_width_depth(plain, figures_dir / COMPARISON_FIGURES["width_depth"])
    plots.generalization_gap(table, selection["overfit_threshold"], figures_dir / COMPARISON_FIGURES["gap"])
    plots.accuracy_vs_params(table, choice["picked"], figures_dir / COMPARISON_FIGURES["params"])

    for frame, path in ((table, comparison_path), (runs, runs_path)):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
    write_json(selection_path, choice)
    return choice
