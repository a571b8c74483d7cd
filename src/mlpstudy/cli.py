"""Command-line entry points; each Snakemake rule is one of these calls.

Settings arrive as one JSON argument, built by the rule from the validated config, so the rule's
`params` (and with them Snakemake's rerun decisions) hold exactly what the step depends on.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys


def _prepare_data(args) -> None:
    from mlpstudy.data import prepare

    prepare(json.loads(args.settings), args.dataset, args.summary)


def _train(args) -> None:
    from mlpstudy.training import train_run

    train_run(json.loads(args.spec), args.seed, args.dataset, args.run_dir, threads=args.threads)
    _exit_without_teardown()


def _refit(args) -> None:
    from mlpstudy.training import refit_run

    refit_run(json.loads(args.spec), args.seed, args.dataset, args.selection_run, args.run_dir, threads=args.threads)
    _exit_without_teardown()


def _exit_without_teardown() -> None:
    """End a training job now: every output is written and closed, and TensorFlow's teardown at interpreter
    exit would add about a second to each of the study's jobs."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _summarize_refits(args) -> None:
    from mlpstudy.refit import summarize_refits

    summarize_refits(args.ceiling, args.runs, args.selection, args.selection_runs, args.output)


def _aggregate(args) -> None:
    from mlpstudy.aggregate import aggregate

    aggregate(json.loads(args.settings), args.runs, args.dataset, args.summary, args.output_dir, args.comparison)


def _report(args) -> None:
    from mlpstudy.report import render_report

    render_report(json.loads(args.settings), args.results_dir, args.output, args.check)


def _render_notebook(args) -> None:
    from mlpstudy.notebooks import render_notebook

    render_notebook(args.notebook, json.loads(args.parameters), args.executed, args.output_notebook, args.output_html)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlpstudy", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    command = commands.add_parser("prepare-data", help="check, subset and split the source data")
    command.add_argument("--settings", required=True, help="JSON: dataset, data_path, split settings")
    command.add_argument("--dataset", required=True, help="output .npz of the prepared split")
    command.add_argument("--summary", required=True, help="output .json: checksums, counts, split")
    command.set_defaults(handler=_prepare_data)

    command = commands.add_parser("train", help="train one (experiment, seed) run")
    command.add_argument("--spec", required=True, help="JSON: the resolved experiment")
    command.add_argument("--seed", required=True, type=int)
    command.add_argument("--dataset", required=True, help="prepared split (.npz)")
    command.add_argument("--run-dir", required=True)
    command.add_argument("--threads", type=int, default=1, help="TF intra- and inter-op threads")
    command.set_defaults(handler=_train)

    command = commands.add_parser("refit", help="retrain a chosen experiment on training + validation images")
    command.add_argument("--spec", required=True, help="JSON: the resolved experiment")
    command.add_argument("--seed", required=True, type=int)
    command.add_argument("--dataset", required=True, help="prepared split (.npz)")
    command.add_argument("--selection-run", required=True, help="metrics.json of the same seed's selection run")
    command.add_argument("--run-dir", required=True)
    command.add_argument("--threads", type=int, default=1, help="TF intra- and inter-op threads")
    command.set_defaults(handler=_refit)

    command = commands.add_parser("summarize-refits", help="test accuracy of the refit pick and ceiling")
    command.add_argument("--ceiling", help="the ceiling experiment, if any")
    command.add_argument("--runs", required=True, nargs="+", help="metrics.json of every refit run")
    command.add_argument("--selection", required=True, help="selection.json, for the pick")
    command.add_argument("--selection-runs", required=True, help="runs.csv, for the selection runs' test accuracy")
    command.add_argument("--output", required=True, help="output refit.csv")
    command.set_defaults(handler=_summarize_refits)

    command = commands.add_parser("aggregate", help="comparison table, selection, statistics and figures")
    command.add_argument("--settings", required=True, help="JSON: experiments, defaults and selection settings")
    command.add_argument("--runs", required=True, nargs="+", help="metrics.json of every run (beside its other files)")
    command.add_argument("--dataset", required=True, help="prepared split (.npz), for the labels")
    command.add_argument("--summary", required=True, help="data summary (.json), for the class names")
    command.add_argument("--output-dir", required=True, help="folder for runs.csv, selection.json, ... and figures/")
    command.add_argument("--comparison", required=True, help="output comparison.csv")
    command.set_defaults(handler=_aggregate)

    command = commands.add_parser("report", help="render the self-contained HTML report")
    command.add_argument("--settings", required=True, help="JSON: the resolved config")
    command.add_argument("--results-dir", required=True)
    command.add_argument("--check", nargs="*", default=[], help="every results file the report vouches for")
    command.add_argument("--output", required=True)
    command.set_defaults(handler=_report)

    command = commands.add_parser("render-notebook", help="execute a notebook with papermill and render it as HTML")
    command.add_argument("--notebook", required=True, help="the papermill notebook to run")
    command.add_argument("--parameters", required=True, help="JSON: the notebook's parameters")
    command.add_argument("--executed", required=True, help="where papermill writes as it runs (the job's log)")
    command.add_argument("--output-notebook", required=True)
    command.add_argument("--output-html", required=True)
    command.set_defaults(handler=_render_notebook)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from mlpstudy.io import StudyError

    try:
        args.handler(args)
    except StudyError as error:  # the message names the file and what to do; a traceback would only bury it
        print(f"mlpstudy {args.command}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
