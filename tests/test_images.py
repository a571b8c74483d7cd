"""A user's digit files become MNIST-layout arrays; bad files are named with what is wrong."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mlpstudy.images import (
    IMAGE_SUFFIXES,
    NPZ_SUFFIX,
    PREPARATION,
    ImageError,
    expand_paths,
    read_images,
    to_mnist_layout,
)

MNIST = Path("/work/shared/data/mnist.npz")


@pytest.fixture(scope="module")
def mnist_test():
    if not MNIST.exists():
        pytest.skip(f"{MNIST} not available")
    with np.load(MNIST) as data:
        return data["x_test"][:20]


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    weights = image.astype(np.float64)
    rows, cols = np.indices(image.shape)
    return (rows * weights).sum() / weights.sum(), (cols * weights).sum() / weights.sum()


def ink_box(image: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def draw_seven(mode: str = "L", ink=0, paper=255) -> Image.Image:
    """A thick black '7' on white, 200 wide and 150 high, well off the canvas centre."""
    picture = Image.new(mode, (200, 150), paper)
    pen = ImageDraw.Draw(picture)
    pen.line([(120, 20), (180, 20)], fill=ink, width=12)
    pen.line([(180, 20), (140, 130)], fill=ink, width=12)
    return picture


def check_mnist_like(image: np.ndarray) -> None:
    assert image.shape == (28, 28) and image.dtype == np.uint8
    assert abs(max(ink_box(image)) - 20) <= 1
    row, col = centre_of_mass(image)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1
    assert image[0, 0] == image[0, -1] == image[-1, 0] == image[-1, -1] == 0
    assert image.max() == 255


def test_constants_and_help_text():
    assert IMAGE_SUFFIXES == (".png", ".jpg", ".jpeg") and NPZ_SUFFIX == ".npz"
    assert "28x28" in PREPARATION and "20 pixels" in PREPARATION and "inverted" in PREPARATION


def test_mnist_png_comes_back_bit_for_bit(tmp_path, mnist_test):
    for i, digit in enumerate(mnist_test):
        plain, inverted = tmp_path / f"{i}.png", tmp_path / f"{i}-inverted.png"
        Image.fromarray(digit).save(plain)
        Image.fromarray(255 - digit).save(inverted)
        for path in (plain, inverted):
            [(label, image)] = read_images(path)
            assert label == str(path) and image.dtype == np.uint8
            np.testing.assert_array_equal(image, digit)


def test_drawn_digit_is_scaled_and_centred(tmp_path):
    path = tmp_path / "seven.png"
    draw_seven().save(path)
    [(label, image)] = read_images(str(path))
    assert label == str(path)
    check_mnist_like(image)
    assert ink_box(image)[0] == 20  # taller than wide: the height is the 20-pixel side


def test_drawn_digit_as_jpeg(tmp_path):
    path = tmp_path / "seven.JPG"
    draw_seven().convert("RGB").save(path, quality=85)
    [(_, image)] = read_images(path)
    check_mnist_like(image)


def test_transparent_background_reads_as_white_paper(tmp_path):
    path = tmp_path / "seven.png"
    draw_seven("RGBA", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0)).save(path)
    [(_, image)] = read_images(path)
    check_mnist_like(image)
    [(_, opaque)] = read_images(_saved(tmp_path / "opaque.png", draw_seven()))
    np.testing.assert_array_equal(image, opaque)


def _saved(path: Path, picture: Image.Image) -> Path:
    picture.save(path)
    return path


def test_grey_paper_is_background():
    seven = np.asarray(draw_seven(ink=60, paper=180))
    image = to_mnist_layout(seven)
    check_mnist_like(image)
    np.testing.assert_allclose(image.astype(int), to_mnist_layout(np.asarray(draw_seven())).astype(int), atol=1)


def test_blank_image_is_all_zero():
    for blank in (np.zeros((100, 80), np.uint8), np.full((50, 50), 255.0), np.zeros((1, 1))):
        image = to_mnist_layout(blank)
        assert image.shape == (28, 28) and image.dtype == np.uint8 and not image.any()


def test_small_blob_ends_centred():
    pixels = np.zeros((100, 100), np.uint8)
    pixels[5:15, 70:76] = 255
    image = to_mnist_layout(pixels)
    assert ink_box(image) == (20, 12)
    row, col = centre_of_mass(image)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


def test_wide_stroke_keeps_aspect_ratio_and_stays_inside():
    pixels = np.zeros((40, 300), np.float64)
    pixels[10:14, 0:300] = 200.0
    image = to_mnist_layout(pixels)
    assert ink_box(image) == (1, 20)
    assert image.max() == 255


def test_to_mnist_layout_rejects_non_images():
    with pytest.raises(ValueError, match="2-D"):
        to_mnist_layout(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="2-D"):
        to_mnist_layout(np.zeros((0, 5)))


def test_npz_single_array(tmp_path):
    digits = np.zeros((3, 28, 28), np.uint8)
    digits[:, 8:20, 12:16] = 255
    digits[1] = 255 - digits[1]
    path = tmp_path / "mine.npz"
    np.savez(path, digits=digits)
    images = read_images(path)
    assert [label for label, _ in images] == [f"{path}[{i}]" for i in range(3)]
    for _, image in images:
        np.testing.assert_array_equal(image, digits[0])


def test_npz_keras_layout_uses_x_test(tmp_path, mnist_test):
    path = tmp_path / "mnist.npz"
    x_train = np.full((2, 28, 28), 7, np.uint8)
    np.savez(path, x_train=x_train, y_train=np.arange(2), x_test=mnist_test, y_test=np.arange(20))
    images = read_images(path)
    assert len(images) == 20
    np.testing.assert_array_equal(np.stack([image for _, image in images]), mnist_test)


def test_npz_flat_rows_and_unit_floats(tmp_path, mnist_test):
    flat = tmp_path / "flat.npz"
    np.savez(flat, mnist_test[:4].reshape(4, 784))
    np.testing.assert_array_equal(np.stack([image for _, image in read_images(flat)]), mnist_test[:4])

    unit = tmp_path / "unit.npz"
    np.savez(unit, x=mnist_test[:4].astype(np.float32) / 255.0)
    np.testing.assert_array_equal(np.stack([image for _, image in read_images(unit)]), mnist_test[:4])

    single = tmp_path / "single.npz"
    np.savez(single, x=mnist_test[0])
    [(label, image)] = read_images(single)
    assert label == f"{single}[0]"
    np.testing.assert_array_equal(image, mnist_test[0])


def _write(path: Path, content) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.savez(path, **content)
    return path


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("missing.png", None, "does not exist"),
        ("empty.png", b"", "empty"),
        ("text.png", b"this is not a picture\n", "not a readable PNG or JPEG"),
        ("picture.gif", b"GIF89a", ".png, .jpg, .jpeg, .npz"),
        ("notes.txt", b"7", "unsupported file type .txt"),
        ("small.npz", {"x": np.zeros((3, 27, 27), np.uint8)}, "shape (3, 27, 27)"),
        ("two.npz", {"a": np.zeros((1, 28, 28)), "b": np.zeros((1, 28, 28))}, "a, b"),
        ("bright.npz", {"x": np.full((2, 28, 28), 300.0)}, "300"),
        ("strings.npz", {"x": np.array(["a", "b"])}, "shape"),
        ("empty_list.npz", {"x": np.zeros((0, 28, 28), np.uint8)}, "0 images"),
        ("nothing.npz", {}, "no arrays"),
        ("corrupt.npz", b"PK\x03\x04 not really a zip archive", "not a readable .npz"),
        ("objects.npz", {"x": np.array([None, 1], dtype=object)}, "not a readable .npz"),
    ],
)
def test_errors_name_the_file(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is not None:
        _write(path, content)
    with pytest.raises(ImageError) as raised:
        read_images(path)
    message = str(raised.value)
    assert str(path) in message and expected in message


def test_wrong_dtype_is_named(tmp_path):
    path = _write(tmp_path / "flags.npz", {"x": np.zeros((2, 28, 28), bool)})
    with pytest.raises(ImageError, match="dtype bool") as raised:
        read_images(path)
    assert str(path) in str(raised.value) and "(n, 28, 28)" in str(raised.value)


def test_expand_paths(tmp_path):
    folder = tmp_path / "digits"
    folder.mkdir()
    for name in ("b.png", "a.JPG", "c.npz", "notes.txt", "d.gif"):
        (folder / name).write_bytes(b"x")
    (folder / "sub.png").mkdir()
    later = str(tmp_path / "later.png")
    missing = str(tmp_path / "missing.jpeg")
    assert expand_paths([missing, str(folder), later]) == [
        missing,
        str(folder / "a.JPG"),
        str(folder / "b.png"),
        str(folder / "c.npz"),
        later,
    ]


def test_expand_paths_empty_directory(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "readme.txt").write_text("no digits here")
    with pytest.raises(ImageError, match="empty"):
        expand_paths([str(folder)])
