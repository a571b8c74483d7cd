"""Command line: `python -m mlpstudy <step> '<JSON object>' ['<JSON object>' ...]` calls one library step with
the objects' keys as keyword arguments.

Each Snakemake rule is one such call, with two objects from its params helpers (workflow/rules/common.smk): the
settings the step depends on (step_settings, which Snakemake records, so that a change reruns the job) and the
rule's named input and output files (step_files).
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import os
import sys

STEPS = {
    "prepare-data": "mlpstudy.data:prepare",
    "train": "mlpstudy.training:train_runs",
    "refit": "mlpstudy.training:refit_run",
    "render-notebook": "mlpstudy.notebooks:render_notebook",
    "plan-round": "mlpstudy.aggregate:plan_next_round",
    "decide": "mlpstudy.aggregate:decide",
    "evidence": "mlpstudy.aggregate:evidence",
    "summarize-refits": "mlpstudy.refit:summarize_refits",
    "deploy-bundle": "mlpstudy.deploy:build_bundle",
    "robustness": "mlpstudy.robustness:evaluate_robustness",
    "model-card": "mlpstudy.card:model_card",
    "report": "mlpstudy.report:render_report",
}
# Steps that end without TensorFlow's teardown at interpreter exit, which adds about a second to each training
# job; every output is written and closed by then.
WITHOUT_TEARDOWN = {"train", "refit", "deploy-bundle", "robustness"}


def step_function(name: str):
    module, function = STEPS[name].split(":")
    return getattr(importlib.import_module(module), function)


def usage() -> str:
    lines = [
        __doc__.strip(),
        "",
        "python -m mlpstudy predict <bundle> <images...> classifies images with a deployed bundle (results/deploy);",
        "python -m mlpstudy predict --help says how.",
        "",
        "Steps and their arguments:",
    ]
    for name in STEPS:
        function = step_function(name)
        summary = (function.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        lines.append(f"  {name}({', '.join(inspect.signature(function).parameters)})\n      {summary}")
    return "\n".join(lines)


def parse(argv: list[str]):
    """The step and its keyword arguments, or a one-line reason why the command line is not one."""
    if len(argv) < 2 or argv[0] not in STEPS:
        return None, None, f"expected a step ({', '.join(STEPS)}) and JSON objects of its arguments"
    arguments = {}
    for text in argv[1:]:
        try:
            part = json.loads(text)
        except json.JSONDecodeError as error:
            return None, None, f"{argv[0]}: the arguments are not JSON ({error})"
        if not isinstance(part, dict):
            return None, None, f"{argv[0]}: the arguments must be JSON objects, not {type(part).__name__}"
        if twice := sorted(set(part) & set(arguments)):
            return None, None, f"{argv[0]}: argument {', '.join(twice)} given twice"
        arguments.update(part)
    function = step_function(argv[0])
    try:
        inspect.signature(function).bind(**arguments)
    except TypeError as error:
        parameters = ", ".join(inspect.signature(function).parameters)
        return None, None, f"{argv[0]}: {error} (it takes: {parameters})"
    return function, arguments, None


def predict_command(argv: list[str]) -> int:
    """`python -m mlpstudy predict <bundle> <images...>`: one line per image; 1 if any file could not be read."""
    import argparse

    from mlpstudy.images import PREPARATION

    parser = argparse.ArgumentParser(
        prog="python -m mlpstudy predict",
        description="Classify images with a deployed model bundle (results/deploy). Prints one tab-separated line "
        "per image: file, predicted class, its probability, and a warning when the probability is below the "
        "bundle's threshold (chosen on validation images; see its MODEL_CARD.md). " + PREPARATION,
    )
    parser.add_argument("bundle", help="the bundle's folder, e.g. results/deploy")
    parser.add_argument("images", nargs="+", help="PNG or JPEG files, .npz files, or folders of them")
    parser.add_argument(
        "--format",
        choices=("tflite", "keras"),
        default="tflite",
        help="which of the bundle's two model files to run (default: tflite, which needs no TensorFlow import)",
    )
    parser.add_argument("--threshold", type=float, help="warn below this probability instead of the bundle's")
    options = parser.parse_args(argv)
    from mlpstudy.deploy import predict
    from mlpstudy.io import StudyError

    failed = 0
    try:
        for label, name, probability, warning in predict(
            options.bundle, options.images, options.format, options.threshold
        ):
            if name is None:
                failed += 1
                print(f"mlpstudy predict: error: {warning}", file=sys.stderr)
            else:
                print("\t".join([label, name, f"{probability:.4f}", *([f"WARNING: {warning}"] if warning else [])]))
    except StudyError as error:
        print(f"mlpstudy predict: error: {error}", file=sys.stderr)
        return 2
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["predict"]:
        return predict_command(argv[1:])
    if argv in (["-h"], ["--help"]):
        print(usage())
        return 0
    function, arguments, problem = parse(argv)
    if problem:
        print(
            f"usage: python -m mlpstudy <step> '<JSON object>' ... (--help lists the steps)\nerror: {problem}",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from mlpstudy.io import StudyError

    try:
        function(**arguments)
    except StudyError as error:  # the message names the file and what to do; a traceback would only bury it
        print(f"mlpstudy {argv[0]}: error: {error}", file=sys.stderr)
        return 1
    if argv[0] in WITHOUT_TEARDOWN:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
