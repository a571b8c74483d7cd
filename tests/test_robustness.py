"""Robustness tables, the pick's rank under corruption and how the summary words it; the deployed bundle's
warning threshold and seed ensemble."""

import numpy as np
import pandas as pd
import pytest

from mlpstudy.deploy import ensemble_model, flagged_summary, warning_threshold
from mlpstudy.robustness import DEPLOYED, rank_changes, robustness_table
from mlpstudy.selection import closest_competitors
from mlpstudy.summary import robustness_sentence

SETS = [("none", 0, "clean test images"), ("shift", 3, "shift 3 px"), ("blur", 1, "blur σ = 0.6 px")]


def right_wrong(accuracies, n_images=4000, seed=0):
    """(n_sets, n_seeds, n_images) right/wrong with the given accuracy per set and seed."""
    rng = np.random.default_rng(seed)
    return np.array([[rng.random(n_images) < a for a in seeds] for seeds in accuracies])


@pytest.fixture
def table():
    correct = {
        DEPLOYED: right_wrong([[0.98], [0.50], [0.97]], seed=1),
        "pick": right_wrong([[0.97, 0.97, 0.97], [0.50, 0.50, 0.50], [0.965, 0.965, 0.965]], seed=2),
        # Ahead of the pick by 20 pp on the shifted images only, and indistinguishable elsewhere.
        "rival": right_wrong([[0.95, 0.95, 0.95], [0.70, 0.70, 0.70], [0.95, 0.95, 0.95]], seed=3),
    }
    return robustness_table(correct, SETS, "pick")


def test_rows_carry_intervals_differences_and_ranks(table):
    assert len(table) == 9
    deployed = table[table["model"] == DEPLOYED]
    assert deployed["role"].eq("deployed").all() and deployed["rank"].isna().all()
    assert (deployed["low"] < deployed["accuracy"]).all() and (deployed["accuracy"] < deployed["high"]).all()
    shift = table[table["corruption"] == "shift"].set_index("model")
    assert shift.loc["rival", "rank"] == 1 and shift.loc["pick", "rank"] == 2
    assert shift.loc["rival", "versus_pick"] == pytest.approx(0.2, abs=0.03)
    assert shift.loc["rival", "versus_pick_low"] > 0
    assert np.isnan(shift.loc["pick", "versus_pick"])


def test_rank_changes_name_the_setting_the_leader_and_its_lead(table):
    changes = rank_changes(table)
    assert changes[["corruption", "severity", "clean_rank", "rank", "leader"]].values.tolist() == [
        ["shift", 3, 1, 2, "rival"]
    ]
    sentence = robustness_sentence(table, changes)
    assert "the pick pick, rank 1 of 2 on clean images" in sentence
    assert "ranks differently in 1 of them: shift 3 px (rank 2, rival ahead by +" in sentence
    assert sentence.endswith("beyond seed and test-set noise in 1 of these settings.")
    unchanged = table[table["corruption"] != "shift"]
    assert robustness_sentence(unchanged, rank_changes(unchanged)).endswith("keeps that rank in every setting.")


def test_closest_competitors_are_the_best_others_on_validation(tmp_path):
    runs = pd.DataFrame(
        {
            "experiment": ["a", "a", "b", "b", "c", "c", "d", "d"],
            "val_accuracy": [0.9, 0.92, 0.95, 0.95, 0.8, 0.8, 0.93, 0.91],
        }
    )
    runs.to_csv(tmp_path / "runs.csv", index=False)
    assert closest_competitors(tmp_path / "runs.csv", "b", 2) == ["d", "a"]
    assert closest_competitors(tmp_path / "runs.csv", "c", 5) == ["b", "d", "a"]


def test_warning_threshold_is_the_lowest_probability_keeping_the_target_accuracy():
    # Confidence 0.9 .. 0.1; wrong at 0.6 and at 0.3 and below.
    probabilities = np.zeros((9, 10))
    probabilities[:, 0] = np.linspace(0.9, 0.1, 9)
    probabilities[:, 1] = 0.05
    labels = np.array([0, 0, 0, 1, 0, 0, 1, 1, 1])
    assert warning_threshold(probabilities, labels, 1.0) == pytest.approx(0.7)
    assert warning_threshold(probabilities, labels, 5 / 6) == pytest.approx(0.4)
    assert warning_threshold(probabilities, labels * 0 + 1, 0.5) == 1.0  # never right: flag everything
    summary = flagged_summary(probabilities, labels, 0.7)
    assert (summary["flagged"], summary["unflagged_accuracy"], summary["flagged_accuracy"]) == (6, 1.0, 2 / 6)


def test_the_ensemble_model_averages_its_members_probabilities():
    import keras

    members = []
    for seed in (0, 1, 2):
        keras.utils.set_random_seed(seed)
        members.append(
            keras.Sequential(
                [keras.Input((6,)), keras.layers.Dense(4, activation="softmax", name="output")], name="mlp"
            )
        )
    inputs = np.random.default_rng(0).random((5, 6)).astype(np.float32)
    expected = np.mean([member(inputs).numpy() for member in members], axis=0)
    np.testing.assert_allclose(ensemble_model(members)(inputs).numpy(), expected, rtol=1e-6)
