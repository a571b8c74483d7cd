"""The executive summary and reproduction sentences, on synthetic results."""

import math

import pandas as pd
import pytest

from mlpstudy.summary import executive_summary, reproduction_rows, reproduction_verdict, share


def table(rows):
    base = {
        "description": "A net.",
        "n_seeds": 3,
        "model_bytes": 1_000_000,
        "latency_ms_single": 0.2,
        "train_seconds": 30.0,
        "generalization_gap": 0.01,
        "test_accuracy_ci_low": math.nan,
        "test_accuracy_ci_high": math.nan,
        "published_test_accuracy": math.nan,
    }
    frame = pd.DataFrame([{**base, **row} for row in rows])
    frame["test_accuracy_ci_low"] = frame["test_accuracy"] - 0.001
    frame["test_accuracy_ci_high"] = frame["test_accuracy"] + 0.001
    return frame


def selection(picked, best, overfits=False, candidates=None):
    return {
        "picked": picked,
        "best_validation": best,
        "picked_overfits": overfits,
        "overfit_threshold": 0.02,
        "candidates": candidates or [picked, best],
        "margin": 0.001,
    }


def mcnemar(rows):
    return pd.DataFrame(rows, columns=["experiment", "p_holm", "significant"])


def best(values):
    return pd.DataFrame([{"experiment": k, "p_best": v} for k, v in values.items()])


def facts(most, alternatives):
    return {"most_accurate": most, "n_val": 12000, "n_test": 10000, "alternatives": alternatives}


SMALL = {"experiment": "small", "params": 50_000, "test_accuracy": 0.975, "val_accuracy": 0.974, "model_bytes": 600_000}
BIG = {
    "experiment": "big",
    "params": 500_000,
    "test_accuracy": 0.981,
    "val_accuracy": 0.976,
    "model_bytes": 6_000_000,
    "latency_ms_single": 0.5,
    "train_seconds": 120.0,
}


def test_pick_differs_from_most_accurate_and_the_difference_is_significant():
    sentences = executive_summary(
        table([SMALL, BIG]),
        selection("small", "big"),
        mcnemar([("big", 0.0004, True)]),
        best({"small": 0.3, "big": 0.7}),
        facts("big", {"one_se": "small", "tolerance": "small"}),
        "digit",
    )
    assert 3 <= len(sentences) <= 6
    text = " ".join(sentences)
    assert sentences[0].startswith("We recommend small (A net): it reads 97.50% (95% CI 97.40%–97.60% across 3 seeds)")
    assert "The most accurate model, big," in text and "the 0.60 pp difference is statistically significant" in text
    assert "p = 0.0004" in text
    assert "10.0x fewer parameters (50,000 vs 500,000)" in text and "0.60 MB instead of 6.00 MB" in text
    assert "below the 2.0 pp over-fitting flag" in text and "big, comes out best in 70%" in text
    assert "if 0.60 pp more accuracy is worth 10.0x the parameters, deploy big instead" in text


def test_not_significant_difference_is_said_so():
    text = " ".join(
        executive_summary(
            table([SMALL, BIG]),
            selection("small", "big"),
            mcnemar([("big", 0.2, False)]),
            best({"small": 0.45, "big": 0.55}),
            facts("big", {"one_se": "small", "tolerance": "small"}),
            "digit",
        )
    )
    assert "is not statistically significant" in text


def test_pick_is_also_most_accurate_compares_with_the_largest_model():
    sentences = executive_summary(
        table([{**SMALL, "test_accuracy": 0.99}, BIG]),
        selection("small", "small"),
        mcnemar([("big", 0.01, True)]),
        best({"small": 0.9, "big": 0.1}),
        facts("small", {"one_se": "small", "tolerance": "small"}),
        "digit",
    )
    text = " ".join(sentences)
    assert "It is also the most accurate model on the test set." in text
    assert "Against the largest model it has 10.0x fewer parameters" in text
    assert "Both selection rules (one standard error, fixed tolerance) give the same pick." in text


def test_overfitted_pick_and_rule_dependence_are_risks():
    text = " ".join(
        executive_summary(
            table([{**SMALL, "generalization_gap": 0.03}, BIG]),
            selection("small", "big", overfits=True),
            mcnemar([("big", 0.5, False)]),
            best({"small": 0.4, "big": 0.6}),
            facts("big", {"one_se": "small", "tolerance": "big"}),
            "clothing item",
        )
    )
    assert "its train–validation gap is 3.00 pp, above the 2.0 pp over-fitting flag" in text
    assert "the tolerance rule would pick big" in text
    assert "test clothing items correctly" in text


def test_single_seed_uses_the_wilson_interval_of_the_run():
    frame = table([SMALL]).assign(n_seeds=1, test_accuracy_ci_low=math.nan, test_accuracy_ci_high=math.nan)
    sentence = executive_summary(
        frame,
        selection("small", "small"),
        mcnemar([]),
        best({"small": 1.0}),
        facts("small", {"one_se": "small", "tolerance": "small"}),
        "digit",
    )[0]
    assert "97.50% (95% Wilson interval 97.18%–97.79% for its single run)" in sentence


