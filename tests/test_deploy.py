"""The deploy stage end to end on the smoke study: the bundle, `python -m mlpstudy predict` on images written
here, the robustness table, and the model card against the results files it quotes and the report."""

import hashlib
import html
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw
from test_workflow import up_to_date

from mlpstudy.deploy import warning_threshold
from mlpstudy.report import markdown_html
from mlpstudy.summary import pct

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def finished(study):
    workdir, config = up_to_date(study)
    return workdir / "results", config


def predict(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlpstudy", "predict", *map(str, args)], capture_output=True, text=True, check=False
    )


def read(path):
    return json.loads(path.read_text())


def test_the_bundle_holds_both_formats_each_measured_and_listed_in_its_manifest(finished):
    results, config = finished
    deploy = results / "deploy"
    bundle, deployed = read(deploy / "bundle.json"), read(results / "refit" / "deployed.json")
    listed = dict(line.split()[::-1] for line in (deploy / "MANIFEST").read_text().splitlines())
    assert set(listed) == {"model.keras", "model.tflite", "bundle.json", "MODEL_CARD.md"}
    for name, digest in listed.items():
        assert hashlib.sha256((deploy / name).read_bytes()).hexdigest() == digest, name
    # The shipped Keras file is the deployed refit run's own file.
    seed = deployed["seeds"][0]
    refit_model = results / "refit" / deployed["experiment"] / f"seed{seed}" / "model.keras"
    assert (deploy / "model.keras").read_bytes() == refit_model.read_bytes()
    labels = np.load(results / "data" / "dataset.npz")["y_test"]
    for name in ("keras", "tflite"):
        measured = bundle["formats"][name]
        assert measured["images"] == len(labels) and measured["sha256"] == listed[measured["file"]]
    assert bundle["formats"]["keras"]["accuracy"] == deployed["accuracy"]
    assert bundle["formats_agree"] and abs(bundle["formats"]["tflite"]["accuracy"] - deployed["accuracy"]) <= 0.0005
    # The warning threshold, recomputed from the pick's selection run of the same seed (validation images).
    run = results / "experiments" / deployed["experiment"] / f"seed{seed}" / "predictions.npz"
    validation = np.load(run)["val_probabilities"]
    y_val = np.load(results / "data" / "dataset.npz")["y_val"]
    assert bundle["warning"]["threshold"] == warning_threshold(validation, y_val, config.get("warning_accuracy", 0.995))
    assert bundle["preprocessing"]["name"] == "scale" and bundle["class_names"] == [str(k) for k in range(10)]
    for name in ("keras", "tflite"):
        latency = bundle["latency"][name]
        assert 0 < latency["p25_ms"] <= latency["median_ms"] <= latency["p75_ms"]


def write_pngs(folder, images, labels):
    folder.mkdir()
    for index, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(folder / f"{index:05d}_label{label}.png")


def accuracy_of(lines: list[str]) -> float:
    right = [re.search(r"label(\d)\.png", line.split("\t")[0]).group(1) == line.split("\t")[1] for line in lines]
    return sum(right) / len(right)


def test_predict_reproduces_the_bundles_accuracy_on_exported_test_images(finished, tmp_path):
    results, _ = finished
    bundle = read(results / "deploy" / "bundle.json")
    data = np.load(results / "data" / "dataset.npz")
    write_pngs(tmp_path / "test_images", data["x_test"], data["y_test"])
    for model_format in ("tflite", "keras"):
        result = predict(results / "deploy", tmp_path / "test_images", "--format", model_format)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert len(lines) == len(data["y_test"])
        assert abs(accuracy_of(lines) - bundle["formats"][model_format]["accuracy"]) <= 0.001
        flagged = sum("WARNING: low confidence" in line for line in lines)
        assert flagged == bundle["warning"]["test"]["flagged"]


def test_predict_reads_a_drawn_digit_and_an_npz_and_names_each_bad_file(finished, tmp_path):
    results, _ = finished
    drawing = Image.new("L", (160, 220), color=255)  # black on white, off-centre, far from 28x28
    ImageDraw.Draw(drawing).line([(40, 30), (110, 30), (60, 190)], fill=0, width=14)
    drawing.save(tmp_path / "seven.jpg")
    data = np.load(results / "data" / "dataset.npz")
    np.savez(tmp_path / "three.npz", x_test=data["x_test"][:3])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("not an image")
    np.savez(tmp_path / "wrong.npz", images=np.zeros((2, 27, 27), np.uint8))
    files = ["seven.jpg", "empty.png", "three.npz", "notes.png", "wrong.npz", "missing.png"]
    result = predict(results / "deploy", *[tmp_path / name for name in files])
    assert result.returncode == 1
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [line[0] for line in lines] == [str(tmp_path / "seven.jpg")] + [
        f"{tmp_path / 'three.npz'}[{i}]" for i in range(3)
    ]
    for line in lines:
        assert line[1] in [str(k) for k in range(10)] and 0 < float(line[2]) <= 1
    errors = result.stderr.splitlines()
    for name in ("empty.png", "notes.png", "wrong.npz", "missing.png"):
        assert sum(str(tmp_path / name) in error for error in errors) == 1, (name, errors)
    assert "(2, 27, 27)" in next(error for error in errors if "wrong.npz" in error)


