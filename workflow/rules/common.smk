import os
import re
import sys
import time
from pathlib import Path

from snakemake.exceptions import WorkflowError

from mlpstudy.config import ConfigError, load_schema, read_command_line_values, report_labels, validate_config
from mlpstudy.io import params_json, read_json
from mlpstudy.layout import COMPARISON_FIGURES, COMPARISON_FILES, DATA_FIGURES, MODEL_FIGURES, RUN_FILES
from mlpstudy.models import training_flop

REPO = Path(workflow.basedir)
NOTEBOOKS = REPO / "notebooks"
REPORT_TEMPLATE = REPO / "src" / "mlpstudy" / "templates" / "report.html.j2"
# One environment for every step: they all run the mlpstudy package.
ENVIRONMENT = str(REPO / "environment.yml")
CAPTIONS = REPO / "workflow" / "report"

# Validate before any job starts; the message names the key, the value and what is allowed.
try:
    SCHEMA = load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
    config.update(validate_config(read_command_line_values(config, workflow.config_settings.config, SCHEMA), SCHEMA))
except ConfigError as error:
    raise WorkflowError(f"Invalid configuration: {error}") from None


def say_report_is_stale():
    """onerror: a failed run leaves the last report in place; say that it does not show this run."""
    page = Path(rules.report.output.html)
    if page.exists():
        written = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(page.stat().st_mtime))
        print(
            f"The study did not finish: {page} is from the previous successful run (written {written}) and "
            "does not show this run's changes. Fix the error above and rerun.",
            file=sys.stderr,
        )
    else:
        print(f"The study did not finish, and there is no {page}.", file=sys.stderr)


EXPERIMENTS = {experiment["name"]: experiment for experiment in config["experiments"]}
STUDY_DIR = config["study_dir"]
SEEDS = config["seeds"]
DATA_SETTINGS = (
    "dataset",
    "data_path",
    "train_images",
    "test_images",
    "validation_fraction",
    "split_seed",
    "preprocessing",
)


wildcard_constraints:
    experiment="|".join(re.escape(name) for name in EXPERIMENTS),
    seed=r"\d+",


def study_path(path):
    """`path` inside this study's folder (config key study_dir), so that studies do not overwrite each other."""
    return os.path.normpath(os.path.join(STUDY_DIR, path))


def in_report(path, caption, category, **placement):
    """Mark `path` for `snakemake --report`, captioned by workflow/report/<caption>.rst."""
    return report(path, caption=str(CAPTIONS / f"{caption}.rst"), category=category, **placement)


def experiment_labels(item):
    """A labels function for an experiment's file in `snakemake --report`: what it shows and what the net is."""

    def labels(wildcards):
        return {"figure": item, **report_labels(EXPERIMENTS[wildcards.experiment])}

    return labels


RECOMMENDATION_EVIDENCE = {"selection", "pareto", "forest"}


def comparison_output(path, key):
    """Mark a comparison output for `snakemake --report`; facts.json only feeds our own report."""
    if key == "facts":
        return path
    category = "Recommendation" if key in RECOMMENDATION_EVIDENCE else "Comparison"
    kind = "table" if path.endswith((".csv", ".json")) else "figure"
    return in_report(path, f"comparison/{key}", category, labels={kind: key.replace("_", " ")})


def data_source():
    """The local data file, when configured, so that replacing it reruns the study."""
    return [config["data_path"]] if config["data_path"] else []


def data_settings():
    return params_json({key: config[key] for key in DATA_SETTINGS})


def parent_of(key):
    """A params function: the folder of the first file of output `key` (figures, tables, ...)."""

    def folder(wildcards, output):
        return str(Path(output[key][0]).parent)

    return folder


def experiment_spec(wildcards):
    return params_json(EXPERIMENTS[wildcards.experiment])


def training_cost(experiment, refit=False):
    """A run's training arithmetic in FLOP per image of the training split (a refit also trains on the
    validation split)."""
    images = 1 / (1 - config["validation_fraction"]) if refit else 1
    return training_flop(EXPERIMENTS[experiment], images)


def largest_first(refit=False):
    """A priority function: the longest runs start first, so that the study does not end with one long run on
    one core while the other idles."""
    return lambda wildcards: training_cost(wildcards.experiment, refit)


# For the choice: it waits for every training run, and the pick's refit runs wait for it.
BEFORE_ANY_RUN = 1 + max(training_cost(name, refit=True) for name in EXPERIMENTS)


