"""End to end: the real Snakemake workflow on the smoke config, in a temporary directory."""

import hashlib
import html
import json
import re
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import (
    HOSTILE,
    REPO,
    SCHEMA,
    assert_same_runs,
    live_markup,
    snakemake,
    write_config,
)

from mlpstudy.config import block_label, load_config, seed_blocks
from mlpstudy.summary import p_text

pytestmark = pytest.mark.e2e


def rule_kind(rule: str) -> str:
    """A rule's name, with every training rule (one per block of seeds: train_seeds0_to_1, train_seed3) as
    "train"."""
    return "train" if re.fullmatch(r"train_seeds?\d.*", rule) else rule


def planned_jobs(result: subprocess.CompletedProcess) -> Counter:
    """Rule name (rule_kind) -> number of jobs in a dry run's plan."""
    return Counter(
        rule_kind(rule)
        for rule in re.findall(
            r"^(?:local)?(?:rule|checkpoint) (\w+):$", result.stdout + result.stderr, flags=re.MULTILINE
        )
    )


def training_jobs(seeds: list[int]) -> int:
    """How many training jobs train one experiment's `seeds` (a list, as the smoke study gives them)."""
    return len(seed_blocks({"adaptive": False, "seeds": seeds}))


# The jobs downstream of any change to the runs: the choice, its evidence, the refit summary, the deploy stage
# and the report.
DEPLOY_STAGE = Counter({"deploy_bundle": 1, "robustness": 1, "model_card": 1, "report": 1, "all": 1})
AFTER_THE_RUNS = Counter({"decide": 1, "evidence": 1, "summarize_refits": 1}) + DEPLOY_STAGE


def test_every_output_is_written(study):
    workdir, config = study
    results = workdir / "results"
    for experiment in config["experiments"]:
        folder = results / "experiments" / experiment["name"]
        for name in ("model.keras", "history.csv", "metrics.json", "predictions.npz"):
            assert (folder / "seed0" / name).stat().st_size > 0
        for name in ("model_report.ipynb", "model_report.html"):
            assert (folder / name).stat().st_size > 0
        figures = len(list((folder / "figures").glob("*.png")))
        assert figures == 5
        assert (folder / "model_report.html").read_text().count('src="data:image/png;base64,') == figures
        log = workdir / "logs" / "train" / experiment["name"] / f"{block_label(config['seeds'])}.log"
        assert log.read_text().count("epoch 1/1") == len(config["seeds"])
    for name in (
        "report.html",
        "comparison.csv",
        "data/data_overview.html",
        "comparison/selection.json",
        "refit/refit.csv",
    ):
        assert (results / name).stat().st_size > 0
    for seed in config["seeds"]:
        for name in ("model.keras", "history.csv", "metrics.json", "predictions.npz"):
            assert (results / "refit" / config["ceiling"] / f"seed{seed}" / name).stat().st_size > 0
        assert "epoch 1/1" in (workdir / "logs" / "refit" / config["ceiling"] / f"seed{seed}.log").read_text()
    executed = json.loads((results / "experiments" / "mlp_64x1" / "model_report.ipynb").read_text())
    assert any(cell.get("outputs") for cell in executed["cells"] if cell["cell_type"] == "code")
    assert not list(results.rglob("*.partial*")), "temporary files left behind"


@pytest.mark.parametrize("cores", [1, 4])
def test_training_gives_bitwise_the_same_runs_at_any_core_count(study, tmp_path, cores):
    """The session's study ran with --cores 2; every training run again with --cores 1 (one job at a time) and
    --cores 4 (four jobs on this machine's cores) gives the same metrics and predictions, bit for bit."""
    local, config = study
    write_config(tmp_path, config)
    runs = [("experiments", experiment["name"]) for experiment in config["experiments"]]
    targets = [f"results/{stage}/{name}/seed{seed}/metrics.json" for stage, name in runs for seed in config["seeds"]]
    snakemake(tmp_path, *targets, "--cores", str(cores))
    assert_same_runs(tmp_path, local, runs, config["seeds"])


