"""The executive summary and the reproduction verdict, as sentences generated from the results files."""

from __future__ import annotations

import math

import pandas as pd

from mlpstudy.stats import sign_test, t_interval


def pct(value: float, digits: int = 2) -> str:
    return f"{value * 100:.{digits}f}%"


def share(value: float) -> str:
    """A probability as a percentage with as few decimals as keep it strictly between 0% and 100% unless it is
    exactly 0 or 1: 0.9995 is '99.95%', never '100%'."""
    if value in (0, 1):
        return f"{value * 100:.0f}%"
    for digits in range(4):
        text = f"{value * 100:.{digits}f}"
        if 0 < float(text) < 100:
            return text + "%"
    return "<0.001%" if value < 0.5 else ">99.999%"


def pp(value: float, digits: int = 2) -> str:
    return f"{value * 100:.{digits}f} pp"


def p_text(value: float) -> str:
    """A p-value as quoted: two significant digits, and '< 0.0001' below what the tests resolve."""
    return "< 0.0001" if value < 1e-4 else f"= {value:.2g}"


def span(low: float, high: float, pct_digits: int = 2) -> str:
    return f"{pct(low, pct_digits)}–{pct(high, pct_digits)}"


def signed_pp(value: float, digits: int = 2) -> str:
    return f"{value * 100:+.{digits}f} pp"


def expected_text(row, n_test: int, item: str) -> str:
    """What a model trained this way reaches: the mean over seeds and the prediction interval for one more run,
    or, with one seed, what cannot be said."""
    mean = pct(row["test_accuracy"])
    if row["n_seeds"] < 2:
        return (
            f"its single run reads {mean} of the test {item}s; with one seed, how much another training run would "
            "differ is unknown"
        )
    interval = span(row["test_expected_low"], row["test_expected_high"])
    if not row["test_expected_informative"]:
        return f"a model trained this way reaches {mean} on average; its 95% prediction interval ({interval}) reaches 0% or 100% and is uninformative"
    return (
        f"a model trained this way reaches {mean} on average, and one more training run would land within {interval} "
        f"(95% prediction interval from {row['n_seeds']} seeds: seed-to-seed and test-set variation)"
    )


def deployed_sentence(pick_row, deployed: dict, n_test: int, item: str) -> str:
    what = (
        f"the ensemble of its {len(deployed['seeds'])} seeds ({', '.join(map(str, deployed['seeds']))})"
        if deployed["deploy"] == "ensemble"
        else f"one model, seed {deployed['seeds'][0]}"
    )
    return (
        f"We recommend {pick_row['experiment']} ({pick_row['description'].rstrip('.')}). The model to ship is {what}, "
        f"trained on {deployed['train_images']:,} images: it reads {pct(deployed['accuracy'])} of {n_test:,} test "
        f"{item}s correctly (95% CI {span(deployed['low'], deployed['high'])}; this file is fixed, so the interval "
        "is the test set's sampling error)."
    )


VERDICT_WORDS = {
    "better": "the recommended model is better",
    "worse": "the recommended model is worse",
    "equivalent": "equivalent within ±{margin}",
    "cannot tell": "the data can neither separate them nor show them equivalent within ±{margin}",
}


def comparison_sentence(versus_row, role: str, margin: float) -> str:
    quantity = (
        "seed-ensemble test accuracy (McNemar mid-p)"
        if versus_row["deploy"] == "ensemble"
        else "expected test accuracy of one model (paired over test images and seeds)"
    )
    caveat = "" if versus_row["seed_component_known"] else "; one seed: test-set variation only"
    words = VERDICT_WORDS[versus_row["verdict"]].format(margin=pp(margin, 1))
    return (
        f"Against {versus_row['experiment']}, {role}, its {quantity} differs by {signed_pp(versus_row['difference'])} "
        f"(95% CI {signed_pp(versus_row['difference_ci_low'])} to {signed_pp(versus_row['difference_ci_high'])}{caveat}; "
        f"Holm-adjusted p {p_text(versus_row['p_holm'])}): {words}."
    )


