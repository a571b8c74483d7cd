"""End to end: the real Snakemake workflow on the smoke config, in a temporary directory."""

import json
import re
import subprocess
import zipfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import snakemake, write_config
from mlpstudy.layout import MODEL_FIGURES

pytestmark = pytest.mark.e2e


def planned_jobs(result: subprocess.CompletedProcess) -> Counter:
    """Rule name -> number of jobs in a dry run's plan."""
    return Counter(re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", result.stdout + result.stderr, flags=re.MULTILINE))


def test_every_output_is_written(study):
    workdir, config = study
    results = workdir / "results"
    for experiment in config["experiments"]:
        folder = results / "experiments" / experiment["name"]
        for name in ("model.keras", "history.csv", "metrics.json", "predictions.npz"):
            assert (folder / "seed0" / name).stat().st_size > 0
        for name in ("model_report.ipynb", "model_report.html"):
            assert (folder / name).stat().st_size > 0
        assert (folder / "model_report.html").read_text().count('src="data:image/png;base64,') == len(MODEL_FIGURES)
        assert len(list((folder / "figures").glob("*.png"))) == 5
        assert "epoch 1/1" in (workdir / "logs" / "train" / experiment["name"] / "seed0.log").read_text()
    for name in ("report.html", "comparison.csv", "data/data_overview.html", "comparison/selection.json",
                 "refit/refit.csv"):
        assert (results / name).stat().st_size > 0
    for seed in config["seeds"]:
        for name in ("model.keras", "history.csv", "metrics.json", "predictions.npz"):
            assert (results / "refit" / config["ceiling"] / f"seed{seed}" / name).stat().st_size > 0
        assert "epoch 1/1" in (workdir / "logs" / "refit" / config["ceiling"] / f"seed{seed}.log").read_text()
    executed = json.loads((results / "experiments" / "mlp_64x1" / "model_report.ipynb").read_text())
    assert any(cell.get("outputs") for cell in executed["cells"] if cell["cell_type"] == "code")
    assert not list(results.rglob("*.partial*")), "temporary files left behind"


def test_numbers_agree_across_metrics_table_and_report(study):
    workdir, config = study
    results = workdir / "results"
    table = pd.read_csv(results / "comparison.csv").set_index("experiment")
    assert list(table.index) == [e["name"] for e in config["experiments"]]
    report = (results / "report.html").read_text()
    for name in table.index:
        runs = pd.DataFrame([
            json.loads((results / "experiments" / name / f"seed{seed}" / "metrics.json").read_text())
            for seed in config["seeds"]
        ])
        for column in ("train_accuracy", "val_accuracy", "test_accuracy", "params", "train_seconds",
                       "latency_ms_single", "generalization_gap"):
            assert table.loc[name, column] == pytest.approx(runs[column].mean(), rel=1e-12)
        assert table.loc[name, "test_accuracy_sd"] == pytest.approx(runs["test_accuracy"].std(ddof=1))
        assert f">{name}</a>" in report
        assert f"{runs['val_accuracy'].mean() * 100:.2f}%" in report
        assert f"{runs['test_accuracy'].mean() * 100:.2f}%" in report
    selection = json.loads((results / "comparison" / "selection.json").read_text())
    assert selection["picked"] in table.index and bool(table.loc[selection["picked"], "recommended"])
    assert f"We recommend {selection['picked']} (" in report
    mcnemar = pd.read_csv(results / "comparison" / "mcnemar.csv")
    assert sorted(mcnemar["experiment"]) == sorted(set(table.index) - {selection["picked"]})
    for row in mcnemar.itertuples():
        assert f"{row.p_holm:.3g}" in report


def test_refit_runs_use_all_training_images_and_reach_the_summary(study):
    workdir, config = study
    results = workdir / "results"
    data = json.loads((results / "data" / "dataset.json").read_text())
    pick = json.loads((results / "comparison" / "selection.json").read_text())["picked"]
    refits = pd.read_csv(results / "refit" / "refit.csv").set_index("experiment")
    assert list(refits.index) == list(dict.fromkeys([pick, config["ceiling"]]))
    report = (results / "report.html").read_text()
    for name, row in refits.iterrows():
        runs = pd.DataFrame([
            json.loads((results / "refit" / name / f"seed{seed}" / "metrics.json").read_text()) for seed in config["seeds"]
        ])
        assert (runs["train_images"] == data["n_train"] + data["n_val"]).all()
        assert row["test_accuracy"] == pytest.approx(runs["test_accuracy"].mean(), rel=1e-12)
        selection_runs = pd.DataFrame([
            json.loads((results / "experiments" / name / f"seed{seed}" / "metrics.json").read_text())
            for seed in config["seeds"]
        ])
        assert row["gain"] == pytest.approx(runs["test_accuracy"].mean() - selection_runs["test_accuracy"].mean())
        assert f"{row['test_accuracy'] * 100:.2f}%" in report and f"{row['gain'] * 100:.2f} pp" in report
    deployable = refits.loc[pick]
    assert (f"Retrained on all {data['n_train'] + data['n_val']:,} training images (the comparison trained on "
            f"{data['n_train']:,} and kept the rest for validation), as it would be deployed, the recommended model reads "
            f"{deployable['test_accuracy'] * 100:.2f}% (95% CI {deployable['test_accuracy_ci_low'] * 100:.2f}%") in report


def test_report_is_self_contained(study):
    report = (study[0] / "results" / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", report), "report references the network"
    assert "<script" not in report and "@import" not in report
    assert report.count('src="data:image/png;base64,') == 3 * 5 + 3 + 8


def test_snakemake_report_holds_every_figure_and_our_report(study):
    workdir, config = study
    archive = workdir / "snakemake_report.zip"
    snakemake(workdir, "--report", str(archive))
    with zipfile.ZipFile(archive) as bundle:
        names = [Path(name).name for name in bundle.namelist()]
        index = bundle.read(f"{archive.stem}/report.html").decode()
    figures = sorted(p.name for p in (workdir / "results").rglob("figures/*.png"))
    assert sorted(name for name in names if name.endswith(".png")) == figures
    assert names.count("model_report.html") == len(config["experiments"])
    assert {"report.html", "comparison.csv", "mcnemar.csv"} <= set(names)
    for category in ("Data", "Experiments", "Comparison", "Recommendation"):
        assert category in index
    for experiment in config["experiments"]:
        assert experiment["name"] in index


def test_rerun_has_nothing_to_do(study):
    workdir, _ = study
    result = snakemake(workdir, "--dry-run")
    assert "Nothing to be done" in result.stdout + result.stderr
    result = snakemake(workdir, "--dry-run", "results/experiments/mlp_64x1/model_report.html")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_editing_one_experiment_reruns_only_it_and_the_summary(study):
    workdir, config = study
    edited = json.loads(json.dumps(config))
    edited["experiments"][1]["hidden_layers"] = [48]
    write_config(workdir, edited)
    try:
        seeds = len(config["seeds"])
        plan = planned_jobs(snakemake(workdir, "--dry-run"))
        assert plan == Counter(
            {"train": seeds, "model_report": 1, "aggregate": 1, "summarize_refits": 1, "report": 1, "all": 1}
        )
        plan = planned_jobs(snakemake(workdir, "--dry-run", "results/experiments/mlp_64x1/model_report.html"))
        assert plan == Counter({"train": seeds, "model_report": 1})
    finally:
        write_config(workdir, config)
    assert "Nothing to be done" in snakemake(workdir, "--dry-run").stdout


def test_invalid_config_fails_before_any_job(study):
    workdir, config = study
    before = {p: p.stat().st_mtime_ns for p in (workdir / "results").rglob("*") if p.is_file()}
    broken = json.loads(json.dumps(config))
    broken["experiments"][0]["activation"] = "relu6"
    write_config(workdir, broken)
    try:
        result = snakemake(workdir, check=False)
    finally:
        write_config(workdir, config)
    assert result.returncode != 0
    assert "experiments[0].activation: 'relu6' is not allowed" in result.stdout + result.stderr
    after = {p: p.stat().st_mtime_ns for p in (workdir / "results").rglob("*") if p.is_file()}
    assert after == before


def test_new_experiment_from_config_alone_reaches_table_and_report(study):
    workdir, config = study
    old_metrics = workdir / "results" / "experiments" / "mlp_64x1" / "seed0" / "metrics.json"
    old_mtime = old_metrics.stat().st_mtime_ns
    extended = json.loads(json.dumps(config))
    extended["experiments"].append(
        {"name": "tanh_32x1", "hidden_layers": [32], "activation": "tanh", "description": "A <b>new</b> net & more."}
    )
    write_config(workdir, extended)
    try:
        plan = planned_jobs(snakemake(workdir, "--dry-run"))
        assert plan == Counter({"train": len(config["seeds"]), "model_report": 1, "aggregate": 1,
                                "summarize_refits": 1, "report": 1, "all": 1})
        snakemake(workdir)
        table = pd.read_csv(workdir / "results" / "comparison.csv")
        assert "tanh_32x1" in set(table["experiment"])
        report = (workdir / "results" / "report.html").read_text()
        assert ">tanh_32x1</a>" in report
        assert "A &lt;b&gt;new&lt;/b&gt; net &amp; more." in report and "<b>new</b>" not in report
        assert old_metrics.stat().st_mtime_ns == old_mtime, "an unchanged experiment was retrained"
    finally:
        write_config(workdir, config)


def test_changing_the_selection_rule_changes_pick_and_summary_without_retraining(study):
    workdir, config = study
    before = json.loads((workdir / "results" / "comparison" / "selection.json").read_text())["picked"]
    # A tolerance that ties every experiment: the cheapest (fewest parameters) must win.
    relaxed = {**json.loads(json.dumps(config)), "selection": {"rule": "tolerance", "tolerance": 1.0}}
    write_config(workdir, relaxed)
    try:
        plan = planned_jobs(snakemake(workdir, "--dry-run"))
        assert plan == Counter({"aggregate": 1, "summarize_refits": 1, "report": 1, "all": 1})
        snakemake(workdir)
        selection = json.loads((workdir / "results" / "comparison" / "selection.json").read_text())
        report = (workdir / "results" / "report.html").read_text()
        refits = pd.read_csv(workdir / "results" / "refit" / "refit.csv")
    finally:
        write_config(workdir, config)
    assert selection["picked"] == "softmax_regression" != before
    assert "We recommend softmax_regression (" in report
    assert "within 100 percentage points of the best" in report
    # The new pick is refit once the checkpoint has chosen it; the ceiling's refit runs are kept.
    assert refits[["experiment", "role"]].values.tolist() == [["softmax_regression", "pick"],
                                                              [config["ceiling"], "ceiling"]]
    assert f"the accuracy ceiling, {config['ceiling']}, retrained the same way reads" in report