def job_events(workdir: Path) -> list[tuple[str, str]]:
    """("start" or "end", "rule experiment") for every job of the first Snakemake run in `workdir`, in order
    (rule as rule_kind gives it)."""
    log = min((workdir / ".snakemake" / "log").glob("*.snakemake.log")).read_text()
    names, events = {}, []
    pattern = (
        r"^(?:local)?(?:rule|checkpoint) (\w+):\n(?:    (?!jobid).*\n)*    jobid: (\d+)\n(?:    (?!wildcards).*\n)*"
        r"(?:    wildcards: experiment=([^,\n]+).*\n)?|^Finished jobid: (\d+)"
    )
    for rule, jobid, experiment, finished in re.findall(pattern, log, flags=re.MULTILINE):
        if finished:
            events.append(("end", names[finished]))
        else:
            names[jobid] = f"{rule_kind(rule)} {experiment}".strip()
            events.append(("start", names[jobid]))
    return events


def started_jobs(workdir: Path) -> list[str]:
    """'rule experiment' for every job of the first Snakemake run in `workdir`, in the order it started them."""
    return [job for event, job in job_events(workdir) if event == "start"]


def test_largest_runs_start_first_and_the_ceiling_refits_start_when_its_runs_end(study):
    local, config = study
    events = job_events(local)
    ceiling = config["ceiling"]
    # The first training jobs start together, one per core (in the log, in no particular order): the smoke
    # study's ceiling is its largest net, softmax regression its smallest.
    first_end = next(i for i, (event, job) in enumerate(events) if event == "end" and job.startswith("train "))
    first = [job for event, job in events[:first_end] if event == "start" and job.startswith("train ")]
    assert f"train {ceiling}" in first and "train softmax_regression" not in first
    # Its refit runs outrank every training run left: once its training job ends, no training job starts before
    # its refit runs.
    after = [job for event, job in events[events.index(("end", f"train {ceiling}")) :] if event == "start"]
    assert after.index(f"refit {ceiling}") < min(
        [after.index(job) for job in after if job.startswith("train ")], default=len(after)
    )


def test_robustness_outranks_the_model_pages(study):
    """The longest job left once the pick is known starts before the model pages, so that the study does not end
    with it alone on one core. (Which of a dry run's jobs it lists first is not the scheduler's choice, so the
    rule's priority is read from the plan.)"""
    local, _ = study
    result = snakemake(local, "--dry-run", "--forcerun", "robustness", "model_report")
    jobs = re.findall(r"^(?:local)?rule (\w+):\n((?:    .*\n)*)", result.stdout, flags=re.MULTILINE)
    priority = {
        rule: float(re.search(r"priority: (\S+)", body)[1]) if "priority:" in body else 0.0 for rule, body in jobs
    }
    assert [rule for rule, _ in jobs].count("model_report") == 3
    assert priority["robustness"] > priority["model_report"]


def test_numbers_agree_across_metrics_table_and_report(study):
    workdir, config = study
    results = workdir / "results"
    table = pd.read_csv(results / "comparison.csv").set_index("experiment")
    assert list(table.index) == [e["name"] for e in config["experiments"]]
    report = (results / "report.html").read_text()
    for name in table.index:
        runs = pd.DataFrame(
            [
                json.loads((results / "experiments" / name / f"seed{seed}" / "metrics.json").read_text())
                for seed in config["seeds"]
            ]
        )
        for column in (
            "train_accuracy",
            "val_accuracy",
            "test_accuracy",
            "params",
            "train_seconds",
            "latency_ms_single",
            "generalization_gap",
        ):
            assert table.loc[name, column] == pytest.approx(runs[column].mean(), rel=1e-12)
        assert table.loc[name, "test_accuracy_sd"] == pytest.approx(runs["test_accuracy"].std(ddof=1))
        assert f">{name}</a>" in report
        assert f"{runs['val_accuracy'].mean() * 100:.2f}%" in report
        assert f"{runs['test_accuracy'].mean() * 100:.2f}%" in report
    selection = json.loads((results / "comparison" / "selection.json").read_text())
    assert selection["picked"] in table.index and bool(table.loc[selection["picked"], "recommended"])
    assert f"We recommend {selection['picked']} (" in report
    versus = pd.read_csv(results / "comparison" / "versus_pick.csv")
    assert sorted(versus["experiment"]) == sorted(set(table.index) - {selection["picked"]})
    for row in versus.itertuples():
        assert f'{p_text(row.p_holm).removeprefix("= ")}</td><td class="text">{row.verdict}</td>' in report
        assert f"{row.difference * 100:+.2f} pp" in report
    for name, row in table.iterrows():
        if row["test_expected_informative"]:
            assert f"[{row['test_expected_low'] * 100:.2f}%, {row['test_expected_high'] * 100:.2f}%]" in report


