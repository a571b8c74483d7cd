"""The bundle to ship: the deployed model as a Keras file and a TensorFlow Lite flat buffer, each measured on the
test images, with the preprocessing it expects, the probability below which a prediction is flagged, and its
latency; and the `predict` command that reads a bundle and classifies a user's images with it.

The deployed model is the object that `deploy` names (one refit model, or the seed ensemble: the mean of the
members' class probabilities, built as one Keras model). Every number about it here is measured on that object.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from mlpstudy.data import PREPROCESSING, read_prepared, read_summary, to_inputs
from mlpstudy.io import StudyError, atomic_path, check_file, read_json, read_npz, write_json
from mlpstudy.stats import calibration, wilson_interval

log = logging.getLogger("mlpstudy.deploy")

# The bundle's files, by role; MANIFEST (written last, by the model card step) lists them with their SHA-256.
KERAS_FILE, TFLITE_FILE, BUNDLE_FILE, MANIFEST_FILE = "model.keras", "model.tflite", "bundle.json", "MANIFEST"
# The two formats may differ in the last bits of a probability; their test accuracies must agree this closely.
FORMATS_AGREE_WITHIN = 0.0005
LATENCY_WARMUP, LATENCY_REPEATS = 50, 500
PREDICT_CHUNK = 4096


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensemble_model(members: list):
    """One Keras model whose output is the mean of `members`' class probabilities (the seed ensemble)."""
    import keras

    pixels = keras.Input(shape=members[0].inputs[0].shape[1:], name="pixels")
    # Each member is renamed: names must be unique among a functional model's layers.
    outputs = [keras.Sequential(member.layers, name=f"member_{i}")(pixels) for i, member in enumerate(members)]
    return keras.Model(pixels, keras.layers.Average(name="seed_average")(outputs), name="seed_ensemble")


def load_deployed(models: list[str]):
    """The deployed object, from its runs' Keras files `models`: the one model, or the ensemble of the members
    (in seed order). Each file is checked first, so that a damaged one is named with the command that rebuilds it."""
    import keras

    for path in models:
        check_file(path)
    members = [keras.models.load_model(path, compile=False) for path in models]
    return members[0] if len(members) == 1 else ensemble_model(members)


def keras_probabilities(model, inputs: np.ndarray) -> np.ndarray:
    """Class probabilities of `inputs` from a Keras model, in chunks, in inference mode (eagerly: a few large
    chunks, so tracing a graph would cost more than it saves)."""
    chunks = range(0, len(inputs), PREDICT_CHUNK)
    return np.concatenate([model(inputs[start : start + PREDICT_CHUNK], training=False).numpy() for start in chunks])


