"""Reading results back: a missing, damaged or incomplete file is named with the command that rebuilds it."""

import json
import re
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest

from mlpstudy.io import (
    ResultFileError,
    check_file,
    params_json,
    read_csv,
    read_json,
    read_npz,
    read_png,
)


def rebuild_command(path) -> str:
    return f"snakemake --cores 2 --forcerun {path}"


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "metrics.json"
    with pytest.raises(ResultFileError) as raised:
        read_json(path)
    assert str(raised.value).startswith(f"{path} is missing.") and rebuild_command(path) in str(raised.value)


@pytest.mark.parametrize(
    "name, damage, reader, expected",
    [
        ("metrics.json", lambda p: p.write_text('{"seed": 0, "test_acc'), read_json, "not a readable JSON file"),
        (
            "predictions.npz",
            lambda p: p.write_bytes(p.read_bytes()[:200]),
            lambda p: read_npz(p, ("val",)),
            "not a readable .npz archive (BadZipFile",
        ),
        ("history.csv", lambda p: p.write_bytes(b"\x00\xff\xfe garbage"), read_csv, "not a readable CSV table"),
        ("figure.png", lambda p: p.write_bytes(p.read_bytes()[:-30]), read_png, "not a complete PNG image"),
    ],
)
def test_damaged_file_is_named_with_the_command_that_rebuilds_it(tmp_path, name, damage, reader, expected):
    path = tmp_path / name
    if name.endswith(".npz"):
        np.savez_compressed(path, val=np.arange(1000, dtype=np.float32))
    elif name.endswith(".png"):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plt.plot([0, 1])
        plt.savefig(path)
        plt.close()
        assert read_png(path) == path.read_bytes()  # intact first
    damage(path)
    with pytest.raises(ResultFileError) as raised:
        reader(path)
    message = str(raised.value)
    assert message.startswith(f"{path} is damaged: ") and expected in message and rebuild_command(path) in message
    assert "\n" not in message


def test_incomplete_files_name_what_they_lack(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"seed": 0}))
    with pytest.raises(ResultFileError, match=r"is incomplete: it lacks the key\(s\) \['best_epoch'\]"):
        read_json(path, ("seed", "best_epoch"))
    table = tmp_path / "runs.csv"
    pd.DataFrame({"experiment": ["a"]}).to_csv(table, index=False)
    with pytest.raises(ResultFileError, match=r"lacks the column\(s\) \['seed'\]"):
        read_csv(table, ("experiment", "seed"))
    arrays = tmp_path / "predictions.npz"
    np.savez(arrays, val=np.zeros(3))
    with pytest.raises(ResultFileError, match=r"lacks the array\(s\) \['test'\]"):
        read_npz(arrays, ("val", "test"))
    assert read_npz(arrays, ("val",))["val"].tolist() == [0, 0, 0]


def test_params_json_carries_the_same_text_without_markup_characters():
    data = {"description": '</script><script>alert(1)</script> & "quoted"', "seeds": [0, 1]}
    text = params_json(data)
    assert not set("<>&") & set(text)
    assert json.loads(text) == data


def test_cli_prints_a_project_error_as_one_line_without_traceback(tmp_path):
    missing = tmp_path / "selection.json"
    arguments = {
        "ceiling": None,
        "deploy": "single",
        "deploy_seed": 0,
        "refit_metrics": [str(tmp_path / "m.json")],
        "refit_predictions": [str(tmp_path / "p.npz")],
        "selection_predictions": [str(tmp_path / "s.npz")],
        "dataset": str(tmp_path / "dataset.npz"),
        "selection": str(missing),
        "refits": str(tmp_path / "refit.csv"),
        "deployed": str(tmp_path / "deployed.json"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "mlpstudy", "summarize-refits", json.dumps(arguments)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        (
            f"mlpstudy summarize-refits: error: {missing} is missing. Rebuild it and everything that depends on it: "
            f"{rebuild_command(missing)} (with this run's other options, e.g. --configfile)"
        )
    ]


def write_zip(path):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("model.weights.h5", bytes(range(256)) * 40)
        archive.writestr("config.json", "{}")


@pytest.mark.parametrize(
    "name, write, damage, expected",
    [
        ("model.keras", write_zip, lambda p: p.write_bytes(p.read_bytes()[:3000]), "not a readable .keras archive"),
        (
            "model.keras",
            write_zip,
            lambda p: p.write_bytes(p.read_bytes().replace(bytes(range(40, 60)), bytes(20), 1)),
            "its member model.weights.h5 fails its checksum",
        ),
        (
            "model_report.ipynb",
            lambda p: p.write_text('{"cells": []}'),
            lambda p: p.write_text('{"cells": ['),
            "not a readable JSON file",
        ),
        (
            "model_report.html",
            lambda p: p.write_text("<html><body>ok</body>\n</html>\n"),
            lambda p: p.write_text("<html><body>o"),
            "the page ends before </html>",
        ),
        ("seed0.tsv", lambda p: p.write_text("s\tmax_rss\n1.0\t20\n"), lambda p: p.unlink(), "is missing"),
    ],
)
def test_check_file_finds_damage_in_files_no_step_parses(tmp_path, name, write, damage, expected):
    path = tmp_path / name
    write(path)
    check_file(path)  # intact
    damage(path)
    with pytest.raises(ResultFileError, match=re.escape(expected)) as raised:
        check_file(path)
    assert str(raised.value).startswith(str(path))