# One (experiment, seed) run: its selection run under results/experiments/, its refit under results/refit/.
RUN_PATH = "results/{stage}/{experiment}/seed{seed}/{name}"


def run_outputs(stage):
    """The output files of one run (RUN_FILES), for the train and refit rules."""
    return {
        key: study_path(RUN_PATH.format(stage=stage, experiment="{experiment}", seed="{seed}", name=name))
        for key, name in RUN_FILES.items()
    }


def run_files(name, experiment="{experiment}", stage="experiments"):
    """One file of every seed's run of an experiment."""
    return expand(study_path(RUN_PATH), stage=stage, experiment=experiment, seed=SEEDS, name=name)


def experiment_runs(wildcards):
    return {
        "metrics": run_files("metrics.json", wildcards.experiment),
        "history": run_files("history.csv", wildcards.experiment),
        "predictions": run_files("predictions.npz", wildcards.experiment),
    }


def notebook_inputs(input):
    return {"dataset_path": input.dataset, "summary_path": input.summary}


def data_overview_parameters(wildcards, input, output):
    return params_json({**notebook_inputs(input), "figures_dir": parent_of("figures")(wildcards, output)})


def model_report_parameters(wildcards, input, output):
    experiment = EXPERIMENTS[wildcards.experiment]
    return params_json(
        {
            **notebook_inputs(input),
            "experiment": experiment["name"],
            "label": experiment.get("label", ""),
            "description": experiment["description"],
            "run_dirs": [str(Path(path).parent) for path in run_files("metrics.json", wildcards.experiment)],
            "figures_dir": parent_of("figures")(wildcards, output),
        }
    )


def all_run_files(name):
    return [path for experiment in EXPERIMENTS for path in run_files(name, experiment)]


def aggregate_settings():
    return params_json({key: config[key] for key in ("experiments", "defaults", "selection")})


def ceiling_refit_runs():
    """The ceiling's refit runs: known before the choice, so they can start as soon as its training ends."""
    return run_files("metrics.json", config["ceiling"], "refit") if config["ceiling"] else []


def picked():
    """The recommended experiment, once aggregate (a checkpoint) has chosen it."""
    checkpoints.aggregate.get()
    return read_json(study_path(f"results/comparison/{COMPARISON_FILES['selection']}"), ("picked",))["picked"]


def pick_refit_runs(wildcards):
    """The pick's refit runs; none more if the pick is the ceiling."""
    pick = picked()
    return [] if pick == config["ceiling"] else run_files("metrics.json", pick, "refit")


def stage_timings():
    """Snakemake benchmark files of the stages that run before the report, for its timing table."""
    return [
        study_path("results/benchmarks/prepare_data.tsv"),
        *expand(study_path("results/benchmarks/train/{experiment}/seed{seed}.tsv"), experiment=EXPERIMENTS, seed=SEEDS),
        study_path("results/benchmarks/data_overview.tsv"),
        *expand(study_path("results/benchmarks/model_report/{experiment}.tsv"), experiment=EXPERIMENTS),
        study_path("results/benchmarks/aggregate.tsv"),
    ]


def refit_outputs(experiments):
    return expand([*rules.refit.output, rules.refit.benchmark], experiment=experiments, seed=SEEDS)


def study_files():
    """Every file the study promises but the report and the pick's refit runs (pick_refit_outputs), benchmarks
    included. The report checks each of them, and with it they are the study's targets: Snakemake rebuilds a
    deleted file only when it is a target or something downstream has to run anyway."""
    refit = config["refit"] and config["ceiling"]
    return [
        *rules.prepare_data.output,
        *rules.data_overview.output,
        *expand(rules.train.output, experiment=EXPERIMENTS, seed=SEEDS),
        *expand(rules.model_report.output, experiment=EXPERIMENTS),
        *rules.aggregate.output,
        *(refit_outputs(config["ceiling"]) if refit else []),
        *(rules.summarize_refits.output if config["refit"] else []),
        *stage_timings(),
    ]


def pick_refit_outputs(wildcards):
    """The pick's refit runs, as targets; a separate input function, so that only these wait for the choice
    in a dry run's plan."""
    pick = picked() if config["refit"] else config["ceiling"]
    return [] if pick == config["ceiling"] else refit_outputs(pick)
