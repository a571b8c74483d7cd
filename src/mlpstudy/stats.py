"""Uncertainty and tests: t-intervals across seeds, Wilson intervals of one run, McNemar, Holm, the bootstrap of
the decision, and the intervals of a model trained this way (seed-to-seed and test-set variation)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats


def t_interval(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t confidence interval of the mean across seeds; NaN bounds for one value."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return mean, mean - half, mean + half


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


def bootstrap_accuracy_draws(correct: dict[str, np.ndarray], n_boot: int = 2000, seed: int = 0) -> np.ndarray:
    """Bootstrap draws of every experiment's mean accuracy, shape (n_boot, experiments) in `correct`'s order.

    `correct[name]` is a (n_seeds, n_images) boolean array: run k got image i right. Each draw resamples the
    images (shared by all experiments, so comparisons stay paired) and, per experiment, its seeds. Resampling n
    seeds with replacement shrinks their spread by (n − 1)/n, so each draw's seed deviation is scaled back up by
    sqrt(n / (n − 1)).
    """
    rng = np.random.default_rng(seed)
    n_images = next(iter(correct.values())).shape[1]
    weights = rng.multinomial(n_images, np.full(n_images, 1 / n_images), size=n_boot).astype(np.float32).T
    draws = np.empty((n_boot, len(correct)))
    for column, runs in enumerate(correct.values()):
        per_run = (runs.astype(np.float32) @ weights).T.astype(np.float64) / n_images  # (n_boot, n_seeds)
        mean = per_run.mean(axis=1)
        n = runs.shape[0]
        if n > 1:
            chosen = rng.integers(0, n, (n_boot, n))
            deviation = np.take_along_axis(per_run, chosen, axis=1).mean(axis=1) - mean
            mean = mean + math.sqrt(n / (n - 1)) * deviation
        draws[:, column] = mean
    return draws


def rank_distribution(draws: np.ndarray) -> np.ndarray:
    """(experiments, ranks) probability of each rank (1 = highest) over bootstrap draws; ties get the better rank
    in column order."""
    n_boot, n = draws.shape
    order = np.argsort(-draws, axis=1, kind="stable")
    counts = np.zeros((n, n))
    for rank in range(n):
        counts[:, rank] = np.bincount(order[:, rank], minlength=n)
    return counts / n_boot


# The statistics of "a model trained this way". An experiment's runs are an (n_seeds, n_images) 0/1 matrix of
# correct answers on one image set. Two sources of noise separate a quoted accuracy from the truth: which seed
# trained the model (seed-to-seed variation of the runs' own accuracies on all images of that kind), and which
# images happen to be in the set (test-set sampling, shared by every run measured on it).


GPQ_DRAWS = 20_000


def accuracy_components(correct) -> dict:
    """Mean accuracy of the runs and the pieces of its noise.

    observed: variance across seeds of the runs' accuracies on these images; binomial: the part of it that is
    each run's own test-set noise (per-image variance across runs, averaged, over the number of images);
    seed_variance: their difference, the variance across seeds of the runs' accuracies on the whole image
    population (0 if negative, NaN with one seed); image_variance: sampling variance of the mean over seeds
    that comes from which images are in the set (variance over images of the per-image mean, over their number).
    """
    correct = np.asarray(correct, dtype=float)
    n_seeds, n_images = correct.shape
    per_image = correct.mean(axis=0)
    parts = {
        "mean": float(per_image.mean()),
        "n": n_seeds,
        "image_variance": float(per_image.var(ddof=1) / n_images),
        "observed": math.nan,
        "binomial": math.nan,
        "seed_variance": math.nan,
    }
    if n_seeds > 1:
        parts["observed"] = float(correct.mean(axis=1).var(ddof=1))
        parts["binomial"] = float(correct.var(axis=0, ddof=1).mean() / n_images)
        parts["seed_variance"] = max(parts["observed"] - parts["binomial"], 0.0)
    return parts


def _error_draws(seed_terms: list[tuple[dict, float]], fixed_variance: float, draws: int = GPQ_DRAWS) -> np.ndarray:
    """Draws of |estimate − truth| for an estimate whose variance is `fixed_variance` plus, per (parts,
    coefficient) in `seed_terms`, coefficient × that experiment's seed variance.

    A generalized pivotal quantity: each seed variance is drawn as max((n−1)·observed/χ²(n−1) − binomial, 0),
    so its uncertainty from only a few seeds is carried into the interval (plugging the estimate into a normal
    or Satterthwaite t quantile undercovers badly with 2–3 seeds, as the simulation test shows). Fixed random
    stream: the same inputs give the same interval.
    """
    rng = np.random.default_rng(0)
    variance = np.full(draws, fixed_variance)
    for parts, coefficient in seed_terms:
        chi2 = rng.chisquare(parts["n"] - 1, draws)
        variance += coefficient * np.maximum((parts["n"] - 1) * parts["observed"] / chi2 - parts["binomial"], 0.0)
    return np.abs(rng.standard_normal(draws)) * np.sqrt(variance)


def expected_accuracy_interval(correct, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and 95% prediction interval for the accuracy, on all images of this kind, of one more model trained
    the same way with a new seed: seed-to-seed variation (the new model's and our mean's) plus the test-set
    sampling of our mean. NaN bounds with one seed, where seed variation is unknown."""
    parts = accuracy_components(correct)
    if parts["n"] < 2:
        return parts["mean"], math.nan, math.nan
    half = float(np.quantile(_error_draws([(parts, 1 + 1 / parts["n"])], parts["image_variance"]), confidence))
    return parts["mean"], parts["mean"] - half, parts["mean"] + half