def parameters_phrase(pick: int, other: int) -> str:
    """'3.5x fewer parameters (…)' only for a ratio worth a multiplier; small differences in words."""
    counts = f"({pick:,} vs {other:,})"
    if pick == other:
        return f"the same number of parameters ({pick:,})"
    if pick < other:
        return (
            f"{other / pick:.1f}x fewer parameters {counts}"
            if other >= 1.5 * pick
            else f"{(1 - pick / other) * 100:.0f}% fewer parameters {counts}"
        )
    return (
        f"{pick / other:.1f}x more parameters {counts}"
        if pick >= 1.5 * other
        else f"{(pick / other - 1) * 100:.0f}% more parameters {counts}"
    )


def latency_phrase(pick_row, other_row) -> str:
    """Latency differences only when the ranges over seeds do not overlap."""
    ranges = [(row["latency_ms_single_low"], row["latency_ms_single_high"]) for row in (pick_row, other_row)]
    if ranges[0][0] <= ranges[1][1] and ranges[1][0] <= ranges[0][1]:
        return (
            f"a latency per image within measurement spread of it ({ranges[0][0]:.2f}–{ranges[0][1]:.2f} vs "
            f"{ranges[1][0]:.2f}–{ranges[1][1]:.2f} ms over seeds)"
        )
    faster = "faster" if pick_row["latency_ms_single"] < other_row["latency_ms_single"] else "slower"
    return (
        f"a {faster} answer per image ({pick_row['latency_ms_single']:.2f} vs {other_row['latency_ms_single']:.2f} ms, "
        "each the mean over seeds of a run's median; the seed ranges do not overlap)"
    )


def budget_sentence(table: pd.DataFrame, pick_row) -> str | None:
    """The pick's training budget, when it differs from most experiments'."""
    usual_epochs, usual_batch = table["epochs"].round().mode().iloc[0], table["batch_size"].mode().iloc[0]
    if round(pick_row["epochs"]) == usual_epochs and pick_row["batch_size"] == usual_batch:
        return None
    return (
        f"Budget: it trained {pick_row['epochs']:g} epochs at batch {pick_row['batch_size']} (mean over seeds), while "
        f"most experiments trained {usual_epochs:g} epochs at batch {usual_batch}; part of its edge may come from "
        "the budget, not the architecture."
    )


def refit_sentence(refits: pd.DataFrame, pick: str, n_val: int) -> str:
    """The pick retrained on all training images against its selection runs, and the ceiling."""
    rows = refits.set_index("experiment", drop=False)
    picked = rows.loc[pick]
    images = int(picked["train_images"])
    noise = (
        "distinguishable from seed and test-set noise"
        if picked["gain_distinguishable"]
        else "not distinguishable from seed and test-set noise"
    )
    sentence = (
        f"Retraining on all {images:,} training images instead of {images - n_val:,} changed its mean test accuracy by "
        f"{signed_pp(picked['gain'])} (95% CI {signed_pp(picked['gain_ci_low'])} to {signed_pp(picked['gain_ci_high'])}, "
        f"paired over test images and seeds): {noise}"
    )
    ceiling = refits[refits["role"] == "ceiling"]
    if "ceiling" in picked["role"]:
        return sentence + "; it is also the study's accuracy ceiling."
    if ceiling.empty:
        return sentence + "."
    ceiling = ceiling.iloc[0]
    return (
        sentence + f". The accuracy ceiling, {ceiling['experiment']}, retrained the same way reaches "
        f"{pct(ceiling['test_accuracy'])} on average over {ceiling['n_seeds']} seeds."
    )


def seeds_received(seeds: dict[str, list[int]]) -> str:
    """How many seeds the experiments received, e.g. '3 seeds each' or '7 seeds for a and b; 3 for the other 14'."""
    by_count: dict[int, list[str]] = {}
    for name, own in seeds.items():
        by_count.setdefault(len(own), []).append(name)
    if len(by_count) == 1:
        return f"{next(iter(by_count))} seed(s) each"
    most = max(by_count, key=lambda count: (len(by_count[count]), -count))
    named = [f"{count} for {', '.join(by_count[count])}" for count in sorted(by_count, reverse=True) if count != most]
    return "; ".join([*named, f"{most} for the other {len(by_count[most])}"])


