"""Training speed, the engine's equivalence with plain Keras fit(), and study wall time, measured side by side
on this machine.

    python benchmarks/run_benchmark.py --data-path ../shared/data/mnist.npz                  # everything
    python benchmarks/run_benchmark.py --data-path ../shared/data/mnist.npz --only speed     # one part

Parts: speed (s/epoch of the engine and of plain fit(), alternating, one thread, against the GEMM rate measured
in the same run), equivalence (test accuracy of the engine and of plain fit() over several seeds), study (the
full default study from empty results/ with --cores 2 and 4, then a no-op rerun, and its seed rounds' training
time against a uniform 10-seed study), rounds (the default study's experiments on smoke-sized data, trained by
the adaptive seed policy with max 10 and uniformly on 10 seeds: training job seconds of each). Writes
benchmarks/out/benchmark.json and benchmarks/out/benchmark.md and prints the tables. Each measurement runs in a
fresh process so that TensorFlow's thread pools are set before it initialises, as in a Snakemake job.
"""

from __future__ import annotations

import argparse
import concurrent.futures
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
# The equivalence check: the six width/depth nets, a dropout net, the batch-norm net (default study) and an
# sgd-momentum net (the SGD tuning study, on its own L2-normalised inputs).
EQUIVALENCE = [*WIDTH_DEPTH, "dropout0.2_256x2", "batchnorm_256x2", "sgd_tuning:sgd_momentum0.9_32x2"]
# Seeds for the nets whose seed-paired differences vary most: in a first five-seed run (README) 128x2 and 256x2
# had a paired SD of about 0.2 pp, so five seeds give a half-width of about 0.25 pp and fifteen about 0.11 pp;
# the dropout net is a 256x2 net too.
SEEDS_AT_LEAST = {"exp2_128x2": 15, "exp6_256x2": 15, "dropout0.2_256x2": 15}
PARTS = ("speed", "equivalence", "study", "rounds")
# The uniform study the adaptive seed policy is measured against: every experiment on 10 seeds.
UNIFORM_SEEDS = 10
SMOKE_SIZE = ["train_images=3000", "test_images=1000", "max_epochs=1"]

# Runs inside a fresh interpreter: `epochs` epochs of one way of training; epoch times from the second on.
TRAIN_PROBE = r"""
import json, sys, time
from mlpstudy.training import configure_tensorflow, Engine, keras_fit
spec, dataset, way, threads, epochs = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
configure_tensorflow(threads, seed=0)
import keras
from mlpstudy.data import load_prepared
from mlpstudy.models import build_model
data = load_prepared(dataset)
spec = {**spec, "epochs": epochs, "early_stopping": {**spec["early_stopping"], "enabled": False}}
model = build_model(spec)
if way == "engine":
    history, _, _ = Engine(model, spec).fit(data, 0, epochs, spec["early_stopping"])
    times, accuracy = list(history["seconds"]), float(history["val_accuracy"].iloc[-1])
else:
    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None): self.start = time.perf_counter()
        def on_epoch_end(self, epoch, logs=None): times.append(time.perf_counter() - self.start)
    times = []
    accuracy = keras_fit(model, spec, data, callbacks=[Timer()]).history["val_accuracy"][-1]
print(json.dumps({"epoch_seconds": times, "val_accuracy": accuracy}))
"""

