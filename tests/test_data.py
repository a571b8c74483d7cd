import numpy as np
import pytest

from mlpstudy.data import (
    DATASETS,
    DataError,
    check_arrays,
    load_prepared,
    prepare,
    read_source,
    split_indices,
    to_inputs,
)
from mlpstudy.io import read_json

MNIST = DATASETS["mnist"]


@pytest.fixture(scope="module")
def arrays(mnist_path):
    return read_source("mnist", str(mnist_path))


def test_real_mnist_passes_every_check(arrays):
    assert check_arrays(arrays, MNIST, "mnist.npz") == MNIST.sha256
    # Facts published with the data (shared/data/README.md), independent of our checksums.
    assert np.bincount(arrays["y_train"]).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert arrays["y_train"][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.update(x_train=a["x_train"][:-1]), "x_train has shape (59999, 28, 28)"),
        (lambda a: a.update(x_test=a["x_test"].astype(np.float32)), "x_test has dtype float32"),
        (lambda a: a.update(y_test=np.where(np.arange(10000) == 7, 10, a["y_test"]).astype(np.uint8)), "0..10"),
        (lambda a: a["x_train"].__setitem__((0, 0, 0), 1), "['x_train'] do not match the published SHA-256"),
    ],
)
def test_damaged_arrays_are_rejected(arrays, change, message):
    damaged = {name: array.copy() for name, array in arrays.items()}
    change(damaged)
    with pytest.raises(DataError) as raised:
        check_arrays(damaged, MNIST, "/data/my-mnist.npz")
    assert str(raised.value).startswith("/data/my-mnist.npz: ") and message in str(raised.value)


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match="does not exist.*data_path"):
        read_source("mnist", str(tmp_path / "nope.npz"))


def test_corrupt_file_says_what_to_do(tmp_path, mnist_path):
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(mnist_path.read_bytes()[:100_000])
    with pytest.raises(DataError, match="not a readable .npz"):
        read_source("mnist", str(truncated))


def test_missing_array_is_named(tmp_path):
    path = tmp_path / "partial.npz"
    np.savez(path, x_train=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(DataError, match=r"lacks the array\(s\) \['y_train', 'x_test', 'y_test'\]"):
        read_source("mnist", str(path))


def test_no_network_and_no_data_path_says_what_to_do(monkeypatch):
    import keras

    def offline():
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(DataError, match="could not download mnist.*data_path="):
        read_source("mnist", None)


def test_split_is_seeded_disjoint_and_complete():
    train, val = split_indices(1000, 0.2, split_seed=3)
    assert len(val) == 200 and len(train) == 800
    assert np.intersect1d(train, val).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(1000))
    again_train, again_val = split_indices(1000, 0.2, split_seed=3)
    assert np.array_equal(val, again_val) and np.array_equal(train, again_train)
    assert not np.array_equal(val, split_indices(1000, 0.2, split_seed=4)[1])


def test_prepare_subsets_splits_and_scales(tmp_path, mnist_path, arrays):
    config = {
        "dataset": "mnist",
        "data_path": str(mnist_path),
        "train_images": 1000,
        "test_images": 300,
        "validation_fraction": 0.25,
        "split_seed": 0,
    }
    summary = prepare(config, tmp_path / "dataset.npz", tmp_path / "dataset.json")
    assert read_json(tmp_path / "dataset.json") == summary
    assert (summary["n_train"], summary["n_val"], summary["n_test"]) == (750, 250, 300)
    with np.load(tmp_path / "dataset.npz") as npz:
        assert np.array_equal(npz["x_val"], arrays["x_train"][npz["val_index"]])
        assert npz["val_index"].max() < 1000
    splits = load_prepared(tmp_path / "dataset.npz")
    assert splits.x_train.shape == (750, 784) and splits.x_train.dtype == np.float32
    assert 0.0 <= splits.x_test.min() and splits.x_test.max() == 1.0
    assert np.array_equal(splits.y_test, arrays["y_test"][:300])


def test_l2_normalize_makes_every_image_a_unit_vector(tmp_path, mnist_path, arrays):
    config = {
        "dataset": "mnist",
        "data_path": str(mnist_path),
        "train_images": 500,
        "test_images": 200,
        "validation_fraction": 0.2,
        "split_seed": 0,
        "preprocessing": "l2_normalize",
    }
    assert prepare(config, tmp_path / "dataset.npz", tmp_path / "dataset.json")["preprocessing"] == "l2_normalize"
    splits = load_prepared(tmp_path / "dataset.npz")
    for part in (splits.x_train, splits.x_val, splits.x_test):
        np.testing.assert_allclose(np.linalg.norm(part, axis=1), 1.0, rtol=1e-5)
    # Same direction as the scaled image: only the length changes.
    first = arrays["x_test"][0].reshape(-1).astype(np.float64)
    np.testing.assert_allclose(splits.x_test[0], first / np.linalg.norm(first), rtol=1e-5)
    assert to_inputs(np.zeros((1, 28, 28), np.uint8), "l2_normalize").max() == 0.0


def test_fashion_mnist_passes_every_check_and_names_its_classes(mnist_path):
    path = mnist_path.parent / "fashion-mnist.npz"
    if not path.is_file():
        pytest.fail(f"{path} not found beside mnist.npz")
    info = DATASETS["fashion_mnist"]
    check_arrays(read_source("fashion_mnist", str(path)), info, str(path))
    assert len(info.class_names) == 10 and info.class_names[9] == "Ankle boot" and info.item == "clothing item"
    with pytest.raises(DataError, match=f"^{mnist_path}: .*do not match the published SHA-256"):
        check_arrays(read_source("mnist", str(mnist_path)), info, str(mnist_path))
