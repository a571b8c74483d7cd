"""Render the study report: one self-contained page, every number read from the results files."""

from __future__ import annotations

import base64
import datetime
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import subprocess
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from mlpstudy.aggregate import SIGNIFICANCE, VERSUS_PICK_COLUMNS
from mlpstudy.corruptions import CORRUPTIONS
from mlpstudy.data import DATASETS, PREPROCESSING, read_summary
from mlpstudy.deploy import check_manifest
from mlpstudy.io import check_file, read_csv, read_json, read_png, reading, write_text
from mlpstudy.refit import read_refits
from mlpstudy.robustness import rank_changes, read_robustness
from mlpstudy.summary import (
    executive_summary,
    p_text,
    pct,
    pp,
    reproduction_rows,
    reproduction_shift,
    reproduction_verdict,
    robustness_sentence,
    seeds_received,
    share,
    signed_pp,
)

PACKAGES = [
    "tensorflow-cpu",
    "keras",
    "ai-edge-litert",
    "numpy",
    "pandas",
    "snakemake",
    "papermill",
    "matplotlib",
    "seaborn",
    "jinja2",
]


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


def markdown_html(path: str | Path) -> str:
    """A Markdown file (the model card) as HTML for the page; raw HTML in it is escaped."""
    import mistune

    with reading(path, "Markdown file"):
        text = Path(path).read_text()
    return mistune.create_markdown(escape=True, plugins=["table"])(text)


def robustness_rows(table: pd.DataFrame) -> list[dict]:
    """The robustness table for the page: one row per setting, each model's accuracy and interval."""
    rows = []
    for (corruption, severity), group in table.groupby(["corruption", "severity"], sort=False):
        rows.append(
            {
                "corruption": CORRUPTIONS.get(corruption, "Clean test images"),
                "setting": group["setting"].iloc[0],
                "models": group.set_index("model")[["accuracy", "low", "high", "role"]].to_dict("index"),
            }
        )
    return rows


def stage_timing(benchmarks: dict[str, list[str]]) -> list[dict]:
    """Per stage (`benchmarks`: stage -> the Snakemake benchmark files of its jobs): number of jobs, summed and
    median job seconds, and the largest peak memory."""
    rows = []
    for stage, paths in benchmarks.items():
        if not paths:
            continue
        jobs = pd.concat([read_csv(path, ("s", "cpu_time", "max_rss"), sep="\t") for path in paths])
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


