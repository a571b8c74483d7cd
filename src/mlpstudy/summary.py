"""The executive summary and the reproduction verdict, as sentences generated from the results files."""

from __future__ import annotations

import math

import pandas as pd

from mlpstudy.stats import wilson_interval


def pct(value: float, digits: int = 2) -> str:
    return f"{value * 100:.{digits}f}%"


def share(value: float) -> str:
    """A probability as a whole percentage, except that 'never' and 'always' are kept for exact 0 and 1:
    0.999 is '99.9%', not '100%'."""
    text = f"{value * 100:.0f}%"
    if text in ("0%", "100%") and value not in (0, 1):
        text = f"{value * 100:.1f}%"
    return text


def pp(value: float, digits: int = 2) -> str:
    return f"{value * 100:.{digits}f} pp"


def interval_text(mean: float, low: float, high: float, n_seeds: int, n_test: int) -> str:
    """'97.62% (95% CI 97.50–97.74% across 3 seeds)', or with one seed the Wilson interval of that run."""
    if n_seeds > 1 and not math.isnan(low):
        return f"{pct(mean)} (95% CI {pct(low)}–{pct(high)} across {n_seeds} seeds)"
    low, high = wilson_interval(round(mean * n_test), n_test)
    return f"{pct(mean)} (95% Wilson interval {pct(low)}–{pct(high)} for its single run)"


def accuracy_with_interval(row, n_test: int, part: str = "test") -> str:
    return interval_text(
        row[f"{part}_accuracy"], row[f"{part}_accuracy_ci_low"], row[f"{part}_accuracy_ci_high"], row["n_seeds"], n_test
    )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b else "n/a"


def refit_sentence(refits: pd.DataFrame, pick: str, n_val: int, n_test: int) -> str:
    """The deployable pick (retrained on all training images) and, if it is another model, the ceiling."""
    rows = refits.set_index("experiment", drop=False)
    picked = rows.loc[pick]
    images = int(picked["train_images"])
    sentence = (
        f"Retrained on all {images:,} training images (the comparison trained on {images - n_val:,} and kept "
        f"the rest for validation), as it would be deployed, the recommended model reads "
        f"{accuracy_with_interval(picked, n_test)}"
    )
    ceiling = refits[refits["role"] == "ceiling"]
    if "ceiling" in picked["role"]:
        return sentence + "; it is also the study's accuracy ceiling."
    if ceiling.empty:
        return sentence + "."
    ceiling = ceiling.iloc[0]
    return (
        sentence + f"; the accuracy ceiling, {ceiling['experiment']}, retrained the same way reads "
        f"{accuracy_with_interval(ceiling, n_test)}."
    )