# One way of training, several seeds in one interpreter (one thread): test and validation accuracy of each.
# "fit" is plain Keras fit(), called once per epoch on a freshly shuffled copy of the data: fit()'s own
# shuffle=True repeats one order in every epoch once keras.utils.set_random_seed has been called (Keras 3.15;
# tests/test_training.py shows it), which costs it accuracy, and is not what the engine is compared on.
EQUIVALENCE_PROBE = r"""
import json, sys
from mlpstudy.training import configure_tensorflow, Engine, accuracy, compile_model, epoch_order
spec, dataset, way, seeds = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
configure_tensorflow(1, seed=seeds[0])
import keras
from mlpstudy.data import load_prepared
from mlpstudy.models import build_model
data = load_prepared(dataset)
spec = {**spec, "early_stopping": {**spec["early_stopping"], "enabled": False}}
results = []
for seed in seeds:
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build_model(spec)
    if way == "engine":
        engine = Engine(model, spec)
        engine.fit(data, seed, spec["epochs"], spec["early_stopping"])
        predict = engine.predict
    else:
        compile_model(model, spec)
        for epoch in range(1, spec["epochs"] + 1):
            order = epoch_order(seed, epoch, len(data.y_train))
            model.fit(data.x_train[order], data.y_train[order], batch_size=spec["batch_size"], epochs=1,
                      shuffle=False, verbose=0)
        predict = lambda images: model.predict(images, batch_size=4096, verbose=0)
    results.append({"seed": seed, "test_accuracy": accuracy(predict(data.x_test), data.y_test),
                    "val_accuracy": accuracy(predict(data.x_val), data.y_val)})
print(json.dumps(results))
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
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if result.returncode:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def gflop_per_epoch(spec: dict, n_train: int, n_val: int) -> float:
    """An epoch's arithmetic: training on n_train images (6 FLOP per weight and image), then validating on
    n_val (2, the forward pass)."""
    from mlpstudy.models import training_flop

    return (training_flop({**spec, "epochs": 1}, n_train) + training_flop({**spec, "epochs": 1}, n_val) / 3) / 1e9


def prepare_dataset(data_path: str, folder: Path, preprocessing: str = "scale") -> Path:
    from mlpstudy.data import prepare

    config = {
        "dataset": "mnist",
        "data_path": data_path,
        "train_images": None,
        "test_images": None,
        "validation_fraction": 0.2,
        "split_seed": 0,
        "preprocessing": preprocessing,
    }
    path = folder / f"dataset_{preprocessing}.npz"
    if not path.exists():
        prepare(config, path, folder / f"dataset_{preprocessing}.json")
    return path


def study_experiments(study: str = "config") -> dict[str, dict]:
    """The resolved experiments of the default study ("config") or of config/studies/<study>.yaml, by name."""
    from mlpstudy.config import load_config

    path = REPO / "config" / ("config.yaml" if study == "config" else f"studies/{study}.yaml")
    config = load_config(path, REPO / "workflow" / "schemas" / "config.schema.yaml")
    return {e["name"]: {**e, "preprocessing": config["preprocessing"]} for e in config["experiments"]}


def speed_benchmark(dataset: Path, repeats: int, epochs: int) -> dict:
    """Seconds per epoch of the engine and of plain fit() for the six width/depth nets, alternating so that drift
    in the machine's speed hits both alike; then the 256x2 net with one and with two threads."""
    specs = study_experiments()
    rows = []
    for name in WIDTH_DEPTH:
        spec = specs[name]
        seconds, accuracy = {"engine": [], "fit": []}, {}
        for _ in range(repeats):
            for way in ("engine", "fit"):
                result = probe(TRAIN_PROBE, json.dumps(spec), dataset, way, 1, epochs)
                seconds[way] += result["epoch_seconds"][1:]  # the first epoch includes compiling
                accuracy[way] = result["val_accuracy"]
        row = {
            "experiment": name,
            "hidden_layers": spec["hidden_layers"],
            "batch_size": spec["batch_size"],
            "engine_s_per_epoch": statistics.median(seconds["engine"]),
            "fit_s_per_epoch": statistics.median(seconds["fit"]),
            "engine_val_accuracy": accuracy["engine"],
            "fit_val_accuracy": accuracy["fit"],
            "gflop_per_epoch": gflop_per_epoch(spec, 48000, 12000),
        }
        row["ratio"] = row["engine_s_per_epoch"] / row["fit_s_per_epoch"]
        rows.append(row)
        print(
            f"{name}: engine {row['engine_s_per_epoch']:.2f} s/epoch, fit() {row['fit_s_per_epoch']:.2f}, "
            f"ratio {row['ratio']:.2f}",
            flush=True,
        )
    threads = {
        str(count): statistics.median(
            probe(TRAIN_PROBE, json.dumps(specs["exp6_256x2"]), dataset, "engine", count, epochs)["epoch_seconds"][1:]
        )
        for count in (1, 2)
    }
    fixed = {name: job_fixed_cost(specs[name], dataset, epochs) for name in ("softmax_regression", "exp6_256x2")}
    return {
        "rows": rows,
        "threads_s_per_epoch": threads,
        "fixed_cost": fixed,
        "side_by_side_s_per_epoch": side_by_side(specs["exp6_256x2"], dataset, epochs),
    }


