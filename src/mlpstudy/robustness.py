"""How the deployed model, the pick and its closest competitors hold up on messier digits: their accuracy on
corrupted copies of the test images (mlpstudy.corruptions), per corruption and severity, with intervals, and
whether the pick's rank among the experiments changes under corruption.

The experiments are compared on their selection runs (the same training images for all, `initial` seeds), so
that their ranks are comparable; the deployed model is the bundle's own file, a fixed object, so its intervals
cover the test images only (Wilson).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from mlpstudy.corruptions import CORRUPTIONS, corrupted_sets, describe
from mlpstudy.data import read_prepared, to_inputs
from mlpstudy.io import atomic_path, check_file, read_csv
from mlpstudy.stats import expected_accuracy_interval, paired_difference, wilson_interval

log = logging.getLogger("mlpstudy.robustness")

DEPLOYED = "deployed model"
CLEAN = "none"
ROBUSTNESS_COLUMNS = [
    "model",
    "role",
    "corruption",
    "severity",
    "setting",
    "n_seeds",
    "accuracy",
    "low",
    "high",
    "versus_pick",
    "versus_pick_low",
    "versus_pick_high",
    "rank",
]


def _sets(images: np.ndarray):
    """The clean test images, then every corrupted copy: (corruption, severity, setting, images)."""
    yield CLEAN, 0, "clean test images", images
    for corruption, severity, corrupted in corrupted_sets(images):
        yield corruption, severity, describe(corruption, severity), corrupted


def robustness_table(correct: dict[str, np.ndarray], sets: list[tuple], pick: str) -> pd.DataFrame:
    """One row per model and set. `correct[name]`: (n_sets, n_seeds, n_images) right/wrong, in the order of
    `sets` ((corruption, severity, setting) each); DEPLOYED, if present, has one "seed". Experiments get the
    expected-accuracy interval of one more model trained that way, their difference from the pick (paired over
    images) and their rank among the experiments by mean accuracy on that set (1 = most accurate)."""
    rows = []
    experiments = [name for name in correct if name != DEPLOYED]
    for index, (corruption, severity, setting) in enumerate(sets):
        means = {name: correct[name][index].mean() for name in experiments}
        order = sorted(experiments, key=lambda name: -means[name])
        for name, matrix in correct.items():
            runs = matrix[index]
            row = {"model": name, "corruption": corruption, "severity": severity, "setting": setting}
            if name == DEPLOYED:
                right = int(runs.sum())
                low, high = wilson_interval(right, runs.shape[1])
                row |= {"role": "deployed", "n_seeds": 1, "accuracy": right / runs.shape[1], "low": low, "high": high}
            else:
                mean, low, high = expected_accuracy_interval(runs)
                row |= {"role": "pick" if name == pick else "competitor", "n_seeds": len(runs)}
                row |= {"accuracy": mean, "low": low, "high": high, "rank": order.index(name) + 1}
                if name != pick:
                    versus = paired_difference(runs, correct[pick][index])
                    row |= {
                        "versus_pick": versus["difference"],
                        "versus_pick_low": versus["low"],
                        "versus_pick_high": versus["high"],
                    }
            rows.append(row)
    return pd.DataFrame(rows, columns=ROBUSTNESS_COLUMNS)


def rank_changes(table: pd.DataFrame) -> pd.DataFrame:
    """The pick's rows where its rank differs from its rank on the clean test images, with the experiment
    ranked first there and its lead over the pick (interval)."""
    pick_rows = table[table["role"] == "pick"]
    clean_rank = pick_rows.loc[pick_rows["corruption"] == CLEAN, "rank"].iloc[0]
    changed = pick_rows[pick_rows["rank"] != clean_rank]
    leaders = table[(table["rank"] == 1)].set_index(["corruption", "severity"])
    rows = []
    for _, row in changed.iterrows():
        leader = leaders.loc[(row["corruption"], row["severity"])]
        rows.append(
            {
                "corruption": row["corruption"],
                "severity": row["severity"],
                "setting": row["setting"],
                "clean_rank": int(clean_rank),
                "rank": int(row["rank"]),
                "leader": leader["model"],
                "lead": leader["versus_pick"],
                "lead_low": leader["versus_pick_low"],
                "lead_high": leader["versus_pick_high"],
            }
        )
    return pd.DataFrame(rows)


def evaluate_robustness(
    settings: dict,
    models: list[str],
    deployed_models: list[str],
    dataset: str,
    table: str,
    figure: str,
    examples_figure: str,
    threads: int = 1,
) -> pd.DataFrame:
    """Accuracy of the deployed object (built from its runs' Keras files `deployed_models` as the bundle builds
    it: deploy.load_deployed) and of each experiment's selection-run models (`models`: settings["experiments"]
    in order, each with len(settings["seeds"]) files in seed order) on the clean and corrupted test images of
    `dataset`; writes the table (.csv), its figure and a figure of example corrupted images, on `threads`
    threads. settings["pick"] names the pick among settings["experiments"]."""
    from mlpstudy.deploy import keras_probabilities, load_deployed
    from mlpstudy.plots import accuracy_under_corruption, corruption_examples
    from mlpstudy.training import configure_tensorflow

    configure_tensorflow(threads=threads, seed=0)
    import keras

    names, n_seeds = settings["experiments"], len(settings["seeds"])
    if len(models) != len(names) * n_seeds:
        raise ValueError(f"expected {len(names)} x {n_seeds} model files, got {len(models)}")
    for path in models:
        check_file(path)  # a damaged model is named, with the command that rebuilds it
    loaded = {DEPLOYED: [load_deployed(deployed_models)]}
    for i, name in enumerate(names):
        loaded[name] = [
            keras.models.load_model(path, compile=False) for path in models[i * n_seeds : (i + 1) * n_seeds]
        ]
    arrays = read_prepared(dataset, ("x_test", "y_test", "preprocessing"))
    labels, preprocessing = arrays["y_test"], str(arrays["preprocessing"])
    correct = {name: [] for name in loaded}
    sets, examples = [], {}
    for corruption, severity, setting, images in _sets(arrays["x_test"]):
        sets.append((corruption, severity, setting))
        examples[(corruption, severity)] = images[:1]
        inputs = to_inputs(images, preprocessing)
        for name, members in loaded.items():
            correct[name].append([keras_probabilities(model, inputs).argmax(axis=1) == labels for model in members])
        log.info("%s: %s", setting, {name: round(float(np.mean(c[-1])), 4) for name, c in correct.items()})
    result = robustness_table({name: np.array(c) for name, c in correct.items()}, sets, settings["pick"])
    with atomic_path(table) as tmp:
        result.to_csv(tmp, index=False)
    accuracy_under_corruption(result, CORRUPTIONS, figure)
    corruption_examples(examples, CORRUPTIONS, examples_figure)
    return result


def read_robustness(path) -> pd.DataFrame:
    return read_csv(path, tuple(ROBUSTNESS_COLUMNS))
