"""The model card of the deployed bundle (Mitchell et al. 2019), generated from the study's results files, and
the bundle's MANIFEST. The report shows the same card, rendered from the same Markdown file."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import jinja2
import pandas as pd

from mlpstudy.deploy import KERAS_FILE, TFLITE_FILE, sha256_file
from mlpstudy.io import read_json, write_text
from mlpstudy.refit import read_refits
from mlpstudy.report import package_versions, provenance
from mlpstudy.robustness import rank_changes, read_robustness
from mlpstudy.summary import pct, pp, robustness_sentence, share, signed_pp, span

TEMPLATE = Path(__file__).parent / "templates" / "model_card.md.j2"


def markdown_text(text) -> str:
    """Text from a config or a results file, shown as itself in Markdown: HTML and Markdown syntax escaped."""
    return re.sub(r"([\\`*_\[\]|#<>!&])", r"\\\1", str(text))


def interval(row: dict, digits: int = 2) -> str:
    return f"{pct(row['accuracy'], digits)} [{span(row['low'], row['high'], digits)}]"


def card_text(
    settings: dict,
    bundle: dict,
    summary: dict,
    selection: dict,
    facts: dict,
    rounds: dict,
    refit_row: dict | None,
    robustness: pd.DataFrame,
    command: str,
) -> str:
    """The card's Markdown from the results it quotes."""
    experiment = next(e for e in settings["experiments"] if e["name"] == bundle["experiment"])
    deployed = robustness[robustness["role"] == "deployed"]
    clean = deployed[deployed["corruption"] == "none"].iloc[0]
    worst_class = min(bundle["per_class"], key=lambda row: row["accuracy"])
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    environment.filters.update(
        {"pct": pct, "pp": pp, "share": share, "signed_pp": signed_pp, "md": markdown_text, "interval": interval}
    )
    return environment.from_string(TEMPLATE.read_text()).render(
        generated=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        bundle=bundle,
        experiment=experiment,
        summary=summary,
        selection=selection,
        facts=facts,
        rounds=rounds,
        refit=refit_row,
        n_experiments=len(settings["experiments"]),
        worst_class=worst_class,
        deployed_robustness=deployed[deployed["corruption"] != "none"].to_dict("records"),
        deployed_clean=clean,
        hardest=deployed.loc[deployed["accuracy"].idxmin()],
        robustness_sentence=robustness_sentence(robustness, rank_changes(robustness)),
        provenance=provenance(settings),
        versions=package_versions(),
        command=command,
        files={name: bundle["formats"][key] for key, name in (("keras", KERAS_FILE), ("tflite", TFLITE_FILE))},
    )


def model_card(
    settings: dict,
    command: str,
    bundle: str,
    summary: str,
    selection: str,
    facts: str,
    rounds: str,
    robustness: str,
    keras_model: str,
    tflite_model: str,
    card: str,
    manifest: str,
    refits: str | None = None,
) -> None:
    """Write the model card (`card`, Markdown) of the bundle in `bundle`'s folder from the study's results, and
    then the bundle's `manifest`: the SHA-256 of every file in it, in `sha256sum -c` format. `command`
    reproduces the bundle; `settings` is the study's resolved configuration."""
    bundle_facts = read_json(bundle, ("experiment", "formats", "per_class", "warning", "latency", "test"))
    refit_row = None
    if refits:
        table = read_refits(refits).set_index("experiment", drop=False)
        refit_row = table.loc[bundle_facts["experiment"]].to_dict()
    text = card_text(
        settings,
        bundle_facts,
        read_json(summary, ("dataset", "title", "item", "sha256", "n_train", "n_val", "n_test")),
        read_json(selection, ("picked", "rule", "description")),
        read_json(facts, ("decision_stability", "bootstrap_draws", "n_val")),
        read_json(rounds, ("policy", "reason", "seeds")),
        refit_row,
        read_robustness(robustness),
        command,
    )
    write_text(card, text)
    files = [Path(path) for path in (keras_model, tflite_model, bundle, card)]
    if {path.parent for path in files} != {Path(manifest).parent}:
        raise ValueError(f"the bundle's files must share the MANIFEST's folder: {[str(path) for path in files]}")
    write_text(manifest, "".join(f"{sha256_file(path)}  {path.name}\n" for path in files))


def card_html(path: str | Path) -> str:
    """The model card as HTML for the report: the Markdown file itself rendered, raw HTML in it escaped."""
    import mistune

    return mistune.create_markdown(escape=True, plugins=["table"])(Path(path).read_text())