def rounds_sentence(rounds: dict) -> str | None:
    """What the adaptive seed policy did: the seeds each experiment received, why the rounds stopped, and the
    training time saved against every experiment at `max` seeds; None for fixed seeds."""
    policy, cost = rounds["policy"], rounds["cost"]
    if not policy["adaptive"]:
        return None
    return (
        f"Seeds went where the decision needed them, over {len(rounds['rounds'])} round(s): "
        f"{seeds_received(rounds['seeds'])}; the rounds stopped because: {rounds['reason']}. That is {cost['runs']} training runs "
        f"instead of {cost['runs_at_max']} with {policy['max']} seeds for every experiment, "
        f"{share(cost['saved_share'])} less training time (each experiment's missing runs at its own mean)."
    )


def robustness_sentence(table: pd.DataFrame, changes: pd.DataFrame) -> str:
    """Whether the pick's rank among the experiments evaluated on corrupted test images (robustness.csv) differs
    from its rank on the clean images, where (`changes`: robustness.rank_changes), and whether the leader's
    advantage there is beyond seed and test-set noise."""
    experiments = table[(table["corruption"] == "none") & (table["role"] != "deployed")]
    pick = experiments.loc[experiments["role"] == "pick"].iloc[0]
    settings = table[table["corruption"] != "none"][["corruption", "severity"]].drop_duplicates()
    head = (
        f"On corrupted copies of the test images ({len(settings)} settings: noise, shifts, rotations, blur, thicker "
        f"and thinner strokes, contrast loss), the pick {pick['model']}, rank {int(pick['rank'])} of "
        f"{len(experiments)} on clean images among the experiments evaluated ({', '.join(experiments['model'])})"
    )
    if changes.empty:
        return f"{head}, keeps that rank in every setting."
    places = [
        f"{row.setting} (rank {row.rank}"
        + (
            ""
            if row.leader == pick["model"]
            else f", {row.leader} ahead by "
            f"{signed_pp(row.lead)} [{signed_pp(row.lead_low)}, {signed_pp(row.lead_high)}]"
        )
        + ")"
        for row in changes.itertuples()
    ]
    beyond = int((changes["lead_low"] > 0).sum())
    return (
        f"{head}, ranks differently in {len(changes)} of them: {'; '.join(places)}. The leader's advantage over the "
        f"pick is beyond seed and test-set noise in {beyond} of these settings."
    )


def executive_summary(
    table: pd.DataFrame,
    selection: dict,
    versus: pd.DataFrame,
    probability_best: pd.DataFrame,
    facts: dict,
    item: str,
    deployed: dict,
    rounds: dict,
    refits: pd.DataFrame | None = None,
) -> list[str]:
    """The summary's sentences, each about what it names: the deployed object, the recipe of the pick, its
    comparator chosen on validation, the decision's margin and stability, and the risks."""
    rows = table.set_index("experiment", drop=False)
    pick = rows.loc[selection["picked"]]
    n_test = facts["n_test"]
    recipe = expected_text(pick, n_test, item)
    sentences = [
        deployed_sentence(pick, deployed, n_test, item),
        f"For the recipe rather than this file: {recipe}.",
    ]
    comparator = facts["comparator"]
    if comparator is not None:
        other = rows.loc[comparator]
        role = (
            "the best experiment on validation"
            if comparator == selection["best_validation"]
            else "the runner-up on validation"
        )
        versus_row = versus.set_index("experiment", drop=False).loc[comparator]
        sentences.append(comparison_sentence(versus_row, role, facts["equivalence_margin"]))
        sentences.append(
            f"Against it the pick has {parameters_phrase(int(pick['params']), int(other['params']))} and "
            f"{latency_phrase(pick, other)}."
        )
    budget = budget_sentence(table, pick)
    if budget:
        sentences.append(budget)
    if refits is not None:
        sentences.append(refit_sentence(refits, pick["experiment"], facts["n_val"]))
    best = probability_best.set_index("experiment")
    others_tied = len(selection["candidates"]) - 1
    if selection["rule"] == "one_se" and selection["picked"] != selection["best_validation"]:
        margin_words = (
            f"{pick['experiment']} is {pp(rows.loc[selection['best_validation'], 'val_accuracy'] - pick['val_accuracy'], 3)} "
            f"below the best on validation, within its tie margin of {pp(selection['margins'][selection['picked']], 3)} "
            "(one standard error of the paired difference)"
        )
    else:
        margin_words = {0: "no other experiment was tied with the best on validation"}.get(
            others_tied, f"{others_tied} other experiment(s) were tied with the best on validation"
        )
    sentences.append(
        f"How sure: {margin_words}; rerunning the whole decision rule on {facts['bootstrap_draws']:,} bootstrap "
        f"resamples of validation images and seeds picks {pick['experiment']} in {share(facts['decision_stability'])} "
        f"of them, and {selection['best_validation']} is best on validation in "
        f"{share(best.loc[selection['best_validation'], 'p_best'])}."
    )
    seeds = rounds_sentence(rounds)
    if seeds:
        sentences.append(seeds)
    worst = facts["worst_class"]
    if worst["informative"]:
        worst_interval = f" (95% prediction interval {span(worst['low'], worst['high'])} for one model)"
    elif pick["n_seeds"] > 1:
        worst_interval = " (with these seeds and images its interval is uninformative)"
    else:
        worst_interval = ""
    gap_words = "beyond noise above" if selection["picked_overfits"] else "not beyond noise above"
    sentences.append(
        f"Risks: its train–validation gap is {pp(pick['generalization_gap'])}, {gap_words} the "
        f"{pp(selection['overfit_threshold'], 1)} over-fitting flag; its weakest class is {worst['class']}, "
        f"{pct(worst['accuracy'])} of {worst['images']:,} test {item}s{worst_interval}."
    )
    alternatives = {rule: name for rule, name in facts["alternatives"].items() if name != pick["experiment"]}
    if alternatives:
        changes = "; ".join(
            f"the {rule.replace('_', '-')} rule would pick {name}" for rule, name in alternatives.items()
        )
        sentences.append(f"What would change the decision: {changes}.")
    else:
        sentences.append("Both selection rules (one standard error, fixed tolerance) give the same pick.")
    return sentences


