"""Seeds where the decision needs them. With an adaptive seed policy every experiment starts with the same few
seeds; after each round of runs the whole decision rule is rerun on bootstrap draws (as the evidence does), and
only the experiments still in contention for the pick get the next round's seeds. An experiment out of
contention stays out, so its results are final from that round on."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlpstudy.selection import decision_draws, select_model
from mlpstudy.stats import bootstrap_accuracy_draws, paired_se_matrix
from mlpstudy.summary import share

# An experiment stays in contention while it is in the rule's tie set, or is picked or tied in at least this
# share of the bootstrap draws.
CONTENTION_CHANCE = 0.05
BOOTSTRAP_DRAWS = 2000
# What the workflow and the next round read from a round's plan.
PLAN_KEYS = ("round", "seeds", "pick", "stability", "contention", "stop", "reason", "added")


def rerun_decision(table: pd.DataFrame, val_correct: dict[str, np.ndarray], selection: dict) -> dict:
    """The decision on `table` and on BOOTSTRAP_DRAWS bootstrap draws of the validation images and seeds
    (`val_correct`: each experiment's (n_seeds, n_images) matrix, in table order): the choice, the experiment
    picked in each draw, and whether each experiment is in the tie set in each draw."""
    paired_se = paired_se_matrix(val_correct)
    draws = bootstrap_accuracy_draws(val_correct, n_boot=BOOTSTRAP_DRAWS, seed=0)
    picks, tied = decision_draws(table, selection, paired_se, draws)
    return {
        "choice": select_model(table, selection, paired_se),
        "paired_se": paired_se,
        "draws": draws,
        "picks": picks,
        "tied": tied,
    }


def _stability(value: float) -> str:
    """A decision stability to one decimal, so that 94.75% never reads as the 95% it falls short of."""
    return f"{value * 100:.1f}%"


def _contention(name: str, choice: dict, p_picked: float, p_tied: float) -> tuple[bool, str]:
    """Whether an experiment is still in contention, and why (or why not)."""
    if name == choice["picked"]:
        return True, "the pick"
    if name in choice["candidates"]:
        return True, "within the rule's margin of the best"
    chances = f"picked in {share(p_picked)} and tied in {share(p_tied)} of bootstrap draws"
    return max(p_picked, p_tied) >= CONTENTION_CHANCE, chances


def plan_round(number: int, seeds: dict[str, list[int]], decision: dict, policy: dict, previous: dict | None) -> dict:
    """Round `number`'s decision: after runs with `seeds` (experiment -> seeds so far, in table order) and the
    decision rerun on them (`decision`, from rerun_decision), which experiments are in contention, why, whether
    to stop, and the seeds the next round adds (none when stopping). `previous` is the last round's plan."""
    names = list(seeds)
    choice, picks, tied = decision["choice"], decision["picks"], decision["tied"]
    pick = choice["picked"]
    stability = float(np.mean(picks == pick))
    p_picked = {name: float(np.mean(picks == name)) for name in names}
    p_tied = {name: float(tied[:, i].mean()) for i, name in enumerate(names)}
    eligible = previous["contention"] if previous else names
    contention, retired = {}, {}
    for name in names:
        if name not in eligible:
            continue
        still, reason = _contention(name, choice, p_picked[name], p_tied[name])
        (contention if still else retired)[name] = reason
    # The pick stays in contention even if an earlier round retired it: the rule can only pick what it compares.
    contention.setdefault(pick, "the pick")
    growing = {name: len(seeds[name]) for name in contention if len(seeds[name]) < policy["max"]}
    if stability >= policy["stop_when"]:
        stop = "stable"
        text = f"stable at {_stability(stability)} after {max(len(seeds[name]) for name in contention)} seeds"
    elif not growing:
        stop = "budget"
        between = [name for name in names if name in contention]
        text = f"budget reached, pick not stable at {_stability(stability)}: " + (
            f"the decision between {', '.join(between[:-1])} and {between[-1]} stays open at {policy['max']} seeds each"
            if len(between) > 1
            else f"{pick} has {policy['max']} seeds"
        )
    else:
        stop, text = None, f"not yet stable at {_stability(stability)}"
    added = (
        {} if stop else {name: list(range(n, min(n + policy["round"], policy["max"]))) for name, n in growing.items()}
    )
    return {
        "round": number,
        "seeds": seeds,
        "pick": pick,
        "stability": stability,
        "p_picked": p_picked,
        "p_tied": p_tied,
        "contention": contention,
        "retired": retired,
        "stop": stop,
        "reason": text,
        "added": added,
    }


def seeds_by_experiment(runs: pd.DataFrame) -> dict[str, list[int]]:
    """Each experiment's seeds, in the order of `runs` (one row per run, with `experiment` and `seed`)."""
    return {name: sorted(group["seed"].tolist()) for name, group in runs.groupby("experiment", sort=False)}


def seed_summary(policy: dict, plans: list[dict], runs: pd.DataFrame) -> dict:
    """rounds.json: the policy, every round's plan, the seeds each experiment received, why the rounds stopped,
    and what they cost against training every experiment at `max` seeds (`runs`: one row per run, with
    `experiment`, `seed` and `train_seconds`)."""
    seeds = seeds_by_experiment(runs)
    at_max = policy["max"] if policy["adaptive"] else None
    cost = {"runs": len(runs), "train_seconds": float(runs["train_seconds"].sum())}
    if at_max:
        per_run = runs.groupby("experiment", sort=False)["train_seconds"].mean()
        cost["runs_at_max"] = at_max * len(seeds)
        # Each experiment's missing runs at its own mean training time.
        cost["train_seconds_at_max"] = float(per_run.sum() * at_max)
        cost["saved_share"] = 1 - cost["train_seconds"] / cost["train_seconds_at_max"]
    final = plans[-1] if plans else None
    return {
        "policy": policy,
        "rounds": plans,
        "seeds": seeds,
        "stop": final["stop"] if final else None,
        "reason": final["reason"] if final else None,
        "cost": cost,
    }
