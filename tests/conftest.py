import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
# CI and developers keep the data beside the checkout (../shared/data); users may point elsewhere.
DATA_DIR = Path(os.environ.get("MLPSTUDY_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    path = DATA_DIR / "mnist.npz"
    if not path.is_file():
        pytest.fail(f"{path} not found: set MLPSTUDY_DATA_DIR to the folder holding mnist.npz")
    return path


@pytest.fixture(scope="session")
def schema() -> dict:
    from mlpstudy.config import load_schema

    return load_schema(SCHEMA)


def unavailable(requirement: str, reason: str):
    """Skip a test whose system tools are missing, or fail it where $<requirement>=1 says they must be there
    (.ci/run sets MLPSTUDY_REQUIRE_SLURM and MLPSTUDY_REQUIRE_BROWSER)."""
    if os.environ.get(requirement) == "1":
        pytest.fail(f"{requirement}=1 but {reason}")
    pytest.skip(reason)


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the workflow in `workdir` on its config.yaml."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(workdir),
            "--configfile",
            str(workdir / "config.yaml"),
            "--cores",
            "2",
            *args,
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def write_config(workdir: Path, config: dict) -> None:
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


# Metrics that the same config and seed must reproduce bitwise (the others are measured times).
DETERMINISTIC = [
    "params",
    "epochs",
    "best_epoch",
    "train_accuracy",
    "train_loss",
    "val_accuracy",
    "val_loss",
    "test_accuracy",
    "test_loss",
    "generalization_gap",
]


def assert_same_runs(workdir: Path, reference: Path, runs, seeds) -> None:
    """Every (stage, experiment) run of `seeds` in `workdir` has bitwise the metrics and predictions of the same
    run in `reference`."""
    import json

    import numpy as np

    for stage, name in runs:
        for seed in seeds:
            run = Path("results") / stage / name / f"seed{seed}"
            ours = json.loads((workdir / run / "metrics.json").read_text())
            theirs = json.loads((reference / run / "metrics.json").read_text())
            assert ours["train_images"] == theirs["train_images"]
            keys = [key for key in DETERMINISTIC if key in theirs]
            assert {k: ours[k] for k in keys} == {k: theirs[k] for k in keys}, run
            with np.load(workdir / run / "predictions.npz") as a, np.load(reference / run / "predictions.npz") as b:
                assert a.files == b.files
                for key in a.files:
                    np.testing.assert_array_equal(a[key], b[key], err_msg=str(run))


@pytest.fixture(scope="session")
def study(tmp_path_factory, mnist_path):
    """The smoke study run locally once per session: (its folder, its config)."""
    workdir = tmp_path_factory.mktemp("study")
    config = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    config["data_path"] = str(mnist_path)
    write_config(workdir, config)
    snakemake(workdir)
    return workdir, config


# A close race and a hopeless experiment, under an adaptive seed policy: the rounds should give their seeds to
# the race only. One hidden layer of 64 units twice, with learning rates 10% apart, one epoch on 2,400 images.
# The rule's only cost is the parameter count: the two nets tie on it, and a measured latency would break the tie
# differently in every run (the rounds are a function of the results, and latency is measured anew each time).
ADAPTIVE_STUDY = {
    "dataset": "mnist",
    "train_images": 3000,
    "test_images": 1000,
    "seeds": {"initial": 2, "max": 4, "round": 2},
    "selection": {"cost_order": ["params"]},
    "ceiling": "close_a",
    "defaults": {"epochs": 1},
    "experiments": [
        {"name": "close_a", "hidden_layers": [64], "description": "One hidden layer of 64 units."},
        {
            "name": "close_b",
            "hidden_layers": [64],
            "optimizer": {"learning_rate": 0.0011},
            "description": "The same, learning rate 0.0011.",
        },
        {
            "name": "hopeless",
            "hidden_layers": [],
            "optimizer": {"name": "sgd", "learning_rate": 0.00001},
            "description": "Softmax regression that barely moves.",
        },
    ],
}


@pytest.fixture(scope="session")
def adaptive_study(tmp_path_factory, mnist_path):
    """ADAPTIVE_STUDY run locally once per session: (its folder, its config)."""
    workdir = tmp_path_factory.mktemp("adaptive")
    config = {**ADAPTIVE_STUDY, "data_path": str(mnist_path)}
    write_config(workdir, config)
    snakemake(workdir)
    return workdir, config


def executed_jobs(result: subprocess.CompletedProcess) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job a Snakemake run or dry run lists, in its order."""
    return re.findall(
        r"^(?:local)?(?:rule|checkpoint) (\w+):\n(?:    (?!wildcards).*\n)*(?:    wildcards: (.*))?",
        result.stdout + result.stderr,
        flags=re.MULTILINE,
    )


# Config text that would run if a page wrote it as markup: as a tag, as an attribute, and breaking out of a
# <script> block (where snakemake --report embeds job params). Each calls alert(<number>).
HOSTILE = {
    "script": "<script>alert(1)</script>",
    "attribute": '"><img src=x onerror=alert(2)>',
    "breakout": "</script><script>alert(3)</script>",
}


class _LiveMarkup(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found, self.in_script = [], False

    def handle_starttag(self, tag, attrs):
        self.in_script = tag == "script"
        self.found += [
            f"<{tag} {name}={value}>" for name, value in attrs if name.startswith("on") and "alert(" in (value or "")
        ]

    def handle_endtag(self, tag):
        self.in_script = False

    def handle_data(self, data):
        if self.in_script and re.fullmatch(r"\s*alert\(\d+\);?\s*", data):
            self.found.append(f"<script>{data}</script>")


def live_markup(html: str) -> list[str]:
    """The HOSTILE payloads that `html` would run: scripts and event handlers calling alert()."""
    parser = _LiveMarkup()
    parser.feed(html)
    return parser.found