def side_by_side(spec: dict, dataset: Path, epochs: int) -> dict:
    """Seconds per epoch of each of 1, 2 and 3 one-thread 256x2 jobs run at the same time: what a second and a
    third job on this machine's cores cost each other."""
    timings = {}
    for jobs in (1, 2, 3):
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            results = list(
                pool.map(lambda _: probe(TRAIN_PROBE, json.dumps(spec), dataset, "engine", 1, epochs), range(jobs))
            )
        timings[str(jobs)] = [statistics.median(result["epoch_seconds"][1:]) for result in results]
    return timings


def job_fixed_cost(spec: dict, dataset: Path, epochs: int) -> dict:
    """Training jobs as Snakemake runs them (python -m mlpstudy train, `epochs` epochs), of one seed and of a
    block of three: each one's wall time, and what it costs beyond training, i.e. the wall time less its
    steady-state epochs (the median epoch from the second on): starting Python, importing TensorFlow, reading
    the data, compiling, and per seed predicting, timing latency and saving."""
    from mlpstudy.models import ENGINE_VERSION

    spec = {**spec, "epochs": epochs, "early_stopping": {**spec["early_stopping"], "enabled": False}}
    names = {"model": "model.keras", "history": "history.csv", "metrics": "metrics.json", "predictions": "p.npz"}
    measured = {}
    for seeds in ([0], [0, 1, 2]):
        with tempfile.TemporaryDirectory() as run_dir:
            settings = {"spec": spec, "seeds": seeds, "engine_version": ENGINE_VERSION}
            files = {key: [f"{run_dir}/{seed}{name}" for seed in seeds] for key, name in names.items()}
            start = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "mlpstudy",
                    "train",
                    json.dumps(settings),
                    json.dumps({**files, "threads": 1, "dataset": str(dataset)}),
                ],
                check=True,
                capture_output=True,
            )
            wall = time.perf_counter() - start
            seconds = [
                [float(line.split(",")[-1]) for line in Path(history).read_text().splitlines()[1:]]
                for history in files["history"]
            ]
        steady = statistics.median(second for run in seconds for second in run[1:])
        measured[len(seeds)] = {"wall_seconds": wall, "fixed_seconds": wall - len(seeds) * epochs * steady}
    return {
        "epochs": epochs,
        "steady_epoch_seconds": steady,
        "wall_seconds": measured[1]["wall_seconds"],
        "fixed_seconds": measured[1]["fixed_seconds"],
        "block_wall_seconds": measured[3]["wall_seconds"],
        "block_fixed_seconds": measured[3]["fixed_seconds"],
        "further_seed_fixed_seconds": (measured[3]["fixed_seconds"] - measured[1]["fixed_seconds"]) / 2,
    }


def equivalence_benchmark(data_path: str, folder: Path, seeds: int, workers: int) -> list[dict]:
    """Test accuracy of the engine and of plain fit() on the same split, seeds 0..seeds-1, for each EQUIVALENCE
    net; the mean difference (engine - fit) with its 95% t-interval, paired by seed (a seed fixes the initial
    weights in both); at least `seeds` seeds per net, SEEDS_AT_LEAST for the noisier ones. Accuracy only, so
    `workers` processes run side by side."""
    from mlpstudy.stats import t_interval

    specs, seed_counts = {}, {}
    for entry in EQUIVALENCE:
        study, _, name = entry.rpartition(":")
        specs[name] = study_experiments(study or "config")[name]
        seed_counts[name] = max(seeds, SEEDS_AT_LEAST.get(name, 0))
    tasks = sorted(((name, way) for name in specs for way in ("engine", "fit")), key=lambda task: -seed_counts[task[0]])

    def run(task):
        name, way = task
        dataset = prepare_dataset(data_path, folder, specs[name]["preprocessing"])
        return task, probe(
            EQUIVALENCE_PROBE, json.dumps(specs[name]), dataset, way, json.dumps(list(range(seed_counts[name])))
        )

    for preprocessing in {spec["preprocessing"] for spec in specs.values()}:  # before the workers share them
        prepare_dataset(data_path, folder, preprocessing)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        results = dict(pool.map(run, tasks))
    rows = []
    for name, spec in specs.items():
        engine, fit = ([run["test_accuracy"] for run in results[name, way]] for way in ("engine", "fit"))
        difference, low, high = t_interval([a - b for a, b in zip(engine, fit)])
        rows.append(
            {
                "experiment": name,
                "epochs": spec["epochs"],
                "batch_size": spec["batch_size"],
                "seeds": len(engine),
                "engine_test_accuracy": statistics.mean(engine),
                "fit_test_accuracy": statistics.mean(fit),
                "engine_sd": statistics.stdev(engine),
                "fit_sd": statistics.stdev(fit),
                "difference": difference,
                "low": low,
                "high": high,
                "within_0.2pp": bool(-0.002 < low and high < 0.002),
                "runs": {way: results[name, way] for way in ("engine", "fit")},
            }
        )
        print(f"{name}: engine - fit = {100 * difference:+.3f} pp [{100 * low:+.3f}, {100 * high:+.3f}]", flush=True)
    return rows


