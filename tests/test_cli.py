import json

import pytest

from mlpstudy import cli


def test_help_lists_every_step_with_its_arguments(capsys):
    assert cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    for step in cli.STEPS:
        assert f"  {step}(" in text
    assert "train(spec, seeds, engine_version, threads, dataset, model, history, metrics, predictions)" in text


@pytest.mark.parametrize(
    "argv, problem",
    [
        ([], "expected a step (prepare-data, train, "),
        (["fit", "{}"], "expected a step (prepare-data, train, "),
        (["decide", "{not json"], "decide: the arguments are not JSON"),
        (["decide", "[1, 2]"], "decide: the arguments must be JSON objects, not list"),
        (["decide", '{"runs": "a"}', '{"runs": "b"}'], "decide: argument runs given twice"),
        (
            ["decide", json.dumps({"settings": {}, "metrics": [], "predictions": []})],
            (
                "decide: missing a required argument: 'dataset' (it takes: settings, metrics, predictions, dataset, "
                "summary, plans, runs, selection, rounds)"
            ),
        ),
        (
            [
                "decide",
                json.dumps(
                    {
                        **{key: "" for key in ("predictions", "dataset", "summary", "runs", "selection", "rounds")},
                        "plans": [],
                        "settings": {},
                        "metrics": [],
                        "typo": 1,
                    }
                ),
            ],
            "decide: got an unexpected keyword argument 'typo'",
        ),
    ],
)
def test_a_malformed_command_line_says_what_is_wrong_before_any_step_runs(capsys, argv, problem):
    assert cli.main(argv) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith(f"error: {problem}")


def test_a_step_gets_the_objects_keys_as_keyword_arguments(monkeypatch):
    calls = []

    def step(settings, summary, runs):
        """A stand-in step."""
        calls.append((settings, summary, runs))

    monkeypatch.setattr(cli, "step_function", lambda name: step)
    settings, files = {"settings": {"seeds": [0, 1]}}, {"summary": "s.json", "runs": ["a", "b"]}
    assert cli.main(["decide", json.dumps(settings), json.dumps(files)]) == 0
    assert calls == [({"seeds": [0, 1]}, "s.json", ["a", "b"])]