def executive_summary(
    table: pd.DataFrame,
    selection: dict,
    mcnemar: pd.DataFrame,
    probability_best: pd.DataFrame,
    facts: dict,
    item: str,
    refits: pd.DataFrame | None = None,
) -> list[str]:
    rows = table.set_index("experiment", drop=False)
    pick = rows.loc[selection["picked"]]
    most = rows.loc[facts["most_accurate"]]
    sentences = [
        (
            f"We recommend {pick['experiment']} ({pick['description'].rstrip('.')}): it reads "
            f"{accuracy_with_interval(pick, facts['n_test'])} of {facts['n_test']:,} test {item}s correctly."
        )
    ]
    if most["experiment"] == pick["experiment"]:
        sentences.append("It is also the most accurate model on the test set.")
        largest = rows.loc[rows["params"].idxmax()]
        comparator = None if largest["experiment"] == pick["experiment"] else largest
        comparator_role = "the largest model"
    else:
        test = mcnemar.set_index("experiment").loc[most["experiment"]]
        verdict = "statistically significant" if test["significant"] else "not statistically significant"
        sentences.append(
            f"The most accurate model, {most['experiment']}, reads {accuracy_with_interval(most, facts['n_test'])}; the "
            f"{pp(most['test_accuracy'] - pick['test_accuracy'])} difference is {verdict} (exact McNemar test on "
            f"seed-ensemble predictions, Holm-adjusted p = {test['p_holm']:.3g})."
        )
        comparator, comparator_role = most, "the most accurate model"
    if comparator is not None:
        sentences.append(
            f"Against {comparator_role} it has {_ratio(comparator['params'], pick['params'])} fewer parameters "
            f"({pick['params']:,} vs {comparator['params']:,}), is {pick['model_bytes'] / 1e6:.2f} MB instead of "
            f"{comparator['model_bytes'] / 1e6:.2f} MB on disk, answers one image in {pick['latency_ms_single']:.2f} ms "
            f"instead of {comparator['latency_ms_single']:.2f} ms, and trains in {pick['train_seconds']:.0f} s instead "
            f"of {comparator['train_seconds']:.0f} s."
        )
    if refits is not None:
        sentences.append(refit_sentence(refits, pick["experiment"], facts["n_val"], facts["n_test"]))
    best_val = probability_best.set_index("experiment").loc[selection["best_validation"], "p_best"]
    gap_words = "above" if selection["picked_overfits"] else "below"
    sentences.append(
        f"Risks: its train–validation gap is {pp(pick['generalization_gap'])}, {gap_words} the "
        f"{pp(selection['overfit_threshold'], 1)} over-fitting flag; the best model on validation, "
        f"{selection['best_validation']}, comes out best in {share(best_val)} of bootstrap resamples of "
        "validation images and seeds."
    )
    alternatives = {rule: name for rule, name in facts["alternatives"].items() if name != pick["experiment"]}
    if alternatives:
        changes = "; ".join(
            f"the {rule.replace('_', '-')} rule would pick {name}" for rule, name in alternatives.items()
        )
        sentences.append(f"What would change the decision: {changes}.")
    elif most["experiment"] != pick["experiment"]:
        sentences.append(
            f"What would change the decision: if {pp(most['test_accuracy'] - pick['test_accuracy'])} more accuracy is "
            f"worth {_ratio(most['params'], pick['params'])} the parameters, deploy {most['experiment']} instead."
        )
    else:
        sentences.append("Both selection rules (one standard error, fixed tolerance) give the same pick.")
    return sentences


def reproduction_rows(table: pd.DataFrame) -> list[dict]:
    """The experiments with a published value: ours beside it, the difference, and whether the published value
    lies inside our interval ("yes", "no", or "n/a" without an interval)."""
    rows = []
    for row in table.dropna(subset=["published_test_accuracy"]).to_dict("records"):
        low, high, published = row["test_accuracy_ci_low"], row["test_accuracy_ci_high"], row["published_test_accuracy"]
        inside = "n/a" if math.isnan(low) else ("yes" if low <= published <= high else "no")
        rows.append({**row, "difference": row["test_accuracy"] - published, "published_inside_interval": inside})
    return rows


def reproduction_verdict(table: pd.DataFrame, selection: dict, mcnemar: pd.DataFrame, source: dict) -> str:
    """One sentence: does our evidence support the source study's pick?"""
    if source["pick"] is None:
        return (
            f"The source study recommended no model ({source['reason']}); on our evidence the decision rule "
            f"picks {selection['picked']}."
        )
    rows = table.set_index("experiment", drop=False)
    theirs = rows.loc[source["pick"]]
    published = table.dropna(subset=["published_test_accuracy"])
    gap_rank = int((published["generalization_gap"] < theirs["generalization_gap"]).sum()) + 1
    below_best = rows["val_accuracy"].max() - theirs["val_accuracy"]
    if source["pick"] == selection["picked"]:
        return (
            f"Our evidence supports the source study's pick, {source['pick']}: our decision rule picks it too "
            f"(its gap ranks {gap_rank} of {len(published)} among the source's experiments)."
        )
    tied = source["pick"] in selection["candidates"]
    test = mcnemar.set_index("experiment").loc[source["pick"]]
    return (
        f"Our evidence {'partly supports' if tied else 'does not support'} the source study's pick, "
        f"{source['pick']} (chosen for {source['reason']}): its mean validation accuracy is {pp(below_best)} below "
        f"the best, {'within' if tied else 'outside'} our selection margin of {pp(selection['margin'], 3)}; against our pick "
        f"{selection['picked']} the test difference is {'significant' if test['significant'] else 'not significant'} "
        f"(Holm-adjusted McNemar p = {test['p_holm']:.3g}); and its train–validation gap ranks {gap_rank} of "
        f"{len(published)} among the source's experiments."
    )
