import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from mlpstudy.stats import (
    accuracy_components,
    bootstrap_accuracy_draws,
    calibration,
    expected_accuracy_interval,
    holm,
    informative,
    mcnemar_exact,
    mcnemar_mid_p,
    paired_difference,
    paired_proportion_difference,
    paired_se_matrix,
    rank_distribution,
    run_prediction_interval,
    sign_test,
    t_interval,
    wilson_interval,
)


def test_t_interval_matches_hand_computation():
    mean, low, high = t_interval([0.97, 0.98, 0.99])
    # mean 0.98, sd 0.01, t(0.975, 2) = 4.302653, half width = 4.302653 * 0.01 / sqrt(3)
    assert mean == pytest.approx(0.98)
    assert high - mean == pytest.approx(4.302653 * 0.01 / math.sqrt(3), rel=1e-6)
    assert mean - low == pytest.approx(high - mean)
    assert math.isnan(t_interval([0.9])[1])


def test_wilson_matches_reference_values():
    # Reference: statsmodels proportion_confint(9762, 10000, method="wilson") and the textbook 81/263 case.
    low, high = wilson_interval(81, 263)
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    low, high = wilson_interval(0, 10)
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(9762, 10000)
    assert low < 0.9762 < high and high - low == pytest.approx(2 * 1.96 * math.sqrt(0.9762 * 0.0238 / 10000), rel=0.02)


@pytest.mark.parametrize(
    "b, c, expected",
    [
        (0, 0, 1.0),
        (0, 5, 0.0625),  # 2 * 0.5**5
        (1, 9, 0.021484375),  # 2 * (1 + 10) / 2**10
        (5, 5, 1.0),
        (10, 25, 2 * scipy_stats.binom.cdf(10, 35, 0.5)),
    ],
)
def test_mcnemar_exact(b, c, expected):
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)
    assert mcnemar_exact(c, b) == pytest.approx(expected, rel=1e-12)


def test_holm_by_hand():
    # sorted p: 0.01, 0.02, 0.03, 0.5 -> 4*0.01=0.04, 3*0.02=0.06, 2*0.03=0.06, 1*0.5=0.5
    assert holm([0.03, 0.01, 0.5, 0.02]).tolist() == pytest.approx([0.06, 0.04, 0.5, 0.06])
    assert holm([0.9, 0.8]).tolist() == [1.0, 1.0]  # capped, and monotone


def test_bootstrap_finds_a_clear_winner_and_a_coin_flip():
    rng = np.random.default_rng(1)
    good = rng.random((3, 5000)) < 0.98
    bad = rng.random((3, 5000)) < 0.95
    twin = good.copy()
    ranks = rank_distribution(bootstrap_accuracy_draws({"good": good, "bad": bad}, n_boot=300))
    assert ranks[0, 0] == 1.0 and ranks[1, 1] == 1.0
    ranks = rank_distribution(bootstrap_accuracy_draws({"good": good, "twin": twin}, n_boot=300))
    assert 0.2 < ranks[0, 0] < 0.8 and ranks[0, 0] + ranks[1, 0] == pytest.approx(1.0)
    assert ranks.sum(axis=1) == pytest.approx([1.0, 1.0])


def test_bootstrap_keeps_the_seed_spread_that_resampling_few_seeds_would_shrink():
    # Every image has the same mean over the runs (2/3), so resampling images changes nothing and all variation
    # is between seeds: the draws' variance must be that of a mean of 3 seeds, s^2 / 3 = 1/9, not the
    # (2/3) s^2 / 3 that a plain resampling of 3 seeds gives.
    runs = np.array([[True] * 200, [False] * 200, [True] * 200])
    draws = bootstrap_accuracy_draws({"a": runs}, n_boot=20000)[:, 0]
    assert draws.var() == pytest.approx(runs.mean(axis=1).var(ddof=1) / 3, rel=0.03)


def test_accuracy_components_by_hand():
    correct = np.array([[1, 1, 0, 1], [1, 0, 0, 1], [1, 1, 1, 1]], dtype=bool)
    parts = accuracy_components(correct)
    run_accuracies = np.array([0.75, 0.5, 1.0])
    per_image = np.array([1, 2 / 3, 1 / 3, 1])
    within = np.array([0, 1 / 3, 1 / 3, 0])  # per-image variance across the 3 runs (ddof 1)
    assert parts["mean"] == pytest.approx(0.75) and parts["n"] == 3
    assert parts["observed"] == pytest.approx(run_accuracies.var(ddof=1))
    assert parts["binomial"] == pytest.approx(within.mean() / 4)
    assert parts["seed_variance"] == pytest.approx(max(run_accuracies.var(ddof=1) - within.mean() / 4, 0))
    assert parts["image_variance"] == pytest.approx(per_image.var(ddof=1) / 4)
    one = accuracy_components(correct[:1])
    assert one["n"] == 1 and math.isnan(one["seed_variance"])


