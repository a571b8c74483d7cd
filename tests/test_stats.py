import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from mlpstudy.stats import (
    bootstrap_best,
    holm,
    mcnemar_exact,
    t_interval,
    welch_interval,
    wilson_interval,
)


def test_t_interval_matches_hand_computation():
    mean, low, high = t_interval([0.97, 0.98, 0.99])
    # mean 0.98, sd 0.01, t(0.975, 2) = 4.302653, half width = 4.302653 * 0.01 / sqrt(3)
    assert mean == pytest.approx(0.98)
    assert high - mean == pytest.approx(4.302653 * 0.01 / math.sqrt(3), rel=1e-6)
    assert mean - low == pytest.approx(high - mean)
    assert math.isnan(t_interval([0.9])[1])


def test_welch_interval_matches_scipy():
    a, b = [0.9835, 0.9850, 0.9829], [0.9830, 0.9800, 0.9832, 0.9815]
    difference, low, high = welch_interval(a, b)
    reference = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert difference == pytest.approx(np.mean(a) - np.mean(b))
    assert (low, high) == pytest.approx((reference.low, reference.high), rel=1e-9)
    assert math.isnan(welch_interval([0.98], b)[1])
    assert welch_interval([0.5, 0.5], [0.25, 0.25]) == (0.25, 0.25, 0.25)


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


def test_bootstrap_best_finds_a_clear_winner_and_a_coin_flip():
    rng = np.random.default_rng(1)
    good = rng.random((3, 5000)) < 0.98
    bad = rng.random((3, 5000)) < 0.95
    twin = good.copy()
    result = bootstrap_best({"good": good, "bad": bad}, n_boot=300)
    assert result["good"][0] == 1.0 and result["bad"][1] == 1.0
    result = bootstrap_best({"good": good, "twin": twin}, n_boot=300)
    assert 0.2 < result["good"][0] < 0.8 and result["good"][0] + result["twin"][0] == pytest.approx(1.0)
    for distribution in result.values():
        assert distribution.sum() == pytest.approx(1.0)
