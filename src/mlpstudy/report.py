"""Render results/report.html: one self-contained page, every number read from the results files."""

from __future__ import annotations

import base64
import datetime
import hashlib
import importlib.metadata
import json
import math
import platform
import subprocess
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from mlpstudy.aggregate import read_comparison
from mlpstudy.data import DATASETS, read_summary
from mlpstudy.io import check_file, read_csv, read_png, write_text
from mlpstudy.layout import COMPARISON_FIGURES, DATA_FIGURES, MODEL_FIGURES
from mlpstudy.refit import read_refits
from mlpstudy.summary import executive_summary, pct, pp, reproduction_verdict, share

PACKAGES = ["tensorflow-cpu", "keras", "numpy", "pandas", "snakemake", "papermill", "matplotlib", "seaborn", "jinja2"]


def embed_png(path: str | Path) -> str:
    """A data URI, so the page needs no other file."""
    return "data:image/png;base64," + base64.b64encode(read_png(path)).decode("ascii")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def code_version() -> str:
    """The git commit of this package's checkout, and whether files differ from it."""
    folder = Path(__file__).resolve().parent

    def git(*args):
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        changed = git("status", "--porcelain").strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (mlpstudy is not running from a git checkout)"
    return f"git commit {commit[:12]}" + (", with uncommitted changes" if changed else ", no uncommitted changes")


def provenance(settings: dict) -> dict:
    """When the report was made, from which resolved configuration (its SHA-256) and which code."""
    return {
        "generated": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "config_sha256": hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16],
        "code": code_version(),
    }


STAGES = ["prepare_data", "train", "data_overview", "model_report", "aggregate", "refit"]


def stage_timing(results: Path) -> list[dict]:
    """Per stage: number of jobs, summed and median job seconds, and the largest peak memory, from the
    benchmark files Snakemake wrote for every job."""
    rows = []
    for stage in STAGES:
        paths = [results / "benchmarks" / f"{stage}.tsv", *sorted((results / "benchmarks" / stage).rglob("*.tsv"))]
        frames = [read_csv(path, ("s", "cpu_time", "max_rss"), sep="\t") for path in paths if path.is_file()]
        if not frames:
            continue
        jobs = pd.concat(frames)
        rows.append(
            {
                "stage": stage,
                "jobs": len(jobs),
                "total_seconds": float(jobs["s"].sum()),
                "median_seconds": float(jobs["s"].median()),
                "cpu_seconds": float(pd.to_numeric(jobs["cpu_time"], errors="coerce").sum()),
                "max_rss_mb": float(pd.to_numeric(jobs["max_rss"], errors="coerce").max()),
            }
        )
    return rows


def render_report(settings: dict, results_dir: str | Path, output: str | Path, checked=()) -> None:
    """Render the report from the results in `results_dir`, after checking every file in `checked` (the study's
    other outputs), so that no report is written over a damaged result."""
    for path in checked:
        check_file(path)
    results = Path(results_dir)
    comparison = read_comparison(results)
    table, selection, facts = comparison["table"], comparison["selection"], comparison["facts"]
    data_summary = read_summary(results / "data" / "dataset.json")
    experiments = []
    for row in table.to_dict("records"):
        folder = results / "experiments" / row["experiment"]
        experiments.append(
            {
                **row,
                "notebook_link": f"experiments/{row['experiment']}/model_report.html",
                "figures": {
                    title: embed_png(folder / "figures" / f"{key}.png") for key, title in MODEL_FIGURES.items()
                },
            }
        )
    refits = read_refits(results / "refit" / "refit.csv") if settings["refit"] else None
    source, source_elsewhere = settings["source_study"], None
    # Published numbers for another dataset are no yardstick for this run: say so instead of comparing.
    if source is not None and source["dataset"] != data_summary["dataset"]:
        source, source_elsewhere = None, {**source, "dataset_name": DATASETS[source["dataset"]].name}
    figures = results / "comparison" / "figures"
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("mlpstudy", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["percent"] = pct
    environment.filters["points"] = pp
    environment.filters["share"] = share
    environment.tests["nan"] = lambda value: isinstance(value, float) and math.isnan(value)
    rows = table.set_index("experiment", drop=False)
    html = environment.get_template("report.html.j2").render(
        table=table.to_dict("records"),
        pick=rows.loc[selection["picked"]].to_dict(),
        most_accurate=rows.loc[facts["most_accurate"]].to_dict(),
        experiments=experiments,
        selection=selection,
        facts=facts,
        summary=executive_summary(
            table, selection, comparison["mcnemar"], comparison["probability_best"], facts, data_summary["item"], refits
        ),
        refits=[] if refits is None else refits.to_dict("records"),
        mcnemar=comparison["mcnemar"].to_dict("records"),
        probability_best=comparison["probability_best"].sort_values("p_best", ascending=False).to_dict("records"),
        source=source,
        source_elsewhere=source_elsewhere,
        reproduction=table.dropna(subset=["published_test_accuracy"]).to_dict("records") if source else [],
        reproduction_verdict=reproduction_verdict(table, selection, comparison["mcnemar"], source) if source else "",
        data=data_summary,
        timing=stage_timing(results),
        figures={key: embed_png(figures / name) for key, name in COMPARISON_FIGURES.items()},
        data_figures={
            title: embed_png(results / "data" / "figures" / f"{key}.png") for key, title in DATA_FIGURES.items()
        },
        settings=settings,
        config_yaml=yaml.safe_dump(settings, sort_keys=False),
        versions=package_versions(),
        provenance=provenance(settings),
    )
    write_text(output, html)