def test_refit_runs_use_all_training_images_and_reach_the_summary(study):
    workdir, config = study
    results = workdir / "results"
    data = json.loads((results / "data" / "dataset.json").read_text())
    pick = json.loads((results / "comparison" / "selection.json").read_text())["picked"]
    refits = pd.read_csv(results / "refit" / "refit.csv").set_index("experiment")
    assert list(refits.index) == list(dict.fromkeys([pick, config["ceiling"]]))
    report = (results / "report.html").read_text()
    for name, row in refits.iterrows():
        runs = pd.DataFrame(
            [
                json.loads((results / "refit" / name / f"seed{seed}" / "metrics.json").read_text())
                for seed in config["seeds"]
            ]
        )
        assert (runs["train_images"] == data["n_train"] + data["n_val"]).all()
        assert row["test_accuracy"] == pytest.approx(runs["test_accuracy"].mean(), rel=1e-12)
        selection_runs = pd.DataFrame(
            [
                json.loads((results / "experiments" / name / f"seed{seed}" / "metrics.json").read_text())
                for seed in config["seeds"]
            ]
        )
        assert row["gain"] == pytest.approx(runs["test_accuracy"].mean() - selection_runs["test_accuracy"].mean())
        assert f"{row['test_accuracy'] * 100:.2f}%" in report and f"{row['gain'] * 100:+.2f} pp" in report
    # The headline is the deployed file: the pick's refit run of the first seed, with its Wilson interval.
    deployed = json.loads((results / "refit" / "deployed.json").read_text())
    shipped = json.loads((results / "refit" / pick / f"seed{config['seeds'][0]}" / "metrics.json").read_text())
    assert deployed["seeds"] == [config["seeds"][0]] and deployed["accuracy"] == pytest.approx(shipped["test_accuracy"])
    assert (
        f"The model to ship is one model, seed {config['seeds'][0]}, trained on {data['n_train'] + data['n_val']:,} "
        f"images: it reads {shipped['test_accuracy'] * 100:.2f}% of {data['n_test']:,} test"
    ) in report
    assert f"(95% CI {deployed['low'] * 100:.2f}%–{deployed['high'] * 100:.2f}%; this file is fixed" in report


