"""Training speed and study wall time, measured side by side on this machine.

    python benchmarks/run_benchmark.py --data-path ../shared/data/mnist.npz            # everything
    python benchmarks/run_benchmark.py --data-path ../shared/data/mnist.npz --skip-study   # training only

Writes benchmarks/out/benchmark.json and benchmarks/out/benchmark.md and prints the table. Each measurement
runs in a fresh process so that TensorFlow's thread pools are set before it initialises, as in a Snakemake job.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
WIDTH_DEPTH = ["exp1_128x1", "exp2_128x2", "exp3_64x2", "exp4_64x1", "exp5_256x1", "exp6_256x2"]

# Runs inside a fresh interpreter: one training mode, a few epochs, epoch times from the second epoch on.
TRAIN_PROBE = r"""
import json, sys, time
from mlpstudy.training import configure_tensorflow, compile_and_fit
spec, dataset, fast, threads, epochs = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3] == "fast", int(sys.argv[4]), int(sys.argv[5])
configure_tensorflow(threads, seed=0)
import keras
from mlpstudy.data import load_prepared
from mlpstudy.models import build_model
data = load_prepared(dataset)
spec = {**spec, "epochs": epochs, "early_stopping": {**spec["early_stopping"], "enabled": False}}
class Timer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None): self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None): times.append(time.perf_counter() - self.start)
times = []
model = build_model(spec)
history = compile_and_fit(model, spec, data, [Timer()], fast=fast)
print(json.dumps({"epoch_seconds": times, "val_accuracy": history.history["val_accuracy"][-1]}))
"""

# GEMM throughput of TensorFlow's float32 matmul with the given thread count.
GEMM_PROBE = r"""
import json, sys, time
threads = int(sys.argv[1])
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(threads)
def rate(m, k, n, repeats):
    a, b = tf.random.normal((m, k)), tf.random.normal((k, n))
    f = tf.function(lambda: tf.linalg.matmul(a, b))
    f()
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            r = f()
        r.numpy()
        samples.append((time.perf_counter() - start) / repeats)
    return 2 * m * k * n / min(samples) / 1e9
