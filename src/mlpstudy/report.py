"""Render results/report.html: one self-contained page, every number read from the results files."""

from __future__ import annotations

import base64
import importlib.metadata
import platform
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from mlpstudy.aggregate import COMPARISON_FIGURES
from mlpstudy.io import read_json, write_text

PACKAGES = ["tensorflow-cpu", "keras", "numpy", "pandas", "snakemake", "papermill", "matplotlib", "seaborn", "jinja2"]
MODEL_FIGURES = {
    "learning_curves": "Learning curves",
    "confusion_matrix": "Confusion matrix (test set)",
    "misclassified": "Misclassified test images",
    "confused_pair": "Most-confused pair",
    "uncertain_predictions": "Least certain predictions",
}
DATA_FIGURES = {"class_counts": "Images per class", "sample_grid": "Sample images", "mean_images": "Mean images"}


def embed_png(path: str | Path) -> str:
    """A data URI, so the page needs no other file."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def percent(value: float, digits: int = 2) -> str:
    return f"{value * 100:.{digits}f}%"


def points(value: float, digits: int = 2) -> str:
    return f"{value * 100:.{digits}f} pp"


def recommendation(table: pd.DataFrame, selection: dict, item: str) -> dict:
    """The facts the manager's summary states, all taken from the comparison table and selection."""
    rows = table.set_index("experiment")
    pick = rows.loc[selection["picked"]]
    best = rows.loc[selection["best_validation"]]
    largest = rows["params"].idxmax()
    return {
        "pick": selection["picked"],
        "pick_row": pick,
        "best": selection["best_validation"],
        "best_row": best,
        "pick_is_best": selection["picked"] == selection["best_validation"],
        "val_deficit": best["val_accuracy"] - pick["val_accuracy"],
        "param_ratio": best["params"] / pick["params"],
        "largest": largest,
        "largest_row": rows.loc[largest],
        "errors_per_10000": round((1 - pick["test_accuracy"]) * 10000),
        "item": item,
    }


def render_report(settings: dict, results_dir: str | Path, output: str | Path) -> None:
    results = Path(results_dir)
    table = pd.read_csv(results / "comparison.csv")
    table["label"] = table["label"].fillna("")
    selection = read_json(results / "comparison" / "selection.json")
    data_summary = read_json(results / "data" / "dataset.json")
    experiments = []
    for row in table.to_dict("records"):
        folder = results / "experiments" / row["experiment"]
        experiments.append({
            **row,
            "notebook_link": f"experiments/{row['experiment']}/model_report.html",
            "figures": {title: embed_png(folder / "figures" / f"{key}.png") for key, title in MODEL_FIGURES.items()},
        })
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("mlpstudy", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["percent"] = percent
    environment.filters["points"] = points
    html = environment.get_template("report.html.j2").render(
        table=table.to_dict("records"),
        experiments=experiments,
        selection=selection,
        summary=recommendation(table, selection, data_summary["item"]),
        data=data_summary,
        comparison_figures={
            "Accuracy by width and depth": embed_png(results / "comparison" / "figures" / COMPARISON_FIGURES["width_depth"]),
            "Generalization gap": embed_png(results / "comparison" / "figures" / COMPARISON_FIGURES["gap"]),
            "Accuracy against model size": embed_png(results / "comparison" / "figures" / COMPARISON_FIGURES["params"]),
        },
        data_figures={title: embed_png(results / "data" / "figures" / f"{key}.png") for key, title in DATA_FIGURES.items()},
        settings=settings,
        config_yaml=yaml.safe_dump(settings, sort_keys=False),
        versions=package_versions(),
    )
    write_text(output, html)
