"""Load, check and split the image data; everything downstream reads the prepared split from results/."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlpstudy.io import StudyError, atomic_path, read_json, read_npz, write_json

ARRAYS = ("x_train", "y_train", "x_test", "y_test")
IMAGE_SHAPE = (28, 28)
N_CLASSES = 10


@dataclass(frozen=True)
class DatasetInfo:
    key: str
    name: str
    title: str
    item: str  # what one image shows, for sentences in the report ("digit", "clothing item")
    class_names: tuple[str, ...]
    n_train: int
    n_test: int
    sha256: dict[str, str]  # of each array's raw bytes, independent of the npz container


DATASETS = {
    "mnist": DatasetInfo(
        key="mnist",
        name="MNIST",
        title="MNIST handwritten digits",
        item="digit",
        class_names=tuple(str(d) for d in range(10)),
        n_train=60000,
        n_test=10000,
        sha256={
            "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
            "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
            "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
            "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
        },
    ),
    "fashion_mnist": DatasetInfo(
        key="fashion_mnist",
        name="Fashion-MNIST",
        title="Fashion-MNIST clothing images",
        item="clothing item",
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        n_train=60000,
        n_test=10000,
        sha256={
            "x_train": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
            "y_train": "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
            "x_test": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
            "y_test": "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
        },
    ),
}
# The input preprocessing options, each with how the report describes it.
PREPROCESSING = {
    "scale": "Pixels divided by 255 (values in [0, 1]) and flattened to 784 inputs",
    "l2_normalize": "Each image's 784 pixels divided by their Euclidean norm (every input a unit vector)",
}


class DataError(StudyError):
    """The data cannot be used; the message names the file and says what to do."""


def sha256_of(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def read_source(dataset: str, data_path: str | None) -> dict[str, np.ndarray]:
    """The four arrays, from `data_path` when given, otherwise from keras.datasets (downloads once)."""
    if data_path:
        path = Path(data_path)
        if not path.is_file():
            raise DataError(
                f"data_path {str(path)!r} does not exist. Point data_path at a {dataset} .npz in the "
                "keras.datasets layout (x_train, y_train, x_test, y_test), or set data_path: null to download."
            )
        try:
            with np.load(path, allow_pickle=False) as npz:
                missing = [name for name in ARRAYS if name not in npz.files]
                if missing:
                    raise DataError(
                        f"data_path {str(path)!r} lacks the array(s) {missing}; it has {sorted(npz.files)}. "
                        "Expected the keras.datasets layout: x_train, y_train, x_test, y_test."
                    )
                return {name: npz[name] for name in ARRAYS}
        except DataError:
            raise
        except Exception as error:  # zipfile.BadZipFile, ValueError, OSError, EOFError ...
            raise DataError(
                f"data_path {str(path)!r} is not a readable .npz file ({type(error).__name__}: {error}). "
                "Replace it with an intact copy, or set data_path: null to download."
            ) from error
    import keras

    loader = getattr(keras.datasets, dataset)  # dataset keys are keras.datasets module names
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as error:
        raise DataError(
            f"could not download {dataset} through keras.datasets ({type(error).__name__}: {error}). "
            "Without network access, put a local copy in the keras.datasets layout somewhere and run "
            "snakemake --cores 2 --config data_path=/path/to/the.npz"
        ) from error
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def check_arrays(arrays: dict[str, np.ndarray], info: DatasetInfo, source: str) -> dict[str, str]:
    """Check shapes, dtypes, label range and checksums of the arrays read from `source`; return the checksums."""
    expected_shapes = {
        "x_train": (info.n_train, *IMAGE_SHAPE),
        "y_train": (info.n_train,),
        "x_test": (info.n_test, *IMAGE_SHAPE),
        "y_test": (info.n_test,),
    }
    for name, shape in expected_shapes.items():
        array = arrays[name]
        if array.shape != shape:
            raise DataError(f"{source}: {info.key} array {name} has shape {array.shape}, expected {shape}")
        if array.dtype != np.uint8:
            raise DataError(f"{source}: {info.key} array {name} has dtype {array.dtype}, expected uint8")
    for name in ("y_train", "y_test"):
        low, high = int(arrays[name].min()), int(arrays[name].max())
        if low < 0 or high >= N_CLASSES:
            raise DataError(f"{source}: {info.key} labels {name} range over {low}..{high}, expected 0..{N_CLASSES - 1}")
    checksums = {name: sha256_of(arrays[name]) for name in ARRAYS}
    wrong = [name for name in ARRAYS if checksums[name] != info.sha256[name]]
    if wrong:
        raise DataError(
            f"{source}: {info.key} array(s) {wrong} do not match the published SHA-256 checksums: the file is "
            f"corrupt or another dataset. Got {[checksums[n] for n in wrong]}, expected {[info.sha256[n] for n in wrong]}. "
            "Replace the file with an intact copy."
        )
    return checksums


def split_indices(n_images: int, validation_fraction: float, split_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of range(n_images) into sorted train and validation indices."""
    order = np.random.default_rng(split_seed).permutation(n_images)
    n_val = round(n_images * validation_fraction)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def prepare(settings: dict, dataset: str | Path, summary: str | Path) -> dict:
    """Read and check the source data, subset and split it as `settings` say, and write the prepared arrays to
    `dataset` (.npz) and a summary (checksums, counts, split) to `summary` (.json)."""
    info = DATASETS[settings["dataset"]]
    preprocessing = settings.get("preprocessing", "scale")
    if preprocessing not in PREPROCESSING:  # before the arrays are written with it
        raise DataError(f"preprocessing {preprocessing!r} is not one of {tuple(PREPROCESSING)}")
    arrays = read_source(info.key, settings.get("data_path"))
    source = str(settings.get("data_path") or f"keras.datasets.{info.key}.load_data()")
    checksums = check_arrays(arrays, info, source)
    n_train = settings.get("train_images") or info.n_train
    n_test = settings.get("test_images") or info.n_test
    x_pool, y_pool = arrays["x_train"][:n_train], arrays["y_train"][:n_train]
    train_index, val_index = split_indices(len(y_pool), settings["validation_fraction"], settings["split_seed"])
    prepared = {
        "x_train": x_pool[train_index],
        "y_train": y_pool[train_index],
        "x_val": x_pool[val_index],
        "y_val": y_pool[val_index],
        "x_test": arrays["x_test"][:n_test],
        "y_test": arrays["y_test"][:n_test],
        "train_index": train_index,
        "val_index": val_index,
        # Stored with the images so that every consumer of the split applies the same preprocessing.
        "preprocessing": np.array(preprocessing),
    }
    # Uncompressed: every training job reads it, and inflating 55 MB costs each job most of a second.
    with atomic_path(dataset) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **prepared)
    facts = {
        "dataset": info.key,
        "title": info.title,
        "item": info.item,
        "class_names": list(info.class_names),
        "source": source,
        "sha256": checksums,
        "sha256_verified": True,
        "official_train_images": info.n_train,
        "official_test_images": info.n_test,
        "train_images_used": int(n_train),
        "validation_fraction": settings["validation_fraction"],
        "split_seed": settings["split_seed"],
        "preprocessing": preprocessing,
        "n_train": len(train_index),
        "n_val": len(val_index),
        "n_test": int(n_test),
        "class_counts": {
            part: np.bincount(prepared[f"y_{part}"], minlength=N_CLASSES).tolist() for part in ("train", "val", "test")
        },
    }
    write_json(summary, facts)
    return facts