def tflite_interpreter(path: str | Path, batch: int):
    """A LiteRT interpreter of the flat buffer at `path`, one thread, sized for `batch` images."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    pixels = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(pixels["index"], [batch, int(pixels["shape"][-1])])
    interpreter.allocate_tensors()
    return interpreter


def tflite_probabilities(path: str | Path, inputs: np.ndarray) -> np.ndarray:
    """Class probabilities of `inputs` from the TensorFlow Lite flat buffer at `path` (LiteRT interpreter)."""
    interpreter = tflite_interpreter(path, len(inputs))
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.ascontiguousarray(inputs, np.float32))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def warning_threshold(probabilities: np.ndarray, labels: np.ndarray, target_accuracy: float) -> float:
    """The lowest top probability t such that the predictions with a top probability of at least t are right in
    at least `target_accuracy` of cases (on the images given); 1.0 when no such t exists, so that every
    prediction is flagged."""
    confidence = probabilities.max(axis=1)
    order = np.argsort(-confidence, kind="stable")
    right = (probabilities.argmax(axis=1) == labels)[order]
    kept_accuracy = np.cumsum(right) / np.arange(1, len(right) + 1)
    reaching = np.flatnonzero(kept_accuracy >= target_accuracy)
    return float(confidence[order][reaching[-1]]) if len(reaching) else 1.0


def flagged_summary(probabilities: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    """How the warning threshold splits `labels`' images: the share flagged, and the accuracy (Wilson
    interval) of the predictions flagged and of those not flagged."""
    flagged = probabilities.max(axis=1) < threshold
    right = probabilities.argmax(axis=1) == labels
    summary = {"images": len(labels), "flagged": int(flagged.sum()), "flagged_share": float(flagged.mean())}
    for part, members in (("unflagged", ~flagged), ("flagged", flagged)):
        n, k = int(members.sum()), int(right[members].sum())
        low, high = wilson_interval(k, n) if n else (float("nan"), float("nan"))
        summary[f"{part}_accuracy"] = k / n if n else float("nan")
        summary[f"{part}_low"], summary[f"{part}_high"] = low, high
    return summary


def accuracy_with_interval(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    right = int(np.sum(probabilities.argmax(axis=1) == labels))
    low, high = wilson_interval(right, len(labels))
    return {"accuracy": right / len(labels), "low": low, "high": high, "right": right, "images": len(labels)}


def per_class_table(probabilities: np.ndarray, labels: np.ndarray, class_names: list[str]) -> list[dict]:
    return [
        {"class": name, **accuracy_with_interval(probabilities[labels == k], labels[labels == k])}
        for k, name in enumerate(class_names)
    ]


def _spread(samples_ms: list[float]) -> dict:
    p25, median, p75 = np.percentile(samples_ms, [25, 50, 75])
    return {"median_ms": float(median), "p25_ms": float(p25), "p75_ms": float(p75), "repeats": len(samples_ms)}


def _timed(call) -> dict:
    for _ in range(LATENCY_WARMUP):
        call()
    samples = []
    for _ in range(LATENCY_REPEATS):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return _spread(samples)


def single_image_latency(model, tflite_path: str | Path, image: np.ndarray) -> dict:
    """Time to classify one image, per format, one thread: median and quartiles of LATENCY_REPEATS timings after
    a warm-up. The workflow runs this step alone (it claims every core), so nothing else runs beside it."""
    import tensorflow as tf

    single = tf.constant(image[None, :])
    forward = tf.function(lambda x: model(x, training=False))
    interpreter = tflite_interpreter(tflite_path, 1)
    index = interpreter.get_input_details()[0]["index"]
    output = interpreter.get_output_details()[0]["index"]

    def lite():
        interpreter.set_tensor(index, image[None, :])
        interpreter.invoke()
        return interpreter.get_tensor(output)

    return {"keras": _timed(lambda: forward(single).numpy()), "tflite": _timed(lite)}


def build_bundle(
    settings: dict,
    models: list[str],
    validation_predictions: list[str],
    deployed: str,
    dataset: str,
    summary: str,
    keras_model: str,
    tflite_model: str,
    bundle: str,
) -> dict:
    """Write the bundle of the deployed model (`deployed`: what deploy names, as the refit summary or the
    evidence describes it) from its run files' Keras `models` (one, or the ensemble's members in seed order):
    `keras_model` (.keras), `tflite_model` (.tflite) and `bundle` (.json: what each format measures on the test
    images of `dataset`, the preprocessing, the warning threshold and the latency).

    The warning threshold is chosen on validation images the model did not train on: the validation predictions
    of the same experiment's selection runs with the same seeds (`validation_predictions`; averaged for an
    ensemble), as the lowest top probability above which `settings["warning_accuracy"]` of them are right.
    `settings`: warning_accuracy, deploy_key (the key of `deployed` that describes the object, or null when it
    is the whole file), description (what the object is, for the card)."""
    from mlpstudy.models import count_trainable_params
    from mlpstudy.training import configure_tensorflow

    configure_tensorflow(threads=1, seed=0)
    import keras
    import tensorflow as tf

    described = read_json(deployed)
    if settings.get("deploy_key"):
        described = described[settings["deploy_key"]]
    facts = read_summary(summary)
    arrays = read_prepared(dataset, ("x_test", "y_test", "y_val", "preprocessing"))
    preprocessing = str(arrays["preprocessing"])
    x_test, y_test = to_inputs(arrays["x_test"], preprocessing), arrays["y_test"].astype(np.int64)

    model = load_deployed(models)
    with atomic_path(keras_model) as tmp:
        if len(models) == 1:  # the run's own file, byte for byte
            shutil.copyfile(models[0], tmp)
        else:
            model.save(tmp)
    flat = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    with atomic_path(tflite_model) as tmp:
        tmp.write_bytes(flat)

    reloaded = keras.models.load_model(keras_model, compile=False)
    probabilities = {
        "keras": keras_probabilities(reloaded, x_test),
        "tflite": tflite_probabilities(tflite_model, x_test),
    }
    formats = {}
    for name, path in (("keras", keras_model), ("tflite", tflite_model)):
        formats[name] = {
            "file": Path(path).name,
            "bytes": Path(path).stat().st_size,
            "sha256": sha256_file(path),
            **accuracy_with_interval(probabilities[name], y_test),
        }
    difference = abs(formats["keras"]["accuracy"] - formats["tflite"]["accuracy"])
    disagreements = int(np.sum(probabilities["keras"].argmax(1) != probabilities["tflite"].argmax(1)))
    stated = described["accuracy"]
    # The file and the stated figure come from the same weights; only the last bits of a probability differ.
    if abs(formats["keras"]["accuracy"] - stated) > max(FORMATS_AGREE_WITHIN, 1.5 / len(y_test)):
        raise StudyError(
            f"{keras_model} reaches {formats['keras']['accuracy']:.4%} on the test images, but {deployed} states "
            f"{stated:.4%} for the same model: rebuild both (snakemake --forcerun {deployed})"
        )

    validation = np.mean(
        [read_npz(path, ("val_probabilities",))["val_probabilities"] for path in validation_predictions], axis=0
    )
    y_val = arrays["y_val"].astype(np.int64)
    threshold = warning_threshold(validation, y_val, settings["warning_accuracy"])
    deployed_probabilities = probabilities["keras"]
    result = {
        "experiment": described["experiment"],
        "deploy": described["deploy"],
        "seeds": described["seeds"],
        "train_images": described["train_images"],
        "description": settings["description"],
        "params": count_trainable_params(model),
        "class_names": facts["class_names"],
        "dataset": facts["dataset"],
        "preprocessing": {
            "name": preprocessing,
            "description": PREPROCESSING[preprocessing],
            "image": f"28 x 28 greyscale, uint8, the {facts['item']} light (up to 255) on a dark (0) background",
            "input_shape": [None, int(x_test.shape[1])],
            "input_dtype": "float32",
        },
        "formats": formats,
        "formats_agree": difference <= FORMATS_AGREE_WITHIN,
        "formats_difference": difference,
        "formats_disagreements": disagreements,
        "formats_max_probability_difference": float(np.abs(probabilities["keras"] - probabilities["tflite"]).max()),
        "test": accuracy_with_interval(deployed_probabilities, y_test),
        "per_class": per_class_table(deployed_probabilities, y_test, facts["class_names"]),
        "calibration": {k: v for k, v in calibration(deployed_probabilities, y_test).items() if k != "reliability"},
        "warning": {
            "threshold": threshold,
            "target_accuracy": settings["warning_accuracy"],
            "validation": flagged_summary(validation, y_val, threshold),
            "test": flagged_summary(deployed_probabilities, y_test, threshold),
        },
        "latency": single_image_latency(reloaded, tflite_model, x_test[0]),
    }
    write_json(bundle, result)
    log.info(
        "bundle of %s: keras %.4f, tflite %.4f on %d test images; warning below p = %.4f",
        result["experiment"],
        formats["keras"]["accuracy"],
        formats["tflite"]["accuracy"],
        len(y_test),
        threshold,
    )
    return result


class BundleError(StudyError):
    """A bundle that cannot be used; the message names the file and what to do."""


def check_manifest(folder: str | Path, names: tuple[str, ...] | None = None) -> None:
    """Check the files `names` of the bundle in `folder` (default: every file it lists) against its MANIFEST."""
    folder = Path(folder)
    manifest = folder / MANIFEST_FILE
    if not manifest.is_file():
        raise BundleError(
            f"{manifest} is missing: {folder} is not a complete bundle (make it with snakemake --cores 2, or name "
            "the folder that holds MANIFEST, model.keras, model.tflite and bundle.json)"
        )
    listed = {name: digest for digest, name in (line.split(maxsplit=1) for line in manifest.read_text().splitlines())}
    for name in listed if names is None else names:
        path = folder / name
        if name not in listed or not path.is_file() or sha256_file(path) != listed[name]:
            raise BundleError(
                f"{path} is missing, damaged or not the file {manifest} lists: rebuild the bundle "
                f"(snakemake --cores 2 --forcerun {path})"
            )


def verified_bundle(folder: str | Path, model_file: str) -> dict:
    """bundle.json of the bundle in `folder`, after checking it and `model_file` against MANIFEST."""
    check_manifest(folder, (BUNDLE_FILE, model_file))
    return read_json(Path(folder) / BUNDLE_FILE, ("class_names", "preprocessing", "warning", "formats"))


def predict(bundle: str | Path, paths: list[str], model_format: str = "tflite", threshold: float | None = None):
    """Classify the images in `paths` (files or folders) with the bundle's model; yield, per image, its label
    (file, or file[i] in an .npz), class name, probability and warning (None, or why to check it by hand), and
    per unreadable file (label, None, None, the error)."""
    from mlpstudy.images import ImageError, expand_paths, read_images

    model_file = KERAS_FILE if model_format == "keras" else TFLITE_FILE
    facts = verified_bundle(bundle, model_file)
    threshold = facts["warning"]["threshold"] if threshold is None else threshold
    labels, images = [], []
    try:
        expanded = expand_paths(paths)
    except ImageError as error:
        yield str(error), None, None, str(error)
        return
    for path in expanded:
        try:
            for label, image in read_images(path):
                labels.append(label)
                images.append(image)
        except ImageError as error:
            yield path, None, None, str(error)
    if not images:
        return
    stack = np.stack(images)
    inputs = to_inputs(stack, facts["preprocessing"]["name"])
    path = Path(bundle) / model_file
    if model_format == "keras":
        import keras

        probabilities = keras_probabilities(keras.models.load_model(path, compile=False), inputs)
    else:
        probabilities = tflite_probabilities(path, inputs)
    for label, image, row in zip(labels, stack, probabilities):
        top = int(row.argmax())
        warning = None
        if not image.any():
            warning = "no ink found in the image"
        elif row[top] < threshold:
            warning = f"low confidence (below {threshold:.4f}): check by hand"
        yield label, facts["class_names"][top], float(row[top]), warning
