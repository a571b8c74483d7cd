"""Every command the README shows runs as written: Snakemake and make commands as dry runs in a scratch copy of
the workflow, the benchmark with its --dry-run; the few that cannot run here say which test covers them."""

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO
from test_workflow import planned_jobs

pytestmark = pytest.mark.e2e

PROGRAMS = ("snakemake", "make", "python", "python3", ".venv/bin/python", "pip", "conda", "pytest", "open")
# Commands that cannot run inside this suite, and what covers them instead.
COVERED_ELSEWHERE = {
    "make test": "the command CI runs (.ci/run), which runs this suite; checked here with make -n",
    "pytest": "this suite itself",
    "open results/report.html": "opens a browser; tests/test_browser.py renders the report in headless Chromium",
    "conda env create -f environment.yml && conda activate mlpstudy": "no conda here; tests/test_environment.py keeps environment.yml equal to pyproject.toml",
    "python -m mlpstudy <step> '<JSON object>' ...": "a pattern: every rule runs one such step in the end-to-end tests",
    "snakemake --report report.zip": "tests/test_workflow.py builds that report and checks its contents",
    "snakemake --report": "the same report, named in prose",
    "python -m mlpstudy predict": "the command named in prose; the README's lines with arguments run below",
}
# The options the cluster section adds to its command.
CLUSTER_OPTIONS = ("--set-resources refit:runtime=120", "--slurm-status-command squeue --slurm-no-account")


def readme_commands() -> list[str]:
    """Each command of the README's bash blocks (continuation lines joined, comments dropped, "# or:" kept),
    and each inline code span that is a whole command."""
    text = (REPO / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"^#\s*or:\s*", "", line.strip())
            line = re.sub(r"\s+#.*$", "", line)
            if line and not line.startswith("#"):
                commands.append(re.sub(r"\s+", " ", line))
    for span in re.findall(r"`([^`\n]+)`", text):
        if span.split(" ")[0] in PROGRAMS and " " in span:
            commands.append(span)
    return list(dict.fromkeys(commands))


def test_the_readme_shows_the_commands_this_test_knows():
    commands = readme_commands()
    assert "snakemake --cores 2" in commands and "make study" in commands and "make test" in commands
    for option in CLUSTER_OPTIONS:
        assert f"`{option}`" in (REPO / "README.md").read_text()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory, mnist_path):
    """A copy of the workflow to run the README's commands in, with the project's environment as .venv."""
    folder = tmp_path_factory.mktemp("readme")
    for name in ("Snakefile", "Makefile", "workflow", "config", "notebooks", "profiles", "src", "benchmarks"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, folder / name)
    (folder / "pyproject.toml").symlink_to(REPO / "pyproject.toml")
    (folder / ".venv").symlink_to(Path(sys.prefix))
    return folder


def as_run_here(command: str, mnist_path: Path) -> str:
    """The command with the README's placeholders for the user's data and cluster filled in."""
    command = re.sub(r"[^\s=]*/mnist\.npz", str(mnist_path), command)
    return command.replace("<account>", "test").replace("<partition>", "test")


def run(folder: Path, command: str) -> subprocess.CompletedProcess:
    # As a user types it: not inside the make that may be running this suite (make test).
    env = {name: value for name, value in os.environ.items() if name not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    result = subprocess.run(command, shell=True, cwd=folder, check=False, capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def with_a_bundle(folder: Path, study_folder: Path) -> None:
    """The smoke study's bundle in `folder`/results/deploy, and the README's example images: some.png, and
    my_digits/ with a few MNIST test images."""
    from PIL import Image

    shutil.copytree(study_folder / "results" / "deploy", folder / "results" / "deploy", dirs_exist_ok=True)
    with np.load(study_folder / "results" / "data" / "dataset.npz") as data:
        images = data["x_test"][:3]
    Image.fromarray(images[0]).save(folder / "some.png")
    (folder / "my_digits").mkdir(exist_ok=True)
    for index, image in enumerate(images):
        Image.fromarray(image).save(folder / "my_digits" / f"{index}.png")


@pytest.mark.parametrize("command", readme_commands())
def test_every_readme_command_runs(command, scratch, mnist_path, request):
    if command in COVERED_ELSEWHERE:
        if command == "make test":
            assert run(scratch, "make -n test").stdout.strip().endswith("pytest -v")
            assert "make test" in (REPO / ".ci" / "run").read_text()
        return
    here = as_run_here(command, mnist_path)
    program = command.split(" ")[0]
    if program == "snakemake":
        plans = [planned_jobs(run(scratch, f"{here} --dry-run"))]
        if "--workflow-profile profiles/slurm" in command:
            plans += [planned_jobs(run(scratch, f"{here} {option} --dry-run")) for option in CLUSTER_OPTIONS]
        for plan in plans:
            assert plan["prepare_data"] == 1 and plan["train"] > 0
        if "results/experiments/exp4_64x1/model_report.html" in command:
            # Only that experiment's notebook (a misplaced --forcerun would plan the whole study), after the
            # first round of every experiment, which decides how many seeds it gets.
            experiments = len(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["experiments"])
            assert plans[0] == Counter({"prepare_data": 1, "train": experiments, "plan_round": 1, "model_report": 1})
        elif "results/experiments/exp4_64x1/seed0/metrics.json" in command:
            assert plans[0] == Counter({"prepare_data": 1, "train": 1})  # the training job of its block of seeds
        if "seeds=[0]" in command:
            assert plans[0]["train"] == 4  # the activation lab's four experiments, one seed each
    elif program == "make":
        target = command.split(" ")[1]
        plan = planned_jobs(run(scratch, f"{here} SNAKEMAKE_ARGS=--dry-run"))
        assert plan["report"] == 1, target
    elif command.startswith("python -m mlpstudy predict"):
        with_a_bundle(scratch, request.getfixturevalue("study")[0])
        output = run(scratch, here).stdout
        if "--help" in command:
            assert "centre of mass" in output
        else:
            images = 3 if "my_digits/" in command else 1
            assert [len(line.split("\t")) in (3, 4) for line in output.splitlines()] == [True] * images
    elif command == "python -m mlpstudy --help":
        assert "Steps and their arguments:" in run(scratch, here).stdout
    elif "benchmarks/run_benchmark.py" in command:
        assert run(scratch, f"{here} --dry-run").stdout.startswith("would measure: ")
    elif program in ("pip", "python3"):
        # The environment the Makefile builds, which CI runs: the README's install command is its recipe.
        makefile = (REPO / "Makefile").read_text()
        assert "-m venv $(VENV)" in makefile and "pip install --quiet -e '.[test]'" in makefile
        assert command.endswith("pip install -e '.[test]'")
    else:
        pytest.fail(f"the README shows a command no test runs: {command}")