@dataclass
class Splits:
    """Scaled, flattened float32 images and int labels of the three parts (no validation part in a refit)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray


def to_inputs(images: np.ndarray, preprocessing: str = "scale") -> np.ndarray:
    """uint8 (n, 28, 28) -> float32 (n, 784): divided by 255 ("scale"), or each image divided by its
    Euclidean norm ("l2_normalize"; an all-black image stays zero)."""
    flat = images.reshape(len(images), -1).astype(np.float32)  # a copy: divided in place, never a second one
    if preprocessing == "scale":
        return np.divide(flat, np.float32(255.0), out=flat)
    if preprocessing == "l2_normalize":
        norms = np.linalg.norm(flat, axis=1, keepdims=True)
        return np.divide(flat, np.maximum(norms, np.float32(1e-12)), out=flat)
    raise ValueError(f"preprocessing {preprocessing!r} is not one of {tuple(PREPROCESSING)}")


PREPARED_ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "preprocessing")


def read_prepared(dataset_path: str | Path, names: tuple[str, ...] = PREPARED_ARRAYS) -> dict[str, np.ndarray]:
    """Arrays of the prepared split as prepare() wrote them, checked when read."""
    return read_npz(dataset_path, names)


def load_prepared(dataset_path: str | Path, merge_validation: bool = False) -> Splits:
    """The prepared split as model inputs. merge_validation=True trains on the training and validation images
    together (a refit) and leaves no validation part."""
    arrays = read_prepared(dataset_path)
    preprocessing = str(arrays["preprocessing"])
    if merge_validation:  # joined as uint8, so that only one float copy of the training images is made
        for name in ("x", "y"):
            arrays[f"{name}_train"] = np.concatenate([arrays[f"{name}_train"], arrays.pop(f"{name}_val")])
    return Splits(
        x_train=to_inputs(arrays["x_train"], preprocessing),
        y_train=arrays["y_train"].astype(np.int64),
        x_val=None if merge_validation else to_inputs(arrays["x_val"], preprocessing),
        y_val=None if merge_validation else arrays["y_val"].astype(np.int64),
        x_test=to_inputs(arrays["x_test"], preprocessing),
        y_test=arrays["y_test"].astype(np.int64),
    )


def read_summary(summary_path: str | Path) -> dict:
    return read_json(
        summary_path,
        ("dataset", "title", "item", "class_names", "source", "preprocessing", "n_train", "n_val", "n_test"),
    )
