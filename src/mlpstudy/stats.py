"""Uncertainty and tests: t-intervals across seeds, Wilson intervals of one run, exact McNemar, Holm, bootstrap."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def t_interval(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t confidence interval of the mean across seeds; NaN bounds for one value."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def accuracy_spread(values) -> tuple[float, float, float]:
    """Across seeds: the t-interval of the mean accuracy, clipped to [0, 1] (with few seeds it can overshoot),
    and the standard deviation; NaN for one value."""
    values = np.asarray(values, dtype=float)
    _, low, high = t_interval(values)
    sd = float(values.std(ddof=1)) if len(values) > 1 else math.nan
    return max(low, 0.0), min(high, 1.0), sd


def welch_interval(a, b, confidence: float = 0.95) -> tuple[float, float, float]:
    """mean(a) - mean(b) and its Welch t confidence interval (unequal variances); NaN bounds unless both
    samples have at least two values."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    difference = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return difference, math.nan, math.nan
    variance_a, variance_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(variance_a + variance_b)
    if se == 0:
        return difference, difference, difference
    dof = (variance_a + variance_b) ** 2 / (variance_a**2 / (len(a) - 1) + variance_b**2 / (len(b) - 1))
    half = stats.t.ppf(0.5 + confidence / 2, dof) * se
    return difference, difference - half, difference + half


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (one run's accuracy on n images)."""
    if n == 0:
        return math.nan, math.nan
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts b (only A right) and c (only B right)."""
    n = b + c
    if n == 0:
        return 1.0
    return float(min(1.0, 2 * stats.binom.cdf(min(b, c), n, 0.5)))


def holm(p_values) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the input order."""
    p_values = np.asarray(p_values, dtype=float)
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (m - rank) * p_values[index])
        adjusted[index] = min(1.0, running)
    return adjusted


def bootstrap_best(correct: dict[str, np.ndarray], n_boot: int = 2000, seed: int = 0) -> dict[str, np.ndarray]:
    """How stable is 'which experiment is best on validation'?

    `correct[name]` is a (n_seeds, n_images) boolean array: run k got validation image i right. Each bootstrap
    draw resamples the images (shared by all experiments, so the comparison stays paired) and, per
    experiment, its seeds; the experiment with the highest mean accuracy in the draw is that draw's best.
    Returns, per experiment, the probability of being best and the distribution of its rank (1 = best).
    """
    names = list(correct)
    rng = np.random.default_rng(seed)
    n_images = next(iter(correct.values())).shape[1]
    ranks = np.zeros((len(names), len(names)), dtype=np.int64)
    for _ in range(n_boot):
        images = rng.integers(0, n_images, n_images)
        scores = []
        for name in names:
            runs = correct[name]
            seeds = rng.integers(0, len(runs), len(runs))
            scores.append(runs[np.ix_(seeds, images)].mean())
        # Ties get the better rank in config order (stable sort).
        order = np.argsort(-np.asarray(scores), kind="stable")
        ranks[order, np.arange(len(names))] += 1
    distribution = ranks / n_boot
    return {name: distribution[i] for i, name in enumerate(names)}
