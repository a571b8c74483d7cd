"""End to end: an adaptive seed policy's rounds in the real workflow, on a crafted close race."""

import html
import json
import shutil

import pandas as pd
import pytest
import yaml
from conftest import executed_jobs, snakemake

from mlpstudy.summary import share

pytestmark = pytest.mark.e2e


def rounds_of(workdir):
    return json.loads((workdir / "results" / "comparison" / "rounds.json").read_text())


def run_folders(workdir, stage="experiments"):
    return {
        (folder.parent.name, int(folder.name.removeprefix("seed")))
        for folder in (workdir / "results" / stage).glob("*/seed*")
    }


def test_rounds_give_seeds_to_the_close_race_only(adaptive_study):
    workdir, _ = adaptive_study
    rounds = rounds_of(workdir)
    first = rounds["rounds"][0]
    assert set(first["contention"]) == {"close_a", "close_b"}
    assert set(first["retired"]) == {"hopeless"}
    assert first["added"] == {"close_a": [2, 3], "close_b": [2, 3]}
    # The race is still open at max (4 seeds): the last round says so and adds nothing.
    last = rounds["rounds"][-1]
    assert last["stop"] == "budget" and last["added"] == {}
    assert rounds["reason"] == last["reason"]
    assert "the decision between close_a and close_b stays open at 4 seeds each" in rounds["reason"]
    assert rounds["seeds"] == {"close_a": [0, 1, 2, 3], "close_b": [0, 1, 2, 3], "hopeless": [0, 1]}
    # Exactly those runs were trained; the refit runs use the seeds every experiment started with.
    assert run_folders(workdir) == {(name, seed) for name, seeds in rounds["seeds"].items() for seed in seeds}
    pick = json.loads((workdir / "results" / "comparison" / "selection.json").read_text())["picked"]
    assert run_folders(workdir, "refit") == {(name, seed) for name in {"close_a", pick} for seed in (0, 1)}
    assert rounds["cost"]["runs"] == 10 and rounds["cost"]["runs_at_max"] == 12
    table = pd.read_csv(workdir / "results" / "comparison.csv").set_index("experiment")
    assert table["n_seeds"].to_dict() == {"close_a": 4, "close_b": 4, "hopeless": 2}
    # The stability that stopped the rounds is the one the evidence reports.
    facts = json.loads((workdir / "results" / "comparison" / "facts.json").read_text())
    assert facts["decision_stability"] == last["stability"]


def test_the_report_says_how_many_seeds_each_got_and_why_the_rounds_stopped(adaptive_study):
    workdir, _ = adaptive_study
    rounds = rounds_of(workdir)
    page = (workdir / "results" / "report.html").read_text()
    assert "Seeds where the decision needs them" in page
    assert html.escape(rounds["reason"], quote=False) in page
    assert "2 for hopeless; 4 for the other 2" in page
    assert f"{rounds['cost']['runs']} training runs instead of {rounds['cost']['runs_at_max']}" in page
    assert f"{share(rounds['cost']['saved_share'])} less training time" in page


def test_a_finished_adaptive_study_has_nothing_to_do(adaptive_study):
    workdir, _ = adaptive_study
    assert "Nothing to be done" in snakemake(workdir, "--dry-run").stdout


def test_raising_max_continues_the_race_without_retraining_anything(adaptive_study, tmp_path):
    workdir, config = adaptive_study
    shutil.copytree(workdir, tmp_path, dirs_exist_ok=True)
    before = {path: path.stat().st_mtime_ns for path in (tmp_path / "results" / "experiments").rglob("seed*/*")}
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump({**config, "seeds": {**config["seeds"], "max": 6}}, sort_keys=False)
    )
    jobs = executed_jobs(snakemake(tmp_path))
    trained = sorted((rule, wildcards) for rule, wildcards in jobs if rule.startswith("train_"))
    assert trained == [("train_seeds4_to_5", f"experiment={name}") for name in ("close_a", "close_b")]
    assert [rule for rule, _ in jobs].count("refit") == 0
    assert ("model_report", "experiment=hopeless") not in jobs
    assert {path: path.stat().st_mtime_ns for path in before} == before
    rounds = rounds_of(tmp_path)
    assert rounds["seeds"]["hopeless"] == [0, 1] and len(rounds["seeds"]["close_a"]) in (4, 6)
    assert "Nothing to be done" in snakemake(tmp_path, "--dry-run").stdout