def snakemake_command(workdir: Path, cores: int, *config: str, targets: tuple[str, ...] = ()) -> list[str]:
    """The README's study command on the default config, in `workdir`, with `config` values, for `targets` (by
    default the whole study)."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        *targets,  # before --configfile and --config, which take every value after them
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(REPO / "config" / "config.yaml"),
        "--config",
        *config,
        "--cores",
        str(cores),
        "--quiet",
    ]


def run_snakemake(command: list[str]) -> float:
    """Run it; its wall seconds."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def job_seconds(results: Path, stage: str) -> dict[str, list[float]]:
    """Wall seconds of every job of a per-experiment stage (train: one job per block of seeds; refit: one per
    run), by experiment, from Snakemake's benchmark files."""
    seconds: dict[str, list[float]] = {}
    for path in sorted((results / "benchmarks" / stage).glob("*/seed*.tsv")):
        seconds.setdefault(path.parent.name, []).append(float(path.read_text().splitlines()[1].split("\t")[0]))
    return seconds


def seed_rounds(results: Path) -> dict:
    """What the seed policy did, and its training job seconds against every experiment on UNIFORM_SEEDS seeds
    (each experiment's missing runs at its own job seconds per run)."""
    from mlpstudy.io import read_json

    rounds = read_json(results / "comparison" / "rounds.json", ("seeds", "reason", "rounds"))
    train = job_seconds(results, "train")
    spent = sum(sum(times) for times in train.values())
    uniform = sum(sum(times) / len(rounds["seeds"][name]) * UNIFORM_SEEDS for name, times in train.items())
    return {
        "seeds": {name: len(seeds) for name, seeds in rounds["seeds"].items()},
        "rounds": len(rounds["rounds"]),
        "reason": rounds["reason"],
        "train_jobs": sum(len(times) for times in train.values()),
        "train_job_seconds": spent,
        "uniform_train_job_seconds": uniform,
        "ratio": spent / uniform,
    }