def test_expected_accuracy_interval_reduces_to_the_normal_interval_without_seed_variation():
    # Identical runs: the seed variance is 0 exactly, so only test-set sampling is left (normal quantile;
    # Monte Carlo error of the 20,000-draw quantile is under 1%).
    rng = np.random.default_rng(0)
    run = rng.random(10000) < 0.97
    mean, _, high = expected_accuracy_interval(np.array([run, run, run]))
    half = 1.959964 * run.std(ddof=1) / math.sqrt(10000)
    assert mean == pytest.approx(run.mean()) and high - mean == pytest.approx(half, rel=0.02)
    assert math.isnan(expected_accuracy_interval(run[None])[1])
    # More seed variation, wider interval; the same inputs, the same interval.
    noisy = np.array([run, rng.random(10000) < 0.95, rng.random(10000) < 0.99])
    assert expected_accuracy_interval(noisy)[2] - expected_accuracy_interval(noisy)[1] > 2 * half
    assert expected_accuracy_interval(noisy) == expected_accuracy_interval(noisy)


def test_paired_difference_pairs_over_images_and_knows_its_seed_components():
    rng = np.random.default_rng(2)
    shared = rng.random(5000) < 0.97
    a = np.array([shared | (rng.random(5000) < 0.3) for _ in range(3)])
    b = np.array([shared for _ in range(3)])
    result = paired_difference(a, b)
    assert result["difference"] == pytest.approx(a.mean() - b.mean())
    assert result["low"] > 0 and result["p_value"] < 0.05 and result["seed_component_known"]
    same = paired_difference(b, b)
    assert same["difference"] == 0 and same["p_value"] == 1.0
    alone = paired_difference(a[:1], b)
    assert not alone["seed_component_known"]
    matrix = paired_se_matrix({"a": a, "b": b})
    assert matrix.loc["a", "b"] == matrix.loc["b", "a"] == pytest.approx(result["se"]) and matrix.loc["a", "a"] == 0


def test_mcnemar_mid_p_by_hand():
    # b=1, c=9: exact 2 * (1 + 10) / 1024, minus P(X = 1) = 10 / 1024 (Fagerland et al. 2013, eq. 3)
    assert mcnemar_mid_p(1, 9) == pytest.approx((22 - 10) / 1024)
    assert mcnemar_mid_p(0, 0) == 1.0 and mcnemar_mid_p(5, 5) == pytest.approx(1 - stats_binom_pmf(5, 10))


def stats_binom_pmf(k, n):
    return scipy_stats.binom.pmf(k, n, 0.5)


def test_paired_proportion_difference_by_hand():
    a = np.array([1, 1, 1, 0, 1, 0, 1, 1], dtype=bool)
    b = np.array([1, 0, 0, 0, 1, 1, 1, 1], dtype=bool)
    result = paired_proportion_difference(a, b)
    per_image = a.astype(float) - b
    half = 1.959964 * per_image.std(ddof=1) / math.sqrt(8)
    assert (result["only_a_right"], result["only_b_right"]) == (2, 1)
    assert result["difference"] == pytest.approx(1 / 8) and result["high"] - result["difference"] == pytest.approx(half)
    assert result["p_value"] == pytest.approx(mcnemar_mid_p(2, 1))


def test_run_prediction_interval_by_hand():
    values = [0.97, 0.98, 0.99]
    mean, _, high = run_prediction_interval(values)
    assert high - mean == pytest.approx(4.302653 * 0.01 * math.sqrt(1 + 1 / 3), rel=1e-6)
    assert math.isnan(run_prediction_interval([0.9])[1])


def test_sign_test_matches_scipy():
    assert sign_test([-1, -2, -3, -1, -1, -0.5]) == pytest.approx(scipy_stats.binomtest(0, 6).pvalue)
    assert sign_test([1, -1, 0, 2]) == pytest.approx(scipy_stats.binomtest(2, 3).pvalue)
    assert sign_test([0, 0]) == 1.0


def test_informative_intervals():
    assert informative(0.9, 0.95) and not informative(0.9, 1.0) and not informative(0.0, 0.3)
    assert not informative(math.nan, math.nan)


def test_calibration_by_hand():
    probabilities = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.7, 0.3]])
    labels = np.array([0, 1, 1, 0])
    result = calibration(probabilities, labels, bins=2)
    assert result["nll"] == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.8, 0.7])))
    assert result["brier"] == pytest.approx(np.mean([0.02, 0.72, 0.08, 0.18]))
    # confidences 0.9, 0.6, 0.8, 0.7 all fall in the upper bin: accuracy 3/4, mean confidence 0.75
    assert result["ece"] == pytest.approx(0.0) and result["reliability"] == [
        {"low": 0.5, "high": 1.0, "images": 4, "confidence": pytest.approx(0.75), "accuracy": 0.75}
    ]
    perfect = calibration(np.eye(3), np.arange(3))
    assert perfect["nll"] == pytest.approx(0, abs=1e-9) and perfect["brier"] == 0 and perfect["ece"] == 0