def _seed_terms(*sides: dict) -> list[tuple[dict, float]]:
    """The seed-variance terms of a difference of means: each side's seed variance over its number of seeds,
    for the sides whose seed variance is known (two seeds or more)."""
    return [(parts, 1 / parts["n"]) for parts in sides if parts["n"] > 1]


def paired_se_matrix(correct: dict[str, np.ndarray]) -> pd.DataFrame:
    """Plug-in standard error of the difference in mean accuracy for every pair of experiments (`correct[name]`:
    (n_seeds, n_images) on the same images), as paired_difference computes it; the decision rule's margins."""
    names = list(correct)
    parts = {name: accuracy_components(runs) for name, runs in correct.items()}
    per_image = {name: runs.mean(axis=0) for name, runs in correct.items()}
    matrix = pd.DataFrame(0.0, index=names, columns=names)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            difference = per_image[a] - per_image[b]
            variance = difference.var(ddof=1) / len(difference)
            variance += sum(side["seed_variance"] * c for side, c in _seed_terms(parts[a], parts[b]))
            matrix.loc[a, b] = matrix.loc[b, a] = math.sqrt(variance)
    return matrix


def paired_difference(correct_a, correct_b, confidence: float = 0.95) -> dict:
    """Difference in mean accuracy, a − b, of two experiments measured on the same images (paired over images,
    seeds independent): its interval and two-sided generalized p-value cover the seed variation of both means
    and the image-level variance of the per-image difference. With one seed on a side, that side's seed
    variation is unknown and left out (`seed_component_known` is then False). `se` is the plug-in standard
    error, for the decision rule's margin."""
    correct_a, correct_b = np.asarray(correct_a, dtype=float), np.asarray(correct_b, dtype=float)
    per_image = correct_a.mean(axis=0) - correct_b.mean(axis=0)
    difference = float(per_image.mean())
    image_variance = float(per_image.var(ddof=1) / len(per_image))
    seed_terms = _seed_terms(accuracy_components(correct_a), accuracy_components(correct_b))
    errors = _error_draws(seed_terms, image_variance)
    half = float(np.quantile(errors, confidence))
    se = math.sqrt(image_variance + sum(parts["seed_variance"] * c for parts, c in seed_terms))
    return {
        "difference": difference,
        "low": difference - half,
        "high": difference + half,
        "se": se,
        "p_value": float(np.mean(errors >= abs(difference))) if difference else 1.0,
        "seed_component_known": len(seed_terms) == 2,
    }


def mcnemar_mid_p(b: int, c: int) -> float:
    """McNemar mid-p value (Fagerland, Lydersen and Laake 2013): the exact conditional p-value minus the
    probability of the observed split, which keeps the size near nominal without the exact test's conservatism."""
    n = b + c
    if n == 0:
        return 1.0
    return float(min(1.0, mcnemar_exact(b, c) - stats.binom.pmf(min(b, c), n, 0.5)))


def paired_proportion_difference(right_a, right_b, confidence: float = 0.95) -> dict:
    """Accuracy difference a − b of two fixed models on the same images, its Wald interval over images (paired)
    and the McNemar mid-p value."""
    right_a, right_b = np.asarray(right_a, dtype=bool), np.asarray(right_b, dtype=bool)
    per_image = right_a.astype(float) - right_b
    difference = float(per_image.mean())
    half = stats.norm.ppf(0.5 + confidence / 2) * per_image.std(ddof=1) / math.sqrt(len(per_image))
    b, c = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    return {
        "difference": difference,
        "low": difference - half,
        "high": difference + half,
        "p_value": mcnemar_mid_p(b, c),
        "only_a_right": b,
        "only_b_right": c,
    }


def run_prediction_interval(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and prediction interval for one more run's accuracy measured on the same images as `values` (one per
    seed): t(n−1) · sd · sqrt(1 + 1/n). The yardstick for a single published run on the same test set."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) * math.sqrt(1 + 1 / len(values))
    return mean, mean - half, mean + half


def sign_test(differences) -> float:
    """Two-sided exact sign test p-value of the non-zero differences (H0: positive and negative equally likely)."""
    differences = np.asarray(differences, dtype=float)
    nonzero = differences[differences != 0]
    if len(nonzero) == 0:
        return 1.0
    return float(stats.binomtest(int((nonzero > 0).sum()), len(nonzero), 0.5).pvalue)


def informative(low: float, high: float) -> bool:
    """An accuracy interval says something: both bounds known and strictly inside (0, 1)."""
    return not (math.isnan(low) or math.isnan(high)) and 0 < low and high < 1


def calibration(probabilities, labels, bins: int = 15) -> dict:
    """Negative log-likelihood, Brier score and expected calibration error (equal-width confidence bins,
    weighted by their share of images) of predicted class probabilities, with the reliability diagram's bins."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    n = len(labels)
    true_probability = probabilities[np.arange(n), labels]
    onehot = np.zeros_like(probabilities)
    onehot[np.arange(n), labels] = 1
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    reliability, ece = [], 0.0
    for b in range(bins):
        members = which == b
        if not members.any():
            continue
        gap = abs(right[members].mean() - confidence[members].mean())
        ece += members.mean() * gap
        reliability.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "images": int(members.sum()),
                "confidence": float(confidence[members].mean()),
                "accuracy": float(right[members].mean()),
            }
        )
    return {
        "nll": float(-np.mean(np.log(np.clip(true_probability, 1e-12, 1.0)))),
        "brier": float(np.mean(np.sum((probabilities - onehot) ** 2, axis=1))),
        "ece": float(ece),
        "reliability": reliability,
    }