def predict_check(results: Path) -> dict:
    """The finished study's bundle as a user meets it: `python -m mlpstudy predict` on every test image exported
    as a PNG file (accuracy against the bundle's own, per format, and its time), and on a 7 drawn black on white."""
    import numpy as np
    from PIL import Image, ImageDraw

    bundle = json.loads((results / "deploy" / "bundle.json").read_text())
    data = np.load(results / "data" / "dataset.npz")
    check = {"images": len(data["y_test"]), "formats": {}}
    with tempfile.TemporaryDirectory() as folder:
        for index, image in enumerate(data["x_test"]):
            Image.fromarray(image).save(Path(folder) / f"{index:05d}.png")
        for model_format in ("tflite", "keras"):
            start = time.perf_counter()
            lines = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "mlpstudy",
                    "predict",
                    str(results / "deploy"),
                    folder,
                    "--format",
                    model_format,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.splitlines()
            seconds = time.perf_counter() - start
            predicted = np.array([int(line.split("\t")[1]) for line in lines])
            check["formats"][model_format] = {
                "predict_accuracy": float(np.mean(predicted == data["y_test"])),
                "bundle_accuracy": bundle["formats"][model_format]["accuracy"],
                "seconds": seconds,
            }
        drawing = Image.new("L", (160, 220), color=255)
        ImageDraw.Draw(drawing).line([(40, 30), (110, 30), (60, 190)], fill=0, width=14)
        drawing.save(Path(folder) / "seven.png")
        line = subprocess.run(
            [sys.executable, "-m", "mlpstudy", "predict", str(results / "deploy"), str(Path(folder) / "seven.png")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    check["drawn_seven"] = line.split("\t")[1:]
    return check


def study_benchmark(data_path: str, cores: int, gemm_gflops: float, keep: bool) -> dict:
    """Wall time of the full default study from empty results/, then of a no-op rerun (three times); peak memory
    per job; job seconds per stage; training arithmetic and the efficiency it implies; what the seed rounds
    cost against a uniform study."""
    from mlpstudy.io import read_json
    from mlpstudy.models import training_flop
    from mlpstudy.report import stage_timing

    workdir = Path(tempfile.mkdtemp(prefix=f"mlpstudy-study-{cores}-"))
    command = snakemake_command(workdir, cores, f"data_path={data_path}")
    full = run_snakemake(command)
    noop = [run_snakemake(command) for _ in range(3)]
    results = workdir / "results"
    rss = {
        str(path.relative_to(results / "benchmarks")): float(line.split("\t")[2])
        for path in (results / "benchmarks").rglob("*.tsv")
        for line in path.read_text().splitlines()[1:]
    }
    flop = 0.0
    for path in [
        *(results / "experiments").glob("*/seed*/metrics.json"),
        *(results / "refit").glob("*/seed*/metrics.json"),
    ]:
        run = read_json(path, ("spec", "epochs", "train_images"))
        flop += training_flop({**run["spec"], "epochs": run["epochs"]}, run["train_images"])
    by_stage: dict[str, list[Path]] = {}
    for path in sorted((results / "benchmarks").rglob("*.tsv")):  # <stage>.tsv or <stage>/.../<job>.tsv
        by_stage.setdefault(path.relative_to(results / "benchmarks").parts[0].removesuffix(".tsv"), []).append(path)
    stages = stage_timing(by_stage)
    rounds = seed_rounds(results)
    predict = predict_check(results)
    if not keep:
        shutil.rmtree(workdir)
    largest = max(rss, key=rss.get)
    return {
        "cores": cores,
        "wall_seconds": full,
        "noop_seconds": noop,
        "training_tflop": flop / 1e12,
        "limit_seconds": flop / (min(cores, os.cpu_count()) * gemm_gflops * 1e9),
        "efficiency": flop / (min(cores, os.cpu_count()) * gemm_gflops * 1e9) / full,
        "peak_rss_mb_max": rss[largest],
        "peak_rss_job": largest,
        "stages": stages,
        "seed_rounds": rounds,
        "predict": predict,
        "folder": str(workdir) if keep else None,
    }


def rounds_benchmark(data_path: str) -> dict:
    """The default study's experiments on smoke-sized data, up to the choice (rounds.json): trained by the
    adaptive seed policy with max UNIFORM_SEEDS, and uniformly on UNIFORM_SEEDS seeds. Training job seconds of
    each, from Snakemake's benchmark files."""
    policies = {
        "adaptive": f"seeds={{max: {UNIFORM_SEEDS}}}",
        "uniform": f"seeds={{adaptive: false, max: {UNIFORM_SEEDS}}}",
    }
    measured = {}
    for name, policy in policies.items():
        with tempfile.TemporaryDirectory(prefix=f"mlpstudy-rounds-{name}-") as folder:
            workdir = Path(folder)
            command = snakemake_command(
                workdir, 2, f"data_path={data_path}", *SMOKE_SIZE, policy, targets=("results/comparison/rounds.json",)
            )
            wall = run_snakemake(command)
            rounds = seed_rounds(workdir / "results")
            measured[name] = {"wall_seconds": wall, **rounds}
        print(
            f"rounds, {name}: {measured[name]['train_jobs']} training jobs, "
            f"{measured[name]['train_job_seconds']:.0f} job s",
            flush=True,
        )
    measured["ratio"] = measured["adaptive"]["train_job_seconds"] / measured["uniform"]["train_job_seconds"]
    return measured


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def markdown(report: dict) -> str:
    gemm = report["gemm_gflops_1_thread"]
    lines = [
        (
            f"Measured {report['date']} on {report['machine']} ({report['cpus']} CPUs) by "
            f"`benchmarks/run_benchmark.py {' '.join(report['arguments'])}`."
        ),
        (
            f"Single-thread GEMM rate (TensorFlow float32 2048^3 matmul, best of 5): {gemm['large']:.1f} GFLOP/s; "
            f"with 2 threads {report['gemm_gflops_2_threads']['large']:.1f}."
        ),
        "",
    ]
    if "speed" in report:
        speed = report["speed"]
        lines += [
            (
                f"Speed: one thread, {report['epochs']} epochs per run, median of epochs 2..{report['epochs']} over "
                f"{report['repeats']} alternating runs. Each epoch trains on 48,000 images and validates on 12,000; "
                "GFLOP/epoch counts both."
            ),
            "",
            (
                "| experiment | plain `fit()` s/epoch | engine s/epoch | ratio | GFLOP/epoch | engine GFLOP/s | "
                "% of 1-thread GEMM rate | val acc fit / engine |"
            ),
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in speed["rows"]:
            rate = row["gflop_per_epoch"] / row["engine_s_per_epoch"]
            lines.append(
                f"| {row['experiment']} | {row['fit_s_per_epoch']:.2f} | {row['engine_s_per_epoch']:.2f} | "
                f"{row['ratio']:.2f} | {row['gflop_per_epoch']:.1f} | {rate:.1f} | {100 * rate / gemm['large']:.0f}% | "
                f"{row['fit_val_accuracy']:.4f} / {row['engine_val_accuracy']:.4f} |"
            )
        threads = speed["threads_s_per_epoch"]
        lines += ["", f"256x2 engine with 1 thread: {threads['1']:.2f} s/epoch; with 2 threads: {threads['2']:.2f}."]
        together = speed["side_by_side_s_per_epoch"]
        lines.append(
            "256x2 engine jobs run side by side, s/epoch of each: "
            + "; ".join(f"{jobs} at once: " + ", ".join(f"{t:.2f}" for t in times) for jobs, times in together.items())
            + " (throughput relative to one job alone: "
            + ", ".join(f"{sum(together['1'][0] / t for t in times):.2f}x" for times in together.values())
            + ")."
        )
        lines += [
            f"A training job of {name} ({job['epochs']} epochs a run, run as a Snakemake job runs it): one seed "
            f"{job['wall_seconds']:.1f} s, of which {job['fixed_seconds']:.1f} s beyond its steady-state epochs of "
            f"{job['steady_epoch_seconds']:.2f} s; three seeds {job['block_wall_seconds']:.1f} s, of which "
            f"{job['block_fixed_seconds']:.1f} s beyond their epochs: {job['further_seed_fixed_seconds']:.1f} s for "
            "each seed after the first."
            for name, job in speed["fixed_cost"].items()
        ]
        lines.append("")
    if "equivalence" in report:
        lines += [
            (
                "Equivalence: test accuracy (10,000 images) of the engine and of plain `fit()` (one call per epoch on a "
                "freshly shuffled copy of the data), same split, full epochs, seeds 0..n-1; difference engine - fit "
                "with its 95% t-interval paired by seed."
            ),
            "",
            (
                "| experiment | seeds | plain `fit()` mean (SD) | engine mean (SD) | difference, pp | 95% interval, pp | "
                "inside ±0.2 pp |"
            ),
            "|---|---|---|---|---|---|---|",
        ]
        for row in report["equivalence"]:
            lines.append(
                f"| {row['experiment']} | {row['seeds']} | {100 * row['fit_test_accuracy']:.2f}% "
                f"({100 * row['fit_sd']:.2f}) | {100 * row['engine_test_accuracy']:.2f}% ({100 * row['engine_sd']:.2f}) "
                f"| {100 * row['difference']:+.3f} | [{100 * row['low']:+.3f}, {100 * row['high']:+.3f}] | "
                f"{'yes' if row['within_0.2pp'] else 'no'} |"
            )
        lines.append("")
    for study in report.get("study", []):
        lines.append(
            f"Full default study with --cores {study['cores']}: **{study['wall_seconds'] / 60:.1f} min** "
            f"({study['training_tflop']:.1f} TFLOP of training; at the GEMM rate on "
            f"{min(study['cores'], report['cpus'])} cores that is {study['limit_seconds'] / 60:.1f} min, an "
            f"efficiency of {100 * study['efficiency']:.0f}%); no-op rerun "
            f"{', '.join(f'{s:.2f}' for s in study['noop_seconds'])} s; largest peak memory "
            f"{study['peak_rss_mb_max']:.0f} MB ({study['peak_rss_job']}). Job seconds per stage: "
            + ", ".join(
                f"{row['stage']} {row['total_seconds']:.0f} s ({row['jobs']} jobs, peak {row['max_rss_mb']:.0f} MB)"
                for row in study["stages"]
            )
            + "."
        )
        rounds = study["seed_rounds"]
        lines.append(
            f"Its seed rounds: {rounds['rounds']} round(s), stopped because: {rounds['reason']}. Seeds per experiment: "
            + ", ".join(f"{name} {count}" for name, count in rounds["seeds"].items())
            + f". {rounds['train_jobs']} training jobs, {rounds['train_job_seconds']:.0f} job seconds: "
            f"{100 * rounds['ratio']:.0f}% of the {rounds['uniform_train_job_seconds']:.0f} job seconds estimated for "
            f"every experiment on {UNIFORM_SEEDS} seeds (each experiment's runs at its own job seconds per run)."
        )
        predict = study["predict"]
        lines.append(
            f"Its bundle through `python -m mlpstudy predict`, on the {predict['images']:,} test images exported as "
            "PNG files: "
            + ", ".join(
                f"{name} {100 * row['predict_accuracy']:.2f}% (the bundle states {100 * row['bundle_accuracy']:.2f}%) "
                f"in {row['seconds']:.1f} s"
                for name, row in predict["formats"].items()
            )
            + f"; a 7 drawn black on white at 160 x 220 px: read as {' '.join(predict['drawn_seven'])}."
        )
    if "rounds" in report:
        rounds = report["rounds"]
        adaptive, uniform = rounds["adaptive"], rounds["uniform"]
        lines += [
            "",
            (
                f"Seed rounds on smoke-sized data (the default study's experiments, {', '.join(SMOKE_SIZE)}, --cores 2, "
                f"up to the choice): the adaptive policy with max {UNIFORM_SEEDS} trained {adaptive['train_jobs']} jobs "
                f"in {adaptive['train_job_seconds']:.0f} job seconds ({adaptive['rounds']} rounds, stopped because: "
                f"{adaptive['reason']}); every experiment on {UNIFORM_SEEDS} seeds trained {uniform['train_jobs']} jobs "
                f"in {uniform['train_job_seconds']:.0f} job seconds. Ratio: **{100 * rounds['ratio']:.0f}%**."
            ),
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-path", required=True, help="mnist.npz in the keras.datasets layout")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    parser.add_argument("--repeats", type=int, default=2, help="speed: alternating runs per net")
    parser.add_argument("--epochs", type=int, default=3, help="speed: epochs per run")
    parser.add_argument("--seeds", type=int, default=5, help="equivalence: seeds per net and way, at least")
    parser.add_argument("--workers", type=int, default=2, help="equivalence: processes side by side")
    parser.add_argument("--keep-study", action="store_true", help="keep the study folders (their paths go in the JSON)")
    parser.add_argument(
        "--cores", type=int, action="append", help="study: --cores of a study run (repeatable; default 2 and 4)"
    )
    parser.add_argument("--dry-run", action="store_true", help="check the arguments and say what would run")
    args = parser.parse_args()
    parts = args.only or PARTS
    data_path = str(Path(args.data_path).resolve())
    if not Path(data_path).is_file():
        parser.error(f"--data-path {args.data_path}: no such file")
    if args.dry_run:
        print(f"would measure: {', '.join(parts)}")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": cpu_model(),
        "cpus": os.cpu_count(),
        "arguments": sys.argv[1:],
        "epochs": args.epochs,
        "repeats": args.repeats,
        "gemm_gflops_1_thread": probe(GEMM_PROBE, 1),
        "gemm_gflops_2_threads": probe(GEMM_PROBE, 2),
    }
    name = "benchmark" if parts == PARTS else "benchmark_" + "_".join(parts)

    def save() -> None:
        """Write what is measured so far, so that a later part's failure loses nothing."""
        (OUT / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
        (OUT / f"{name}.md").write_text(markdown(report))

    with tempfile.TemporaryDirectory() as tmp:
        if "speed" in parts:
            report["speed"] = speed_benchmark(prepare_dataset(data_path, Path(tmp)), args.repeats, args.epochs)
            save()
        if "equivalence" in parts:
            report["equivalence"] = equivalence_benchmark(data_path, Path(tmp), args.seeds, args.workers)
            save()
    if "study" in parts:
        report["study"] = [
            study_benchmark(data_path, cores, report["gemm_gflops_1_thread"]["large"], args.keep_study)
            for cores in args.cores or (2, 4)
        ]
        save()
    if "rounds" in parts:
        report["rounds"] = rounds_benchmark(data_path)
    save()
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
