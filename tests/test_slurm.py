"""The smoke study through profiles/slurm on a real one-node SLURM cluster, compared with the local run.

Needs root and Debian's slurm-wlm and munge (.ci/run installs them). Elsewhere the test is skipped with the
reason, unless MLPSTUDY_REQUIRE_SLURM=1 (set by .ci/run) turns the skip into a failure.
"""

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, SCHEMA, assert_same_runs, snakemake, unavailable, write_config

from mlpstudy.config import load_schema, seed_blocks, seed_policy
from mlpstudy.refit import refit_experiments

pytestmark = pytest.mark.e2e

# The plugin's job step drops SLURM_CONF before calling srun, so the cluster's config must sit where every
# Slurm command looks by default. The test writes it there only if no real cluster config is present.
SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# one-node test cluster of mlpstudy's tests/test_slurm.py\n"
DAEMONS = ["/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch"]


# Metrics that depend only on the arithmetic; times and latencies differ between any two runs.
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def slurm_conf(folder: Path) -> str:
    host = socket.gethostname()
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 // 2
    return (
        MARKER
        + f"""\
ClusterName=mlpstudy-test
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
# A container has no cgroup or accounting daemons to lean on.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
NodeName={host} CPUs={os.cpu_count()} RealMemory={memory_mb} State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
    )


def start_munge() -> None:
    if subprocess.run(["munge", "-n"], check=False, capture_output=True).returncode == 0:
        return  # already running
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A one-node SLURM cluster on this machine, for the duration of the module."""
    missing = [path for path in DAEMONS if not Path(path).exists()]
    if missing:
        unavailable("MLPSTUDY_REQUIRE_SLURM", f"{', '.join(missing)} not installed (apt-get install slurm-wlm munge)")
    if os.geteuid() != 0:
        unavailable("MLPSTUDY_REQUIRE_SLURM", "starting slurmd needs root")
    folder = tmp_path_factory.mktemp("slurm")
    for name in ("state", "spool"):
        (folder / name).mkdir()
    if SLURM_CONF.exists() and not SLURM_CONF.read_text().startswith(MARKER):
        unavailable("MLPSTUDY_REQUIRE_SLURM", f"{SLURM_CONF} belongs to a real cluster; not overwriting it")
    SLURM_CONF.write_text(slurm_conf(folder))
    try:
        start_munge()
        for daemon in ("slurmctld", "slurmd"):
            subprocess.run([f"/usr/sbin/{daemon}"], check=True)
        for _ in range(60):
            state = subprocess.run(["sinfo", "--noheader", "-o", "%t"], check=False, capture_output=True, text=True)
            if state.stdout.strip() == "idle":
                break
            time.sleep(0.5)
        else:
            logs = "\n".join(path.read_text()[-2000:] for path in sorted(folder.glob("*.log")))
            pytest.fail(f"the SLURM node did not come up: sinfo says {state.stdout!r} {state.stderr!r}\n{logs}")
        yield folder
    finally:
        for daemon in ("slurmd", "slurmctld"):
            pid_file = folder / f"{daemon}.pid"
            if pid_file.exists():
                subprocess.run(["kill", pid_file.read_text().strip()], check=False)
        SLURM_CONF.unlink()


def run_on_slurm(workdir: Path) -> None:
    snakemake(
        workdir,
        "--workflow-profile",
        str(REPO / "profiles" / "slurm"),
        # This cluster keeps no accounting database: ask squeue for job states, submit without an account.
        "--slurm-status-command",
        "squeue",
        "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks",
        "2",
    )


def submitted_jobs(cluster: Path) -> int:
    return (cluster / "slurmctld.log").read_text().count("_slurm_rpc_submit_batch_job: JobId=")


def test_smoke_study_on_slurm_matches_the_local_run(cluster, study, tmp_path):
    local, config = study
    write_config(tmp_path, config)
    before = submitted_jobs(cluster)
    run_on_slurm(tmp_path)
    submitted = submitted_jobs(cluster) - before
    pick = json.loads((local / "results" / "comparison" / "selection.json").read_text())["picked"]
    refit = refit_experiments(pick, config.get("ceiling"))
    # prepare_data and data_overview; per experiment its training jobs and its model page; decide and evidence;
    # the refit runs of the pick and the ceiling and their summary; the bundle, robustness and model card; report
    training = len(seed_blocks({"adaptive": False, "seeds": config["seeds"]}))
    jobs = 2 + len(config["experiments"]) * (training + 1) + 2 + len(refit) * len(config["seeds"]) + 5
    assert submitted == jobs, "every job but `all` should have gone through sbatch"
    runs = [("experiments", experiment["name"]) for experiment in config["experiments"]] + [("refit", n) for n in refit]
    assert_same_runs(tmp_path, local, runs, config["seeds"])
    for name in ("comparison/selection.json", "comparison/versus_pick.csv", "comparison/probability_best.csv"):
        assert (tmp_path / "results" / name).read_text() == (local / "results" / name).read_text()
    refit_columns = ["experiment", "role", "train_images", "test_accuracy", "seed_test_accuracies", "gain"]
    assert pd.read_csv(tmp_path / "results" / "refit" / "refit.csv")[refit_columns].equals(
        pd.read_csv(local / "results" / "refit" / "refit.csv")[refit_columns]
    )
    assert (tmp_path / "results" / "report.html").stat().st_size > 0


def test_seed_rounds_on_slurm_match_the_local_run(cluster, adaptive_study, tmp_path):
    """The rounds are jobs like any other: through sbatch they plan the same rounds and train the same runs."""
    local, config = adaptive_study
    write_config(tmp_path, config)
    before = submitted_jobs(cluster)
    run_on_slurm(tmp_path)
    rounds = json.loads((local / "results" / "comparison" / "rounds.json").read_text())
    # prepare_data and data_overview; every training job (one per block of seeds an experiment got), round plan
    # and model page; decide and evidence; the refit runs of the pick and the ceiling and their summary; the
    # bundle, robustness and model card; report
    pick = json.loads((local / "results" / "comparison" / "selection.json").read_text())["picked"]
    refit = refit_experiments(pick, config["ceiling"])
    initial = config["seeds"]["initial"]
    blocks = seed_blocks(seed_policy(config["seeds"], load_schema(SCHEMA)["properties"]["seeds"]))
    training = sum(1 for seeds in rounds["seeds"].values() for block in blocks if block[0] in seeds)
    jobs = 2 + training + len(rounds["rounds"]) + len(config["experiments"]) + 2 + len(refit) * initial + 5
    assert submitted_jobs(cluster) - before == jobs, "every job but `all` should have gone through sbatch"
    selection = Path("results") / "comparison" / "selection.json"
    assert (tmp_path / selection).read_text() == (local / selection).read_text()
    # rounds.json holds every round's plan file as read back.
    ours = json.loads((tmp_path / "results" / "comparison" / "rounds.json").read_text())
    assert {key: ours[key] for key in ("rounds", "seeds", "reason")} == {
        key: rounds[key] for key in ("rounds", "seeds", "reason")
    }
    for name, seeds in rounds["seeds"].items():
        assert_same_runs(tmp_path, local, [("experiments", name)], seeds)