print(json.dumps({"large": rate(2048, 2048, 2048, 3), "batch32": rate(32, 784, 256, 2000)}))
"""


def probe(code: str, *args) -> dict:
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if result.returncode:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def flops_per_epoch(spec: dict, n_train: int) -> float:
    """Dense-layer multiply-adds of forward (2) and backward (4) passes: 6 FLOP per weight per image."""
    sizes = [784, *spec["hidden_layers"], 10]
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    return 6.0 * weights * n_train


def prepare_dataset(data_path: str, workdir: Path) -> Path:
    from mlpstudy.data import prepare

    config = {"dataset": "mnist", "data_path": data_path, "train_images": None, "test_images": None,
              "validation_fraction": 0.2, "split_seed": 0}
    prepare(config, workdir / "dataset.npz", workdir / "dataset.json")
    return workdir / "dataset.npz"


def training_benchmark(config: dict, dataset: Path, repeats: int, epochs: int) -> list[dict]:
    specs = {e["name"]: e for e in config["experiments"]}
    rows = []
    for name in WIDTH_DEPTH:
        spec = specs[name]
        seconds = {"fast": [], "plain": []}
        accuracy = {}
        for _ in range(repeats):  # alternate, so drift in machine speed hits both alike
            for mode in ("fast", "plain"):
                result = probe(TRAIN_PROBE, json.dumps(spec), dataset, mode, 1, epochs)
                seconds[mode] += result["epoch_seconds"][1:]  # the first epoch includes tracing
                accuracy[mode] = result["val_accuracy"]
        row = {"experiment": name, "hidden_layers": spec["hidden_layers"], "batch_size": spec["batch_size"],
               "fast_s_per_epoch": statistics.median(seconds["fast"]),
               "plain_s_per_epoch": statistics.median(seconds["plain"]),
               "fast_val_accuracy": accuracy["fast"], "plain_val_accuracy": accuracy["plain"],
               "gflop_per_epoch": flops_per_epoch(spec, 48000) / 1e9}
        row["ratio"] = row["fast_s_per_epoch"] / row["plain_s_per_epoch"]
        rows.append(row)
        print(f"{name}: fast {row['fast_s_per_epoch']:.2f} s/epoch, plain {row['plain_s_per_epoch']:.2f}, "
              f"ratio {row['ratio']:.2f}", flush=True)
    return rows


def threads_benchmark(config: dict, dataset: Path, epochs: int) -> dict:
    spec = {e["name"]: e for e in config["experiments"]}["exp6_256x2"]
    return {threads: statistics.median(probe(TRAIN_PROBE, json.dumps(spec), dataset, "fast", threads, epochs)["epoch_seconds"][1:])
            for threads in (1, 2)}


def study_benchmark(data_path: str, cores: int, keep: bool) -> dict:
    """Wall time of the full default study from scratch, then of a no-op rerun; peak memory per training job;
    job seconds per stage."""
    from mlpstudy.report import stage_timing

    workdir = Path(tempfile.mkdtemp(prefix=f"mlpstudy-study-{cores}-"))
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(REPO / "config" / "config.yaml"), "--config", f"data_path={data_path}",
               "--cores", str(cores), "--quiet"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True)
    full = time.perf_counter() - start
    noop = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(command, check=True, env=env, capture_output=True)
        noop.append(time.perf_counter() - start)
    rss = [float(line.split("\t")[2]) for path in (workdir / "results" / "benchmarks" / "train").rglob("*.tsv")
           for line in path.read_text().splitlines()[1:]]
    stages = stage_timing(workdir / "results")
    if not keep:
        shutil.rmtree(workdir)
    return {"cores": cores, "wall_seconds": full, "noop_seconds": statistics.median(noop),
            "peak_rss_mb_max": max(rss), "peak_rss_mb_median": statistics.median(rss), "stages": stages,
            "folder": str(workdir) if keep else None}


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def markdown(report: dict) -> str:
    gemm, gemm2 = report["gemm_gflops_1_thread"], report["gemm_gflops_2_threads"]
    lines = [
        f"Measured {report['date']} on {report['machine']} ({report['cpus']} CPUs), one thread per training job, "
        f"{report['epochs']} epochs per run, median of epochs 2..{report['epochs']} over {report['repeats']} alternating runs.",
        f"GEMM roofline (TensorFlow float32 2048^3 matmul): {gemm['large']:.1f} GFLOP/s with 1 thread, "
        f"{gemm2['large']:.1f} with 2. A single 32x784x256 matmul per call reaches {gemm['batch32']:.1f} GFLOP/s: "
        "bounded by the cost of a call, not by arithmetic, so it is no roofline.",
        "",
        "| experiment | plain fit() s/epoch | mlpstudy s/epoch | ratio | GFLOP/epoch | mlpstudy GFLOP/s | % of 1-thread GEMM roofline | val acc plain / ours |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report["training"]:
        rate = row["gflop_per_epoch"] / row["fast_s_per_epoch"]
        lines.append(
            f"| {row['experiment']} | {row['plain_s_per_epoch']:.2f} | {row['fast_s_per_epoch']:.2f} | {row['ratio']:.2f} | "
            f"{row['gflop_per_epoch']:.1f} | {rate:.1f} | {100 * rate / gemm['large']:.0f}% | "
            f"{row['plain_val_accuracy']:.4f} / {row['fast_val_accuracy']:.4f} |"
        )
    threads = report["threads_s_per_epoch"]
    lines += ["", f"256x2 with 1 thread: {threads['1']:.2f} s/epoch; with 2 threads: {threads['2']:.2f} s/epoch."]
    for study in report.get("study", []):
        lines.append(
            f"Full default study with --cores {study['cores']}: {study['wall_seconds'] / 60:.1f} min; no-op rerun "
            f"{study['noop_seconds']:.2f} s; peak memory per training job {study['peak_rss_mb_max']:.0f} MB "
            f"(median {study['peak_rss_mb_median']:.0f} MB). Job seconds per stage: "
            + ", ".join(f"{row['stage']} {row['total_seconds']:.0f} s ({row['jobs']} jobs)" for row in study["stages"])
            + "."
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-path", required=True, help="mnist.npz in the keras.datasets layout")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--skip-study", action="store_true", help="skip the two full-study runs")
    parser.add_argument("--keep-study", action="store_true", help="keep the study folders (their paths go in the JSON)")
    parser.add_argument("--dry-run", action="store_true", help="check the arguments and say what would run")
    args = parser.parse_args()
    data_path = str(Path(args.data_path).resolve())
    if not Path(data_path).is_file():
        parser.error(f"--data-path {args.data_path}: no such file")
    if args.dry_run:
        print(f"would measure training of {', '.join(WIDTH_DEPTH)} ({args.repeats} repeats of {args.epochs} epochs) "
              f"and the thread count" + ("" if args.skip_study else ", then the full study with --cores 2 and 4"))
        return 0
    from mlpstudy.config import load_config

    config = load_config(REPO / "config" / "config.yaml", REPO / "workflow" / "schemas" / "config.schema.yaml")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        dataset = prepare_dataset(data_path, Path(tmp))
        report = {
            "date": time.strftime("%Y-%m-%d"),
            "machine": cpu_model(),
            "cpus": os.cpu_count(),
            "epochs": args.epochs,
            "repeats": args.repeats,
            "gemm_gflops_1_thread": probe(GEMM_PROBE, 1),
            "gemm_gflops_2_threads": probe(GEMM_PROBE, 2),
        }
        report["training"] = training_benchmark(config, dataset, args.repeats, args.epochs)
        report["threads_s_per_epoch"] = {str(k): v for k, v in threads_benchmark(config, dataset, args.epochs).items()}
    if not args.skip_study:
        report["study"] = [study_benchmark(data_path, cores, args.keep_study) for cores in (2, 4)]
    (OUT / "benchmark.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (OUT / "benchmark.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
