"""Turn a user's digit images into MNIST-layout arrays for the predict command.

A model trained on MNIST has only ever seen digits prepared the way LeCun et al. made MNIST: light ink on a black
background, the digit's bounding box scaled (aspect ratio kept) to fit a 20x20 box, then placed in a 28x28 image so
that its centre of mass is at the image centre. A photo or drawing of a digit looks nothing like that, so it is
prepared the same way here before it is classified. Images that are already 28x28 are taken to be in that layout and
kept as they are (after the polarity check), so exported MNIST test images come back bit for bit.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
NPZ_SUFFIX = ".npz"
SUFFIXES = (*IMAGE_SUFFIXES, NPZ_SUFFIX)

SIZE = 28
BOX = 20
CENTRE = 14.0  # MNIST's centres of mass lie within half a pixel of (14, 14) in pixel-index coordinates
MID_GREY = 127.5
INK_THRESHOLD = 0.1  # fraction of the brightest pixel (after background removal) at or below which a pixel is paper
RESAMPLE = Image.Resampling.BILINEAR  # antialiased when shrinking, and unlike LANCZOS no ringing halo around strokes

PREPARATION = (
    "Each image is read as greyscale (EXIF rotation applied; a transparent background counts as white) and put into "
    "MNIST's layout: if the median of its outermost rows and columns is brighter than mid-grey (127.5) it is "
    "inverted, so dark ink on light paper becomes light ink on black like MNIST. A 28x28 image is then used as it is, "
    "taken to be in MNIST's layout already. Any other size: the background level (the border median) is subtracted, "
    "pixels at or below 10% of the brightest pixel are set to background, the image is cropped to the ink, scaled "
    "(bilinear, aspect ratio kept) so its longer side is 20 pixels, stretched so its brightest pixel is 255, and "
    "placed in a black 28x28 image with its centre of mass at the centre, as LeCun et al. made MNIST. An image "
    "without ink becomes all black. A .npz file holds images already as arrays: one array or keras' x_test, shaped "
    "(n, 28, 28), (n, 784) or (28, 28), uint8 or 0-255 (or 0-1) values."
)


class ImageError(ValueError):
    """A file that cannot be read as digit images; the message names the file."""


def _border(image: np.ndarray) -> np.ndarray:
    return np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])


def to_mnist_layout(pixels: np.ndarray) -> np.ndarray:
    """One greyscale image (2-D, values 0-255) -> uint8 (28, 28), light digit on black, centred like MNIST."""
    image = np.asarray(pixels)
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"expected one greyscale image (a 2-D array of at least 1x1), got shape {image.shape}")
    image = image.astype(np.float64)
    background = float(np.median(_border(image)))
    if background > MID_GREY:
        image = 255.0 - image
        background = 255.0 - background
    if image.shape == (SIZE, SIZE):
        return np.clip(np.rint(image), 0, 255).astype(np.uint8)

    # Grey paper in a photo would otherwise stay as a grey box around the digit.
    image = np.clip(image - background, 0.0, None)
    image[image <= INK_THRESHOLD * image.max()] = 0.0
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    if rows.size == 0:
        return np.zeros((SIZE, SIZE), dtype=np.uint8)
    ink = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    height, width = ink.shape
    scale = BOX / max(height, width)
    new_height, new_width = max(1, round(height * scale)), max(1, round(width * scale))
    resized = Image.fromarray(ink.astype(np.float32)).resize((new_width, new_height), RESAMPLE)
    digit = np.clip(np.asarray(resized, dtype=np.float64), 0.0, None)
    if digit.max() <= 0:  # a faint speck can vanish when shrunk
        return np.zeros((SIZE, SIZE), dtype=np.uint8)
    digit *= 255.0 / digit.max()

    total = digit.sum()
    com_row = (digit.sum(axis=1) * np.arange(new_height)).sum() / total
    com_col = (digit.sum(axis=0) * np.arange(new_width)).sum() / total
    top = int(np.clip(round(CENTRE - com_row), 0, SIZE - new_height))
    left = int(np.clip(round(CENTRE - com_col), 0, SIZE - new_width))
    out = np.zeros((SIZE, SIZE), dtype=np.float64)
    out[top : top + new_height, left : left + new_width] = digit
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _read_picture(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as opened:
            picture = ImageOps.exif_transpose(opened)
            picture.load()
            if picture.mode.startswith("I;16") or picture.mode == "I":
                # 16-bit greyscale PNG; convert("L") would clip instead of scale.
                return np.asarray(picture, dtype=np.float64) * (255.0 / 65535.0)
            if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
                rgba = picture.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                picture = Image.alpha_composite(white, rgba)
            return np.asarray(picture.convert("L"))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError) as error:
        raise ImageError(f"{path} is not a readable PNG or JPEG image ({error}).") from error


def _shape_error(path: Path, what: str) -> ImageError:
    return ImageError(
        f"{path}: {what}; allowed are uint8 or float arrays of shape (n, 28, 28), (n, 784) or (28, 28) "
        "with values 0-255 (floats may be 0-1)."
    )


def _choose_array(path: Path, names: list[str]) -> str:
    if not names:
        raise ImageError(f"{path} holds no arrays; expected one array of images or keras' x_test.")
    if len(names) == 1:
        return names[0]
    if "x_test" in names:
        return "x_test"
    raise ImageError(
        f"{path} holds several arrays ({', '.join(names)}) and none is x_test; "
        "expected exactly one array of images or keras.datasets' layout with x_test."
    )


def _read_npz(path: Path) -> list[np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):  # a bare .npy saved under a .npz name: take it as the one array
            array = loaded
        else:
            with loaded:
                names = list(loaded.files)
                name = _choose_array(path, names)
                array = loaded[name]
    except ImageError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ImageError(
            f"{path} is not a readable .npz file of plain arrays (saved with numpy.savez, no pickled objects): {error}"
        ) from error

    if array.ndim == 2 and array.shape == (SIZE, SIZE):
        array = array[np.newaxis]
    elif array.ndim == 2 and array.shape[1] == SIZE * SIZE:
        array = array.reshape(-1, SIZE, SIZE)
    if array.ndim != 3 or array.shape[1:] != (SIZE, SIZE):
        raise _shape_error(path, f"array has shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise _shape_error(path, f"array has dtype {array.dtype}")
    if len(array) == 0:
        raise ImageError(f"{path} holds an array of 0 images.")
    array = array.astype(np.float64) if np.issubdtype(array.dtype, np.floating) else array
    if not np.isfinite(array).all():
        raise _shape_error(path, "array contains NaN or infinite values")
    low, high = array.min(), array.max()
    if np.issubdtype(array.dtype, np.floating) and high <= 1.0 and low >= 0.0:
        array = array * 255.0
    elif low < 0 or high > 255:
        raise _shape_error(path, f"values range from {low} to {high}")
    return list(array)


def read_images(path) -> list[tuple[str, np.ndarray]]:
    """One PNG/JPEG/.npz file -> [(label, uint8 28x28 image), ...]; labels are the path, or path[i] for .npz."""
    file = Path(path)
    label = str(path)
    suffix = file.suffix.lower()
    if suffix not in SUFFIXES:
        raise ImageError(f"{label}: unsupported file type {file.suffix or '(no suffix)'}; use {', '.join(SUFFIXES)}.")
    if not file.exists():
        raise ImageError(f"{label} does not exist.")
    if not file.is_file():
        raise ImageError(f"{label} is not a file.")
    if file.stat().st_size == 0:
        raise ImageError(f"{label} is empty (0 bytes).")
    if suffix == NPZ_SUFFIX:
        return [(f"{label}[{i}]", to_mnist_layout(image)) for i, image in enumerate(_read_npz(file))]
    return [(label, to_mnist_layout(_read_picture(file)))]


def expand_paths(paths: list[str]) -> list[str]:
    """Replace each directory by its supported files, sorted by name (not recursive); keep other paths in order."""
    expanded: list[str] = []
    for given in paths:
        folder = Path(given)
        if not folder.is_dir():
            expanded.append(given)
            continue
        files = sorted(
            (child for child in folder.iterdir() if child.is_file() and child.suffix.lower() in SUFFIXES),
            key=lambda child: child.name,
        )
        if not files:
            raise ImageError(f"{given} is a directory without any {', '.join(SUFFIXES)} file.")
        expanded.extend(str(child) for child in files)
    return expanded
