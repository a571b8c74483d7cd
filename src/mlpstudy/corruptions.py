"""Corrupted copies of a digit test set, in the spirit of MNIST-C (Mu & Gilmer 2019).

A classifier that scores 98% on clean MNIST may meet messier digits once deployed: noisy scans, off-centre or tilted
digits, blurred, bolder or fainter pens, washed-out contrast. This module makes such copies of the 28x28 uint8 test
images (white digit up to 255 on black 0) so that a trained model can be evaluated on them: seven corruptions at
three severities each. Everything is generated in code with fixed seeds: the same call gives bitwise-identical
arrays on any machine with the same numpy and scipy.

Random draws for one (corruption, severity) come from ``np.random.default_rng([seed, index, severity])``, where
``index`` is the corruption's position in ``CORRUPTIONS``; each set has its own stream, so its result does not
depend on which other sets were generated or in which order.

Severity ladders (parameter at severities 1, 2, 3):

- gaussian_noise: additive N(0, σ) with σ = 0.1, 0.2, 0.3 of 255, rounded and clipped to [0, 255].
- shift: every image moved by exactly k = 1, 2, 3 px in one of the 8 compass directions drawn per image; pixels
  that leave the frame are lost and the vacated ones are black (no wrap-around).
- rotation: angle drawn per image uniformly in [-a, a], a = 7, 14, 20 degrees, about the image centre, bilinear;
  positive angles turn the digit counter-clockwise as displayed.
- blur: Gaussian blur with σ = 0.6, 1.0, 1.5 px, black beyond the frame.
- thickening: grey dilation with the footprints 2x2 square, 3x3 cross, 3x3 square (on the MNIST test set the ink,
  sum of pixel values, grows on average to ×1.5, ×1.75, ×2.0).
- thinning: grey erosion with the same footprints (ink falls on average to 51%, 33%, 17% of the original). The 3x3
  square applied twice, as a stronger third step, would leave under 1% of the ink, erasing most digits. The even 2x2
  footprint also moves the digit by half a pixel.
- contrast: x' = m + c (x - m) towards the per-image mean m, with c = 0.6, 0.4, 0.2, rounded and clipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy import ndimage

CORRUPTIONS: dict[str, str] = {
    "gaussian_noise": "Gaussian pixel noise",
    "shift": "Translation",
    "rotation": "Rotation",
    "blur": "Gaussian blur",
    "thickening": "Thicker strokes",
    "thinning": "Thinner strokes",
    "contrast": "Contrast loss",
}

SEVERITIES = (1, 2, 3)

SEVERITY_SETTINGS: dict[str, tuple] = {
    "gaussian_noise": (0.1, 0.2, 0.3),  # σ as a fraction of 255
    "shift": (1, 2, 3),  # pixels
    "rotation": (7, 14, 20),  # maximum angle, degrees
    "blur": (0.6, 1.0, 1.5),  # σ, pixels
    "thickening": ("2x2", "3x3 cross", "3x3"),  # footprint
    "thinning": ("2x2", "3x3 cross", "3x3"),
    "contrast": (0.6, 0.4, 0.2),  # factor c
}

_FOOTPRINTS = {
    "2x2": np.ones((2, 2), dtype=bool),
    "3x3 cross": ndimage.generate_binary_structure(2, 1),
    "3x3": np.ones((3, 3), dtype=bool),
}

# The 8 compass directions as (dy, dx) unit steps, rows growing downwards.
_DIRECTIONS = np.array([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)])


def describe(corruption: str, severity: int) -> str:
    """A short text of the setting of `corruption` at `severity`, e.g. "rotation up to ±20°"."""
    value = _setting(corruption, severity)
    return {
        "gaussian_noise": f"noise σ = {value} of full scale",
        "shift": f"shift {value} px",
        "rotation": f"rotation up to ±{value}°",
        "blur": f"blur σ = {value} px",
        "thickening": f"dilation {value}",
        "thinning": f"erosion {value}",
        "contrast": f"contrast × {value}",
    }[corruption]


def corrupt(images: np.ndarray, corruption: str, severity: int, seed: int = 0) -> np.ndarray:
    """A corrupted copy of `images` (uint8, shape (n, 28, 28)); the input is left unchanged."""
    value = _setting(corruption, severity)
    _check_images(images)
    rng = np.random.default_rng([seed, list(CORRUPTIONS).index(corruption), severity])
    pixels = images.astype(np.float64)
    if corruption == "gaussian_noise":
        return _to_uint8(pixels + rng.normal(0.0, value * 255, size=images.shape))
    if corruption == "shift":
        return _shift(images, value, rng)
    if corruption == "rotation":
        angles = rng.uniform(-value, value, size=len(images))
        out = np.empty_like(pixels)
        for i, angle in enumerate(angles):
            ndimage.rotate(pixels[i], angle, reshape=False, order=1, mode="constant", cval=0.0, output=out[i])
        return _to_uint8(out)
    if corruption == "blur":
        return _to_uint8(ndimage.gaussian_filter(pixels, sigma=(0, value, value), mode="constant", cval=0.0))
    if corruption in ("thickening", "thinning"):
        morph = ndimage.grey_dilation if corruption == "thickening" else ndimage.grey_erosion
        return morph(images, footprint=_FOOTPRINTS[value][None], mode="constant", cval=0)
    mean = pixels.mean(axis=(1, 2), keepdims=True)
    return _to_uint8(mean + value * (pixels - mean))


def corrupted_sets(images: np.ndarray, seed: int = 0) -> Iterator[tuple[str, int, np.ndarray]]:
    """Yield (corruption, severity, corrupted copy) for every corruption and severity, in the order of
    CORRUPTIONS and SEVERITIES."""
    _check_images(images)
    for corruption in CORRUPTIONS:
        for severity in SEVERITIES:
            yield corruption, severity, corrupt(images, corruption, severity, seed)


def _setting(corruption: str, severity: int):
    if corruption not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {corruption!r}: expected one of {', '.join(CORRUPTIONS)}")
    if isinstance(severity, bool) or severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r} not allowed: expected one of {SEVERITIES}")
    return SEVERITY_SETTINGS[corruption][SEVERITIES.index(severity)]


def _check_images(images) -> None:
    if not isinstance(images, np.ndarray):
        raise TypeError(f"images must be a numpy array of shape (n, 28, 28), got {type(images).__name__}")
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images must have shape (n, 28, 28), got shape {images.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"images must have dtype uint8, got dtype {images.dtype}")


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def _shift(images: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    steps = _DIRECTIONS[rng.integers(len(_DIRECTIONS), size=len(images))] * k
    out = np.zeros_like(images)
    for dy, dx in np.unique(steps, axis=0):
        chosen = np.flatnonzero((steps[:, 0] == dy) & (steps[:, 1] == dx))
        target = (chosen, slice(max(dy, 0), 28 + min(dy, 0)), slice(max(dx, 0), 28 + min(dx, 0)))
        source = (chosen, slice(max(-dy, 0), 28 + min(-dy, 0)), slice(max(-dx, 0), 28 + min(-dx, 0)))
        out[target] = images[source]
    return out
