"""The executive summary and reproduction sentences, on crafted results: ties, one seed, the pick being or not
being the best on validation, ensembles, refits."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlpstudy.summary import (
    executive_summary,
    parameters_phrase,
    reproduction_rows,
    reproduction_shift,
    reproduction_verdict,
    seeds_received,
    share,
)


def table(rows):
    base = {
        "description": "A net.",
        "n_seeds": 3,
        "latency_ms_single": 0.2,
        "latency_ms_single_low": 0.15,
        "latency_ms_single_high": 0.25,
        "generalization_gap": 0.01,
        "epochs": 10.0,
        "batch_size": 32,
        "test_expected_informative": True,
        "published_test_accuracy": math.nan,
    }
    frame = pd.DataFrame([{**base, **row} for row in rows])
    frame["test_expected_low"] = frame["test_accuracy"] - 0.003
    frame["test_expected_high"] = frame["test_accuracy"] + 0.003
    return frame


def selection(picked, best, overfits=False, candidates=None, rule="one_se"):
    candidates = candidates or list(dict.fromkeys([best, picked]))
    return {
        "rule": rule,
        "picked": picked,
        "best_validation": best,
        "picked_overfits": overfits,
        "overfit_threshold": 0.02,
        "candidates": candidates,
        "margins": {"small": 0.0021, "big": 0.0, "mid": 0.0015},
    }


def versus(rows, deploy="single"):
    columns = ["experiment", "difference", "difference_ci_low", "difference_ci_high", "p_holm", "verdict"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.assign(deploy=deploy, seed_component_known=True)


def best(values):
    return pd.DataFrame([{"experiment": k, "p_best": v} for k, v in values.items()])


def facts(comparator, alternatives, stability=0.83):
    return {
        "comparator": comparator,
        "n_val": 12000,
        "n_test": 10000,
        "equivalence_margin": 0.002,
        "bootstrap_draws": 2000,
        "decision_stability": stability,
        "worst_class": {
            "class": "8",
            "images": 974,
            "accuracy": 0.961,
            "low": 0.95,
            "high": 0.972,
            "informative": True,
        },
        "alternatives": alternatives,
    }


DEPLOYED = {"deploy": "single", "seeds": [0], "train_images": 60000, "accuracy": 0.9781, "low": 0.9751, "high": 0.9808}
SMALL = {"experiment": "small", "params": 50_000, "test_accuracy": 0.975, "val_accuracy": 0.974}
BIG = {
    "experiment": "big",
    "params": 500_000,
    "test_accuracy": 0.981,
    "val_accuracy": 0.976,
    "latency_ms_single": 0.5,
    "latency_ms_single_low": 0.45,
    "latency_ms_single_high": 0.55,
}


FIXED_SEEDS = {
    "policy": {"adaptive": False, "seeds": [0, 1, 2]},
    "rounds": [],
    "seeds": {"small": [0, 1, 2], "big": [0, 1, 2]},
    "reason": None,
    "cost": {"runs": 6, "train_seconds": 60.0},
}


def summary(
    rows=(SMALL, BIG),
    chosen=None,
    compared=None,
    alternatives=None,
    deployed=DEPLOYED,
    worst=None,
    rounds=FIXED_SEEDS,
    **kwargs,
):
    chosen = chosen or selection("small", "big")
    comparator = (
        next(row["experiment"] for row in rows if row["experiment"] != chosen["picked"]) if len(rows) > 1 else None
    )
    return executive_summary(
        table(list(rows)),
        chosen,
        compared if compared is not None else versus([("big", -0.006, -0.009, -0.003, 0.0004, "worse")]),
        best({row["experiment"]: 1 / len(rows) for row in rows}),
        {
            **facts(comparator, alternatives or {"one_se": chosen["picked"], "tolerance": chosen["picked"]}),
            **({"worst_class": worst} if worst else {}),
        },
        "digit",
        deployed,
        rounds,
        **kwargs,
    )


def test_headline_is_the_deployed_file_and_the_recipe_is_said_apart():
    sentences = summary()
    assert sentences[0] == (
        "We recommend small (A net). The model to ship is one model, seed 0, trained on 60,000 images: it reads "
        "97.81% of 10,000 test digits correctly (95% CI 97.51%–98.08%; this file is fixed, so the interval is the "
        "test set's sampling error)."
    )
    assert sentences[1] == (
        "For the recipe rather than this file: a model trained this way reaches 97.50% on average, and one more "
        "training run would land within 97.20%–97.80% (95% prediction interval from 3 seeds: seed-to-seed and "
        "test-set variation)."
    )


def test_pick_is_not_best_on_validation_compares_with_the_best_there_in_the_deployed_quantity():
    text = " ".join(summary())
    assert (
        "Against big, the best experiment on validation, its expected test accuracy of one model (paired over test "
        "images and seeds) differs by -0.60 pp (95% CI -0.90 pp to -0.30 pp; Holm-adjusted p = 0.0004): the "
        "recommended model is worse."
    ) in text
    assert "10.0x fewer parameters (50,000 vs 500,000)" in text
    assert "a faster answer per image (0.20 vs 0.50 ms" in text
    assert "small is 0.200 pp below the best on validation, within its tie margin of 0.210 pp" in text
    assert "picks small in 83% of them, and big is best on validation in 50%" in text


def test_pick_is_best_on_validation_compares_with_the_runner_up_there_not_with_test():
    # mid is more accurate on test than the pick; the comparator is still chosen on validation.
    mid = {"experiment": "mid", "params": 450_000, "test_accuracy": 0.99, "val_accuracy": 0.970}
    text = " ".join(
        summary(
            rows=(BIG, mid),
            chosen=selection("big", "big", candidates=["big"]),
            compared=versus([("mid", -0.0009, -0.0015, -0.0003, 0.2, "equivalent")]),
        )
    )
    assert "Against mid, the runner-up on validation" in text and "equivalent within ±0.2 pp" in text
    assert "11% more parameters (500,000 vs 450,000)" in text and "x more" not in text
    assert "no other experiment was tied with the best on validation" in text


def test_noise_is_not_stated_as_a_difference():
    twin = {**BIG, "experiment": "twin", "params": 500_000, "latency_ms_single": 0.44}
    text = " ".join(
        summary(
            rows=(BIG, twin),
            chosen=selection("big", "big"),
            compared=versus([("twin", 0.0004, -0.0030, 0.0038, 0.8, "cannot tell")]),
        )
    )
    assert "the data can neither separate them nor show them equivalent within ±0.2 pp" in text
    assert "the same number of parameters (500,000)" in text
    assert "a latency per image within measurement spread of it (0.45–0.55 vs 0.45–0.55 ms over seeds)" in text
    assert "0.50 ms instead of" not in text and "faster" not in text


def test_ensemble_deployment_says_so_everywhere():
    deployed = {**DEPLOYED, "deploy": "ensemble", "seeds": [0, 1, 2]}
    compared = versus([("big", -0.004, -0.006, -0.002, 0.001, "worse")], deploy="ensemble")
    text = " ".join(summary(compared=compared, deployed=deployed))
    assert "The model to ship is the ensemble of its 3 seeds (0, 1, 2)" in text
    assert "its seed-ensemble test accuracy (McNemar mid-p) differs by -0.40 pp" in text


def test_one_seed_study_reads_sensibly():
    rows = [{**row, "n_seeds": 1} for row in (SMALL, BIG)]
    frame_rows = [{**row, "test_expected_informative": False} for row in rows]
    worst = {"class": "8", "images": 974, "accuracy": 0.961, "low": math.nan, "high": math.nan, "informative": False}
    text = " ".join(summary(rows=frame_rows, worst=worst))
    assert (
        "its single run reads 97.50% of the test digits; with one seed, how much another training run would differ is unknown"
        in text
    )
    assert "prediction interval" not in text.split("weakest class")[1]


def test_uninformative_interval_is_called_so():
    text = " ".join(summary(rows=({**SMALL, "test_expected_informative": False}, BIG)))
    assert "reaches 0% or 100% and is uninformative" in text


def test_budget_difference_and_overfitting_are_stated():
    text = " ".join(
        summary(
            rows=(
                {**SMALL, "epochs": 20.0, "batch_size": 128, "generalization_gap": 0.03},
                BIG,
                {**BIG, "experiment": "b2"},
            ),
            chosen=selection("small", "big", overfits=True),
            compared=versus(
                [("big", -0.006, -0.009, -0.003, 0.0004, "worse"), ("b2", 0, -0.01, 0.01, 1, "cannot tell")]
            ),
            alternatives={"one_se": "small", "tolerance": "big"},
        )
    )
    assert (
        "it trained 20 epochs at batch 128 (mean over seeds), while most experiments trained 10 epochs at batch 32"
        in text
    )
    assert "its train–validation gap is 3.00 pp, beyond noise above the 2.0 pp over-fitting flag" in text
    assert "the tolerance rule would pick big" in text
    assert (
        "its weakest class is 8, 96.10% of 974 test digits (95% prediction interval 95.00%–97.20% for one model)"
        in text
    )


def refits(rows):
    base = {
        "n_seeds": 3,
        "train_images": 60000,
        "gain_ci_low": 0.001,
        "gain_ci_high": 0.005,
        "gain_distinguishable": True,
    }
    return pd.DataFrame([{**base, **row} for row in rows])


def refit_sentence_of(sentences):
    return next(sentence for sentence in sentences if sentence.startswith("Retraining on all"))


def test_refit_sentence_says_whether_the_gain_is_beyond_noise():
    sentences = summary(
        refits=refits(
            [
                {"experiment": "small", "role": "pick", "test_accuracy": 0.978, "gain": 0.003},
                {"experiment": "big", "role": "ceiling", "test_accuracy": 0.984, "gain": 0.001},
            ]
        )
    )
    assert refit_sentence_of(sentences) == (
        "Retraining on all 60,000 training images instead of 48,000 changed its mean test accuracy by +0.30 pp "
        "(95% CI +0.10 pp to +0.50 pp, paired over test images and seeds): distinguishable from seed and test-set "
        "noise. The accuracy ceiling, big, retrained the same way reaches 98.40% on average over 3 seeds."
    )
    noisy = summary(
        refits=refits(
            [
                {
                    "experiment": "small",
                    "role": "pick and ceiling",
                    "test_accuracy": 0.978,
                    "gain": 0.002,
                    "gain_ci_low": -0.0015,
                    "gain_distinguishable": False,
                }
            ]
        )
    )
    assert refit_sentence_of(noisy).endswith(
        "not distinguishable from seed and test-set noise; it is also the study's accuracy ceiling."
    )


@pytest.mark.parametrize("tied, expected", [(True, "partly supports"), (False, "does not support")])
def test_reproduction_verdict(tied, expected):
    rows = table(
        [
            {**SMALL, "published_test_accuracy": 0.97, "generalization_gap": 0.02},
            {**BIG, "published_test_accuracy": 0.98, "generalization_gap": 0.01},
        ]
    )
    chosen = selection("big", "big", candidates=["big", "small"] if tied else ["big"])
    sentence = reproduction_verdict(
        rows,
        chosen,
        versus([("small", -0.006, -0.009, -0.003, 0.03, "worse")]),
        {"pick": "small", "reason": "the smallest gap"},
    )
    assert sentence.startswith(f"Our evidence {expected} the source study's pick, small (chosen for the smallest gap)")
    assert "0.20 pp below the best" in sentence and "tie margin of 0.210 pp" in sentence
    assert (
        'on test it is +0.60 pp from our pick big (Holm-adjusted p = 0.03; for our pick that reads "worse")' in sentence
    )
    assert "ranks 2 of 2" in sentence


def test_reproduction_verdict_when_we_agree_or_the_source_picked_nothing():
    rows = table([{**SMALL, "published_test_accuracy": 0.97}, {**BIG, "published_test_accuracy": 0.98}])
    sentence = reproduction_verdict(rows, selection("small", "big"), versus([]), {"pick": "small", "reason": "x"})
    assert sentence.startswith("Our evidence supports the source study's pick, small")
    sentence = reproduction_verdict(
        rows, selection("big", "big"), versus([]), {"pick": None, "reason": "it compared activations only"}
    )
    assert sentence == (
        "The source study recommended no model (it compared activations only); on our evidence the "
        "decision rule picks big."
    )


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.999, "99.9%"),
        (1.0, "100%"),
        (0.0005, "0.1%"),
        (0.0, "0%"),
        (0.7, "70%"),
        (0.0049, "0.5%"),
        (1999 / 2000, "99.95%"),
    ],
)
def test_share_never_rounds_to_always_or_never(value, expected):
    assert share(value) == expected


@pytest.mark.parametrize(
    "pick, other, expected",
    [
        (50_000, 500_000, "10.0x fewer parameters (50,000 vs 500,000)"),
        (226_000, 269_000, "16% fewer parameters (226,000 vs 269,000)"),
        (100, 100, "the same number of parameters (100)"),
        (300, 100, "3.0x more parameters (300 vs 100)"),
    ],
)
def test_parameter_ratios_only_when_worth_a_multiplier(pick, other, expected):
    assert parameters_phrase(pick, other) == expected


def test_reproduction_rows_use_the_prediction_interval_for_one_run():
    frame = pd.DataFrame(
        {
            "experiment": ["inside", "outside", "one_seed", "unpublished"],
            "test_accuracy": [0.975, 0.970, 0.972, 0.98],
            "test_run_low": [0.970, 0.968, math.nan, 0.97],
            "test_run_high": [0.980, 0.972, math.nan, 0.99],
            "published_test_accuracy": [0.978, 0.976, 0.971, math.nan],
        }
    )
    rows = reproduction_rows(frame)
    assert [(row["experiment"], row["published_inside_interval"]) for row in rows] == [
        ("inside", "yes"),
        ("outside", "no"),
        ("one_seed", "n/a"),
    ]
    assert [round(row["difference"], 6) for row in rows] == [-0.003, -0.006, 0.001]


def test_reproduction_shift_is_the_mean_difference_with_its_interval_and_sign_test():
    ours = np.array([0.9712, 0.9745, 0.9690, 0.9701, 0.9740, 0.9722])
    published = np.array([0.9762, 0.9791, 0.9737, 0.9726, 0.9784, 0.9765])
    frame = pd.DataFrame({"test_accuracy": ours, "published_test_accuracy": published})
    differences = ours - published
    interval = stats.ttest_1samp(differences, 0).confidence_interval(0.95)
    sentence = reproduction_shift(frame)
    assert f"our means are {differences.mean() * 100:+.2f} pp from the published runs on average" in sentence
    assert f"(95% CI {interval.low * 100:+.2f} pp to {interval.high * 100:+.2f} pp)" in sentence
    assert "6 of 6 are below" in sentence and "sign test p = 0.031" in sentence
    assert sentence.endswith("a systematic shift beyond chance.")
    mixed = frame.assign(test_accuracy=published + np.array([0.001, -0.001, 0.002, -0.002, 0.0005, -0.0004]))
    assert reproduction_shift(mixed).endswith("no systematic shift we can tell from chance.")


def test_seed_rounds_are_summarised_with_their_stopping_reason_and_saving():
    rounds = {
        "policy": {"adaptive": True, "initial": 3, "max": 10, "round": 2, "stop_when": 0.95},
        "rounds": [{}, {}, {}],
        "seeds": {"small": [0, 1, 2, 3, 4, 5, 6], "big": [0, 1, 2, 3, 4, 5, 6], "tiny": [0, 1, 2], "huge": [0, 1, 2]},
        "reason": "stable at 97.0% after 7 seeds",
        "cost": {
            "runs": 20,
            "runs_at_max": 40,
            "train_seconds": 300.0,
            "train_seconds_at_max": 600.0,
            "saved_share": 0.5,
        },
    }
    sentences = summary(rounds=rounds)
    seeds = next(sentence for sentence in sentences if sentence.startswith("Seeds went where"))
    assert "over 3 round(s): 7 for small, big; 3 for the other 2;" in seeds
    assert "the rounds stopped because: stable at 97.0% after 7 seeds" in seeds
    assert "20 training runs instead of 40 with 10 seeds for every experiment, 50% less training time" in seeds
    # Fixed seeds: no such sentence.
    assert not any(sentence.startswith("Seeds went where") for sentence in summary())


def test_seeds_received_groups_experiments_by_their_number_of_seeds():
    assert seeds_received({"a": [0, 1, 2], "b": [0, 1, 2]}) == "3 seed(s) each"
    assert seeds_received({"a": [0, 1, 2, 3, 4], "b": [0, 1, 2], "c": [0, 1, 2]}) == "5 for a; 3 for the other 2"