def test_predict_refuses_a_damaged_bundle_and_says_what_is_allowed(finished, tmp_path):
    results, _ = finished
    copy = tmp_path / "deploy"
    shutil.copytree(results / "deploy", copy)
    with open(copy / "model.tflite", "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    image = tmp_path / "zero.png"
    Image.fromarray(np.load(results / "data" / "dataset.npz")["x_test"][0]).save(image)
    result = predict(copy, image)
    assert result.returncode == 2 and result.stdout == ""
    assert f"{copy / 'model.tflite'} is missing, damaged or not the file" in result.stderr
    assert predict(results / "deploy", image, "--format", "keras").returncode == 0  # the other file still checks
    (copy / "MANIFEST").unlink()
    assert "MANIFEST is missing" in predict(copy, image).stderr
    help_text = predict("--help").stdout
    assert "centre of mass" in help_text and "--format {tflite,keras}" in help_text


def test_robustness_covers_the_deployed_model_the_pick_and_its_competitors(finished):
    results, config = finished
    table = pd.read_csv(results / "robustness" / "robustness.csv")
    pick = read(results / "comparison" / "selection.json")["picked"]
    roles = table.drop_duplicates("model").set_index("model")["role"].to_dict()
    assert roles.pop("deployed model") == "deployed" and roles.pop(pick) == "pick"
    assert len(roles) == min(2, len(config["experiments"]) - 1) and set(roles.values()) == {"competitor"}
    assert table.groupby("model").size().eq(22).all()  # clean + 7 corruptions x 3 severities
    clean = table[table["corruption"] == "none"].set_index("model")
    assert clean.loc["deployed model", "accuracy"] == read(results / "deploy" / "bundle.json")["test"]["accuracy"]
    # The pick's clean row is the mean test accuracy of its selection runs (first seeds).
    seeds = config["seeds"]
    runs = [read(results / "experiments" / pick / f"seed{s}" / "metrics.json")["test_accuracy"] for s in seeds]
    assert clean.loc[pick, "accuracy"] == pytest.approx(np.mean(runs), abs=1e-12)
    assert sorted(clean.loc[[pick, *roles], "rank"]) == list(range(1, len(roles) + 2))
    for name in ("accuracy_under_corruption.png", "corruption_examples.png"):
        assert (results / "robustness" / "figures" / name).read_bytes().startswith(b"\x89PNG")


def test_the_model_card_quotes_the_results_files_and_the_report_shows_it(finished):
    results, _ = finished
    card = (results / "deploy" / "MODEL_CARD.md").read_text()
    bundle = read(results / "deploy" / "bundle.json")
    dataset = read(results / "data" / "dataset.json")
    refits = pd.read_csv(results / "refit" / "refit.csv").set_index("experiment")
    robustness = pd.read_csv(results / "robustness" / "robustness.csv")
    keras, tflite = bundle["formats"]["keras"], bundle["formats"]["tflite"]

    def row(title):
        return next(line for line in card.splitlines() if line.startswith(f"| {title}"))

    assert f"{pct(keras['accuracy'])} [{pct(keras['low'])}–{pct(keras['high'])}]" in row("Accuracy, Keras file")
    assert f"{pct(tflite['accuracy'])} [{pct(tflite['low'])}–{pct(tflite['high'])}]" in row("Accuracy, TensorFlow Lite")
    recipe = refits.loc[bundle["experiment"]]
    assert f"{pct(recipe['test_accuracy'])} [{pct(recipe['test_expected_low'])}–" in row("The recipe")
    for entry in bundle["per_class"]:
        assert f"| {entry['class']} | {entry['images']:,} | {pct(entry['accuracy'])} [" in card
    worst = min(bundle["per_class"], key=lambda entry: entry["accuracy"])
    assert row("Worst class").startswith(f"| Worst class | {worst['class']}: {pct(worst['accuracy'])}")
    assert f"{bundle['calibration']['ece'] * 100:.2f}%" in row("Calibration")
    for digest in (*dataset["sha256"].values(), keras["sha256"], tflite["sha256"]):
        assert digest in card
    assert f"below **{bundle['warning']['threshold']:.4f}**" in card
    deployed_rows = robustness[(robustness["role"] == "deployed") & (robustness["corruption"] != "none")]
    for entry in deployed_rows.itertuples():
        assert f"| {entry.corruption} | {entry.severity} | {entry.setting} | {pct(entry.accuracy)} [" in card
    assert re.search(r"Code: git commit [0-9a-f]{12}, (with|no) uncommitted changes", card)
    assert "snakemake --cores 2 results/deploy/MANIFEST --configfile config.yaml" in card
    # The report shows the card as generated.
    assert markdown_html(results / "deploy" / "MODEL_CARD.md") in (results / "report.html").read_text()
    assert "ranks differently" in html.unescape(card) or "keeps that rank" in html.unescape(card)