def reproduction_rows(table: pd.DataFrame) -> list[dict]:
    """The experiments with a published value: ours beside it, the difference, and whether the published single
    run lies inside our 95% prediction interval for one run on the same test set ("yes", "no", or "n/a" with one
    seed)."""
    rows = []
    for row in table.dropna(subset=["published_test_accuracy"]).to_dict("records"):
        low, high, published = row["test_run_low"], row["test_run_high"], row["published_test_accuracy"]
        inside = "n/a" if math.isnan(low) else ("yes" if low <= published <= high else "no")
        rows.append({**row, "difference": row["test_accuracy"] - published, "published_inside_interval": inside})
    return rows


def reproduction_shift(table: pd.DataFrame) -> str:
    """The systematic difference between our means and the published single runs, across the source's
    experiments: mean difference with its t-interval, and the sign test."""
    published = table.dropna(subset=["published_test_accuracy"])
    differences = (published["test_accuracy"] - published["published_test_accuracy"]).to_numpy()
    below, k = int((differences < 0).sum()), len(differences)
    mean, low, high = t_interval(differences)
    if k < 2:
        return f"Our mean is {signed_pp(mean)} from the one published value; one experiment shows no systematic shift."
    systematic = (
        "a systematic shift beyond chance" if low > 0 or high < 0 else "no systematic shift we can tell from chance"
    )
    return (
        f"Across the source's {k} experiments our means are {signed_pp(mean)} from the published runs on average "
        f"(95% CI {signed_pp(low)} to {signed_pp(high)}); {below} of {k} are below, {k - below} at or above "
        f"(sign test p = {sign_test(differences):.2g}): {systematic}."
    )


def reproduction_verdict(table: pd.DataFrame, selection: dict, versus: pd.DataFrame, source: dict) -> str:
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
    compared = versus.set_index("experiment").loc[source["pick"]]
    return (
        f"Our evidence {'partly supports' if tied else 'does not support'} the source study's pick, "
        f"{source['pick']} (chosen for {source['reason']}): its mean validation accuracy is {pp(below_best)} below "
        f"the best, {'within' if tied else 'outside'} its tie margin of {pp(selection['margins'][source['pick']], 3)}; "
        f"on test it is {signed_pp(-compared['difference'])} from our pick {selection['picked']} (Holm-adjusted "
        f'p {p_text(compared["p_holm"])}; for our pick that reads "{compared["verdict"]}"); and its '
        f"train–validation gap ranks {gap_rank} of {len(published)} among the source's experiments."
    )