def render_report(
    settings: dict,
    template: str,
    summary: str,
    comparison: str,
    runs: str,
    selection: str,
    rounds: str,
    versus_pick: str,
    probability_best: str,
    facts: str,
    comparison_figures: dict[str, str],
    data_figures: list[tuple[str, str]],
    model_figures: dict[str, list[tuple[str, str]]],
    model_reports: dict[str, str],
    benchmarks: list[tuple[str, list[str]]],
    refit_benchmarks: list[str],
    card: str,
    robustness: str,
    robustness_figure: str,
    examples_figure: str,
    check: list[str],
    html: str,
    refits: str | None = None,
    deployed: str | None = None,
) -> None:
    """Render the report page `html` with `template` from the study's results: the data `summary`, the
    decision (`selection`; the runs table `runs` is linked), the seeds each experiment received (`rounds`) and its evidence (`comparison`, `versus_pick`,
    `probability_best`, `facts`), the refit table and the deployed model (`refits` and `deployed`, None without
    refits: the deployed model is then the pick's selection run, from `facts`), the figures (comparison
    figures by key; data figures and each experiment's figures as (title, file) pairs in page order), each
    experiment's notebook page (linked), and the job benchmarks as (stage, files) pairs in table order
    (`refit_benchmarks`: the refit runs'), the model card (`card`, Markdown) and the robustness table and figures.
    First it checks every file in `check` (the study's other outputs),
    so that no report is written over a damaged result."""
    for path in check:
        check_file(path)
    check_manifest(Path(card).parent)
    table = read_csv(comparison, ("experiment", "label", "test_accuracy", "val_accuracy"))
    table["label"] = table["label"].fillna("")
    choice = read_json(selection, ("picked",))
    seed_rounds = read_json(rounds, ("policy", "rounds", "seeds", "reason", "cost"))
    facts_json = read_json(facts, ("comparator", "pick", "deployed_without_refit", "calibration", "worst_class"))
    versus_table = read_csv(versus_pick, VERSUS_PICK_COLUMNS)
    deployed_model = (
        read_json(deployed, ("accuracy", "low", "high")) if deployed else facts_json["deployed_without_refit"]
    )
    best_table = read_csv(probability_best, ("experiment", "p_best"))
    data_summary = read_summary(summary)
    page_folder = Path(html).parent

    def link(path):
        return Path(os.path.relpath(path, page_folder)).as_posix()

    experiments = [
        {
            **row,
            "notebook_link": link(model_reports[row["experiment"]]),
            "figures": {title: embed_png(path) for title, path in model_figures[row["experiment"]]},
        }
        for row in table.to_dict("records")
    ]
    refit_table = read_refits(refits) if refits else None
    robustness_table = read_robustness(robustness)
    robustness_words = robustness_sentence(robustness_table, rank_changes(robustness_table))
    source, source_elsewhere = settings["source_study"], None
    # Published numbers for another dataset are no yardstick for this run: say so instead of comparing.
    if source is not None and source["dataset"] != data_summary["dataset"]:
        source, source_elsewhere = None, {**source, "dataset_name": DATASETS[source["dataset"]].name}
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(template).parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["percent"] = pct
    environment.filters["points"] = pp
    environment.filters["share"] = share
    environment.filters["signed_points"] = signed_pp
    environment.filters["p_value"] = lambda value: p_text(value).removeprefix("= ")
    environment.tests["nan"] = lambda value: isinstance(value, float) and math.isnan(value)
    page = environment.get_template(Path(template).name).render(
        table=table.to_dict("records"),
        seed_intervals=int(table["n_seeds"].min()) > 1,  # a t-interval across seeds needs two
        rounds=seed_rounds,
        seeds_received=seeds_received(seed_rounds["seeds"]),
        experiments=experiments,
        selection=choice,
        facts=facts_json,
        summary=[
            *executive_summary(
                table,
                choice,
                versus_table,
                best_table,
                facts_json,
                data_summary["item"],
                deployed_model,
                seed_rounds,
                refit_table,
            ),
            robustness_words,
        ],
        robustness_sentence=robustness_words,
        card=markdown_html(card),
        card_file=link(card),
        bundle_folder=Path(card).parent.as_posix(),
        robustness=robustness_rows(robustness_table),
        robustness_models=list(dict.fromkeys(robustness_table["model"])),
        robustness_file=link(robustness),
        robustness_figures={"accuracy": embed_png(robustness_figure), "examples": embed_png(examples_figure)},
        deployed=deployed_model,
        refits=[]
        if refit_table is None
        else [{**row, "is_pick": row["experiment"] == choice["picked"]} for row in refit_table.to_dict("records")],
        versus=versus_table.to_dict("records"),
        significance=SIGNIFICANCE,
        probability_best_file=link(probability_best),
        runs_file=link(runs),
        rounds_file=link(rounds),
        source=source,
        source_elsewhere=source_elsewhere,
        reproduction=reproduction_rows(table) if source else [],
        reproduction_verdict=reproduction_verdict(table, choice, versus_table, source) if source else "",
        reproduction_shift=reproduction_shift(table) if source else "",
        early_stopped=[spec["name"] for spec in settings["experiments"] if spec["early_stopping"]["enabled"]],
        data=data_summary,
        preprocessing=PREPROCESSING[data_summary["preprocessing"]],
        timing=stage_timing({**dict(benchmarks), "refit": refit_benchmarks}),
        figures={key: embed_png(path) for key, path in comparison_figures.items()},
        data_figures={title: embed_png(path) for title, path in data_figures},
        settings=settings,
        config_yaml=yaml.safe_dump(settings, sort_keys=False),
        versions=package_versions(),
        provenance=provenance(settings),
    )
    write_text(html, page)