def test_report_is_self_contained(study):
    report = (study[0] / "results" / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", report), "report references the network"
    assert "<script" not in report and "@import" not in report
    assert report.count('src="data:image/png;base64,') == 3 * 5 + 3 + 9 + 2  # + the robustness figures


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
    assert {"report.html", "comparison.csv", "versus_pick.csv"} <= set(names)
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
        seeds = training_jobs(config["seeds"])
        plan = planned_jobs(snakemake(workdir, "--dry-run"))
        assert plan == Counter({"train": seeds, "model_report": 1}) + AFTER_THE_RUNS
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
        assert plan == Counter({"train": training_jobs(config["seeds"]), "model_report": 1}) + AFTER_THE_RUNS
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
        assert plan == AFTER_THE_RUNS
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
    assert refits[["experiment", "role"]].values.tolist() == [
        ["softmax_regression", "pick"],
        [config["ceiling"], "ceiling"],
    ]
    assert f"The accuracy ceiling, {config['ceiling']}, retrained the same way reaches" in report


def test_deploying_the_ensemble_changes_headline_and_comparisons_without_retraining(study):
    workdir, config = up_to_date(study)
    write_config(workdir, {**json.loads(json.dumps(config)), "deploy": "ensemble"})
    try:
        plan = planned_jobs(snakemake(workdir, "--dry-run"))
        assert plan == Counter({"evidence": 1, "summarize_refits": 1}) + DEPLOY_STAGE
        snakemake(workdir)
        results = workdir / "results"
        deployed = json.loads((results / "refit" / "deployed.json").read_text())
        bundle = json.loads((results / "deploy" / "bundle.json").read_text())
        versus = pd.read_csv(results / "comparison" / "versus_pick.csv")
        report = (results / "report.html").read_text()
    finally:
        write_config(workdir, config)
    assert deployed["deploy"] == "ensemble" and deployed["seeds"] == config["seeds"]
    # The bundle ships the ensemble as one model, and it measures what the refit summary computed.
    assert (bundle["deploy"], bundle["seeds"]) == ("ensemble", config["seeds"])
    assert abs(bundle["formats"]["keras"]["accuracy"] - deployed["accuracy"]) <= max(0.0005, 1.5 / 1000)
    assert (versus["deploy"] == "ensemble").all()
    assert f"The model to ship is the ensemble of its {len(config['seeds'])} seeds" in report
    assert "seed-ensemble test accuracy (McNemar mid-p)" in report
    snakemake(workdir)  # back to the single model, as the other tests expect


def comparable(path: Path):
    """A result's content as a rerun must reproduce it: the bytes, but for the measured times in a table."""
    if path.suffix == ".npz":
        with np.load(path) as npz:
            return {name: npz[name].tobytes() for name in npz.files}
    if path.suffix in (".csv", ".tsv"):
        table = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")
        return table.drop(
            columns=[
                c
                for c in table.columns
                if "seconds" in c or c in ("s", "h:m:s", "cpu_time") or c.startswith(("max_", "io_", "mean_"))
            ]
        ).to_dict("list")
    return path.read_bytes()


def up_to_date(study):
    """The shared study's folder, after a run that brings it in line with its config (tests above change it)."""
    workdir, config = study
    snakemake(workdir)
    return workdir, config


def test_deleted_results_are_rebuilt_exactly_by_a_plain_rerun(study):
    workdir, config = up_to_date(study)
    results = workdir / "results"
    pick = json.loads((results / "comparison" / "selection.json").read_text())["picked"]
    other = next(e["name"] for e in config["experiments"] if e["name"] not in (pick, config["ceiling"]))
    figure_of = next(e["name"] for e in config["experiments"] if e["name"] != other)
    deleted = [
        results / "experiments" / other / "seed1" / "predictions.npz",
        results / "experiments" / figure_of / "figures" / "confusion_matrix.png",
        results / "benchmarks" / "model_report" / f"{figure_of}.tsv",
        results / "data" / "data_overview.html",
        results / "comparison" / "versus_pick.csv",
        results / "comparison" / "figures" / "confidence_intervals.png",
        results / "refit" / config["ceiling"] / "seed0" / "history.csv",
        results / "refit" / "refit.csv",
    ]
    before = {path: comparable(path) for path in deleted}
    for path in deleted:
        path.unlink()
    plan = planned_jobs(snakemake(workdir, "--dry-run"))
    assert plan == Counter({"train": 1, "model_report": 2, "data_overview": 1, "refit": 1}) + AFTER_THE_RUNS
    snakemake(workdir)
    for path in deleted:
        assert comparable(path) == before[path], f"{path} was rebuilt differently"
    assert "Nothing to be done" in snakemake(workdir, "--dry-run").stdout


def test_the_readme_command_for_one_experiment_rebuilds_a_deleted_run_file_and_nothing_else(study):
    workdir, _ = up_to_date(study)
    run = workdir / "results" / "experiments" / "mlp_64x1" / "seed0"
    before = comparable(run / "predictions.npz")
    (run / "metrics.json").unlink()
    refresh = ["results/experiments/mlp_64x1/model_report.html", "--forcerun", "model_report"]  # README
    assert planned_jobs(snakemake(workdir, "--dry-run", *refresh)) == Counter({"train": 1, "model_report": 1})
    snakemake(workdir, *refresh)
    assert json.loads((run / "metrics.json").read_text())["seed"] == 0 and comparable(run / "predictions.npz") == before
    assert planned_jobs(snakemake(workdir, "--dry-run")) == AFTER_THE_RUNS
    snakemake(workdir)


def test_a_damaged_result_is_named_in_one_line_and_rebuilt_by_the_command_given(study):
    workdir, _ = up_to_date(study)
    results = workdir / "results"
    report_before = (results / "report.html").read_bytes()
    damaged = Path("results/experiments/mlp_64x1/seed1/predictions.npz")
    intact = comparable(workdir / damaged)
    (workdir / damaged).write_bytes((workdir / damaged).read_bytes()[:100])
    result = snakemake(workdir, "--forcerun", "evidence", check=False)
    console = result.stdout + result.stderr
    assert result.returncode == 1
    rebuild = f"snakemake --cores 2 --forcerun {damaged}"
    # decide is the first step to read it (the validation predictions), so it is the one that stops.
    errors = [line for line in console.splitlines() if line.startswith("mlpstudy decide: error:")]
    assert errors == [
        (
            f"mlpstudy decide: error: {damaged} is damaged: not a readable .npz archive (BadZipFile: "
            f"File is not a zip file). Rebuild it and everything that depends on it: {rebuild} (with this "
            "run's other options, e.g. --configfile)"
        )
    ]
    assert "Traceback" not in console.split("Error in rule decide")[1].split("Error in rule")[0]
    assert re.search(
        r"The study did not finish: results/report\.html is from the previous successful run "
        r"\(written [^)]+\) and does not show this run's changes",
        console,
    )
    assert (results / "report.html").read_bytes() == report_before
    # The command the message gives, with this run's options (the test's own: --configfile, --directory).
    snakemake(workdir, *rebuild.split()[3:])
    assert comparable(workdir / damaged) == intact
    assert "Nothing to be done" in snakemake(workdir, "--dry-run").stdout


def test_a_damaged_model_is_named_on_a_plain_rerun(study):
    workdir, _ = up_to_date(study)
    model = Path("results/experiments/softmax_regression/seed0/model.keras")
    (workdir / model).write_bytes((workdir / model).read_bytes()[:2000])
    result = snakemake(workdir, check=False)
    assert result.returncode == 1
    # The robustness stage loads every evaluated experiment's models (the smoke study's three).
    assert (
        f"mlpstudy robustness: error: {model} is damaged: not a readable .keras archive (BadZipFile: File is not a "
        f"zip file). Rebuild it and everything that depends on it: snakemake --cores 2 --forcerun {model}"
    ) in result.stdout + result.stderr
    snakemake(workdir, "--forcerun", str(model))
    assert zipfile.ZipFile(workdir / model).testzip() is None
    assert "Nothing to be done" in snakemake(workdir, "--dry-run").stdout
    # A file that no step parses: the report checks every file it vouches for before it writes a page.
    page = Path("results/experiments/mlp_64x1/model_report.html")
    (workdir / page).write_text((workdir / page).read_text()[:5000])
    result = snakemake(workdir, check=False)
    assert result.returncode == 1
    assert f"mlpstudy report: error: {page} is damaged: the page ends before </html>" in result.stdout + result.stderr
    snakemake(workdir, "--forcerun", str(page))
    assert "Nothing to be done" in snakemake(workdir, "--dry-run").stdout


def test_report_says_when_and_from_which_config_and_code_it_was_made(study):
    workdir, _ = up_to_date(study)
    report = (workdir / "results" / "report.html").read_text()
    resolved = load_config(workdir / "config.yaml", SCHEMA)
    config_hash = hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:16]
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], check=False, capture_output=True, text=True
    ).stdout
    assert re.search(
        rf"Generated \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC from the configuration with SHA-256 "
        rf"{config_hash}&hellip; \(printed in full at the end\) and code git commit {commit[:12]}, "
        r"(with|no) uncommitted changes\.",
        report,
    )