def refits(rows):
    base = {"n_seeds": 3, "train_images": 60000, "test_accuracy_ci_low": math.nan, "test_accuracy_ci_high": math.nan}
    frame = pd.DataFrame([{**base, **row} for row in rows])
    frame["test_accuracy_ci_low"] = frame["test_accuracy"] - 0.002
    frame["test_accuracy_ci_high"] = frame["test_accuracy"] + 0.002
    return frame


def summary_with_refits(refit_rows, pick="small"):
    return executive_summary(
        table([SMALL, BIG]),
        selection(pick, "big"),
        mcnemar([("big", 0.0004, True), ("small", 0.0004, True)]),
        best({"small": 0.3, "big": 0.7}),
        facts("big", {"one_se": pick, "tolerance": pick}),
        "digit",
        refits(refit_rows),
    )


def refit_sentence_of(sentences):
    return next(sentence for sentence in sentences if sentence.startswith("Retrained on all"))


def test_refit_sentence_gives_the_deployable_pick_and_the_ceiling_retrained_alike():
    sentences = summary_with_refits(
        [
            {"experiment": "small", "role": "pick", "test_accuracy": 0.978},
            {"experiment": "big", "role": "ceiling", "test_accuracy": 0.984},
        ]
    )
    assert 3 <= len(sentences) <= 6
    assert refit_sentence_of(sentences) == (
        "Retrained on all 60,000 training images (the comparison trained on 48,000 and kept the rest for "
        "validation), as it would be deployed, the recommended model reads 97.80% (95% CI 97.60%–98.00% across 3 seeds); the accuracy "
        "ceiling, big, retrained the same way reads 98.40% (95% CI 98.20%–98.60% across 3 seeds)."
    )


def test_refit_sentence_when_the_pick_is_the_ceiling_or_there_is_none():
    sentences = summary_with_refits([{"experiment": "big", "role": "pick and ceiling", "test_accuracy": 0.984}], "big")
    assert 3 <= len(sentences) <= 6
    assert refit_sentence_of(sentences).endswith(
        "model reads 98.40% (95% CI 98.20%–98.60% across 3 seeds); it is also the study's accuracy ceiling."
    )
    alone = summary_with_refits([{"experiment": "small", "role": "pick", "test_accuracy": 0.978, "n_seeds": 1}])
    assert refit_sentence_of(alone).endswith(
        "model reads 97.80% (95% Wilson interval 97.49%–98.07% for its single run)."
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
        rows, chosen, mcnemar([("small", 0.03, True)]), {"pick": "small", "reason": "the smallest gap"}
    )
    assert sentence.startswith(f"Our evidence {expected} the source study's pick, small (chosen for the smallest gap)")
    assert "0.20 pp below the best" in sentence and "ranks 2 of 2" in sentence and "significant" in sentence


def test_reproduction_verdict_when_we_agree():
    rows = table([{**SMALL, "published_test_accuracy": 0.97}, {**BIG, "published_test_accuracy": 0.98}])
    sentence = reproduction_verdict(rows, selection("small", "big"), mcnemar([]), {"pick": "small", "reason": "x"})
    assert sentence.startswith("Our evidence supports the source study's pick, small")


def test_reproduction_verdict_when_the_source_picked_nothing():
    rows = table([{**SMALL, "published_test_accuracy": 0.97}, {**BIG, "published_test_accuracy": 0.98}])
    sentence = reproduction_verdict(
        rows, selection("big", "big"), mcnemar([]), {"pick": None, "reason": "it compared activations only"}
    )
    assert sentence == (
        "The source study recommended no model (it compared activations only); on our evidence the "
        "decision rule picks big."
    )


@pytest.mark.parametrize(
    "value, expected", [(0.999, "99.9%"), (1.0, "100%"), (0.0005, "0.1%"), (0.0, "0%"), (0.7, "70%"), (0.0049, "0.5%")]
)
def test_share_never_rounds_to_always_or_never(value, expected):
    assert share(value) == expected


def test_reproduction_rows_compare_each_published_value_with_our_interval():
    table = pd.DataFrame(
        {
            "experiment": ["inside", "outside", "one_seed", "unpublished"],
            "test_accuracy": [0.975, 0.970, 0.972, 0.98],
            "test_accuracy_ci_low": [0.970, 0.968, math.nan, 0.97],
            "test_accuracy_ci_high": [0.980, 0.972, math.nan, 0.99],
            "published_test_accuracy": [0.978, 0.976, 0.971, math.nan],
        }
    )
    rows = reproduction_rows(table)
    assert [(row["experiment"], row["published_inside_interval"]) for row in rows] == [
        ("inside", "yes"),
        ("outside", "no"),
        ("one_seed", "n/a"),
    ]
    assert [round(row["difference"], 6) for row in rows] == [-0.003, -0.006, 0.001]