def test_yaml_syntax_error_in_the_default_config_names_file_line_and_column(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("seeds: [0, 1\nexperiments: []\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--cores",
            "1",
            "--dry-run",
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    console = result.stdout + result.stderr
    assert "Invalid configuration: config/config.yaml, line 2, column 12: YAML syntax error: " in console


def test_bad_data_is_named_on_the_console_in_one_line(tmp_path, mnist_path):
    with np.load(mnist_path) as npz:
        arrays = {name: npz[name] for name in npz.files}
    np.savez(tmp_path / "floats.npz", **{**arrays, "x_test": arrays["x_test"].astype(np.float64)})
    config = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    write_config(tmp_path, {**config, "data_path": str(tmp_path / "floats.npz")})
    result = snakemake(tmp_path, check=False)
    console = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in console
    assert (
        f"mlpstudy prepare-data: error: {tmp_path / 'floats.npz'}: mnist array x_test has dtype float64, expected uint8"
    ) in console.splitlines()
    assert "The study did not finish, and there is no results/report.html." in console


@pytest.fixture(scope="module")
def hostile_study(tmp_path_factory, mnist_path):
    """A tiny study whose every free text, the data path included, is a script or a broken-out attribute."""
    workdir = tmp_path_factory.mktemp("hostile")
    data_dir = workdir / HOSTILE["attribute"]
    data_dir.mkdir()
    (data_dir / "mnist.npz").symlink_to(mnist_path)
    config = {
        "data_path": str(data_dir / "mnist.npz"),
        "train_images": 1000,
        "test_images": 500,
        "seeds": [0],
        "ceiling": None,
        "refit": False,
        "defaults": {"epochs": 1},
        "source_study": {"title": HOSTILE["script"], "reason": HOSTILE["breakout"], "pick": "mlp_8x1"},
        "experiments": [
            {
                "name": "softmax_regression",
                "hidden_layers": [],
                "label": HOSTILE["script"],
                "description": HOSTILE["breakout"],
            },
            {
                "name": "mlp_8x1",
                "hidden_layers": [8],
                "label": HOSTILE["attribute"],
                "description": HOSTILE["attribute"] + HOSTILE["script"],
                "published_test_accuracy": 0.9,
            },
        ],
    }
    write_config(workdir, config)
    snakemake(workdir)
    snakemake(workdir, "--report", str(workdir / "snakemake_report.zip"))
    return workdir


def test_config_text_is_escaped_in_every_page(hostile_study):
    results = hostile_study / "results"
    pages = {str(path.relative_to(hostile_study)): path.read_text() for path in results.rglob("*.html")}
    with zipfile.ZipFile(hostile_study / "snakemake_report.zip") as bundle:
        pages.update({name: bundle.read(name).decode() for name in bundle.namelist() if name.endswith(".html")})
    assert {
        "results/report.html",
        "results/data/data_overview.html",
        "results/experiments/mlp_8x1/model_report.html",
        "snakemake_report/report.html",
    } <= set(pages)
    for name, page in pages.items():
        assert live_markup(page) == [], f"{name} runs config text"
    shown = {
        "results/report.html": ["script", "attribute", "breakout"],
        "results/experiments/softmax_regression/model_report.html": ["script", "breakout"],
        "results/experiments/mlp_8x1/model_report.html": ["script", "attribute"],
        "results/data/data_overview.html": ["attribute"],
    }
    for name, kinds in shown.items():
        for kind in kinds:  # shown as the text it is
            assert HOSTILE[kind] in html.unescape(pages[name]), f"{name} does not show {HOSTILE[kind]}"
