import itertools

import numpy as np
import pytest
from scipy import stats

from mlpstudy.corruptions import (
    CORRUPTIONS,
    SEVERITIES,
    SEVERITY_SETTINGS,
    corrupt,
    corrupted_sets,
    describe,
)

RANDOM = ("gaussian_noise", "shift", "rotation")
ALL_SETS = list(itertools.product(CORRUPTIONS, SEVERITIES))
ROWS, COLS = np.mgrid[0:28, 0:28]


@pytest.fixture(scope="module")
def clean(mnist_path) -> np.ndarray:
    with np.load(mnist_path) as data:
        images = data["x_test"][:500]
    assert images.dtype == np.uint8 and images.shape == (500, 28, 28)
    return images


@pytest.fixture(scope="module")
def sets(clean) -> dict[tuple[str, int], np.ndarray]:
    return {(corruption, severity): array for corruption, severity, array in corrupted_sets(clean)}


def ink(images) -> np.ndarray:
    return images.astype(np.float64).sum(axis=(1, 2))


def ink_pixels(images) -> np.ndarray:
    return (images > 127).sum(axis=(1, 2))


def centre_of_mass(images) -> np.ndarray:
    """(row, column) centre of the ink of each image."""
    weights = images.astype(np.float64)
    total = weights.sum(axis=(1, 2))
    return np.stack([(weights * ROWS).sum(axis=(1, 2)) / total, (weights * COLS).sum(axis=(1, 2)) / total], axis=1)


def test_names_order_and_descriptions():
    assert list(CORRUPTIONS) == ["gaussian_noise", "shift", "rotation", "blur", "thickening", "thinning", "contrast"]
    assert all(isinstance(text, str) and text for text in CORRUPTIONS.values())
    assert SEVERITIES == (1, 2, 3)
    assert list(SEVERITY_SETTINGS) == list(CORRUPTIONS)
    assert all(len(values) == 3 for values in SEVERITY_SETTINGS.values())
    assert describe("gaussian_noise", 2) == "noise σ = 0.2 of full scale"
    assert describe("shift", 2) == "shift 2 px"
    assert describe("rotation", 3) == "rotation up to ±20°"
    assert describe("blur", 2) == "blur σ = 1.0 px"
    assert describe("thickening", 1) == "dilation 2x2"
    assert describe("contrast", 2) == "contrast × 0.4"
    assert len({describe(c, s) for c, s in ALL_SETS}) == 21


def test_sets_come_in_order_with_shape_and_dtype(clean, sets):
    assert list(sets) == ALL_SETS
    for array in sets.values():
        assert array.shape == clean.shape and array.dtype == np.uint8


def test_input_is_not_modified(clean):
    images = clean[:50].copy()
    for corruption, severity in ALL_SETS:
        out = corrupt(images, corruption, severity)
        assert not np.shares_memory(out, images)
    np.testing.assert_array_equal(images, clean[:50])


@pytest.mark.parametrize(("corruption", "severity"), ALL_SETS)
def test_same_call_is_bitwise_identical(clean, sets, corruption, severity):
    # a fresh call, with nothing generated before it in this call, equals the one made inside corrupted_sets
    again = corrupt(clean, corruption, severity, seed=0)
    np.testing.assert_array_equal(again, sets[corruption, severity])
    np.testing.assert_array_equal(again, corrupt(clean, corruption, severity, seed=0))


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_seed_changes_only_the_random_corruptions(clean, corruption):
    first, other = corrupt(clean, corruption, 2, seed=0), corrupt(clean, corruption, 2, seed=1)
    assert np.array_equal(first, other) != (corruption in RANDOM)


def test_sets_with_a_seed_match_single_calls(clean):
    for corruption, severity, array in corrupted_sets(clean[:20], seed=7):
        np.testing.assert_array_equal(array, corrupt(clean[:20], corruption, severity, seed=7))


def test_severities_draw_independent_streams(clean):
    # the same directions at every severity would make shift 2 exactly twice shift 1
    directions = []
    for severity, k in zip(SEVERITIES, SEVERITY_SETTINGS["shift"]):
        moved = centre_of_mass(corrupt(clean, "shift", severity)) - centre_of_mass(clean)
        directions.append(np.round(moved / k).astype(int))
    assert not np.array_equal(directions[0], directions[1])


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_effect_grows_with_severity(clean, sets, corruption):
    differences = [np.abs(sets[corruption, s].astype(np.int16) - clean).mean() for s in SEVERITIES]
    assert 0 < differences[0] < differences[1] < differences[2], differences


@pytest.mark.parametrize("severity", SEVERITIES)
def test_shift_moves_by_k_pixels_and_keeps_the_ink(clean, sets, severity):
    k = SEVERITY_SETTINGS["shift"][severity - 1]
    shifted = sets["shift", severity]
    rows, cols = clean.any(axis=2), clean.any(axis=1)
    inside = rows[:, :k].any(axis=1) | rows[:, -k:].any(axis=1) | cols[:, :k].any(axis=1) | cols[:, -k:].any(axis=1)
    inside = ~inside
    assert inside.sum() > 300
    moved = centre_of_mass(shifted[inside]) - centre_of_mass(clean[inside])
    steps = np.round(moved / k)
    np.testing.assert_allclose(moved, steps * k, atol=1e-9)
    assert np.isin(steps, (-1, 0, 1)).all() and (np.abs(steps).max(axis=1) == 1).all()
    assert len(np.unique(steps, axis=0)) == 8
    np.testing.assert_array_equal(ink(shifted[inside]), ink(clean[inside]))
    # no wrap-around: ink that leaves the frame is lost, never added
    assert (ink(shifted) <= ink(clean)).all()


@pytest.mark.parametrize("severity", SEVERITIES)
def test_rotation_turns_a_bar_by_the_drawn_angle(severity):
    limit = SEVERITY_SETTINGS["rotation"][severity - 1]
    bars = np.zeros((300, 28, 28), dtype=np.uint8)
    bars[:, 13:15, 4:24] = 255
    turned = corrupt(bars, "rotation", severity, seed=3).astype(np.float64)
    centre = centre_of_mass(turned)
    np.testing.assert_allclose(centre, 13.5, atol=0.05)
    x = COLS[None] - centre[:, 1, None, None]
    y = -(ROWS[None] - centre[:, 0, None, None])  # upwards, so that counter-clockwise is positive
    mxx, myy, mxy = ((turned * a * b).sum(axis=(1, 2)) for a, b in ((x, x), (y, y), (x, y)))
    measured = np.degrees(0.5 * np.arctan2(2 * mxy, mxx - myy))
    # the module's documented stream: the first draw of rng([seed, index, severity]) is uniform(-a, a, n)
    drawn = np.random.default_rng([3, list(CORRUPTIONS).index("rotation"), severity]).uniform(-limit, limit, 300)
    np.testing.assert_allclose(measured, drawn, atol=0.5)
    assert measured.min() < -0.8 * limit and measured.max() > 0.8 * limit


def test_thickening_and_thinning_change_the_strokes(clean, sets):
    counts = ink_pixels(clean)
    for severity in SEVERITIES:
        thick, thin = sets["thickening", severity], sets["thinning", severity]
        assert (thick >= clean).all() and (thin <= clean).all()
        assert (ink_pixels(thick) > counts).all()
        assert (ink_pixels(thin) < counts).all()
    kept = ink(sets["thinning", 3]) / ink(clean)
    assert kept.mean() > 0.1
    assert (kept < 0.02).mean() < 0.1


@pytest.mark.parametrize("severity", SEVERITIES)
def test_blur_lowers_the_peak_and_keeps_the_ink(clean, sets, severity):
    blurred = sets["blur", severity]
    assert (blurred.max(axis=(1, 2)) <= clean.max(axis=(1, 2))).all()
    assert blurred.max(axis=(1, 2)).mean() < clean.max(axis=(1, 2)).mean() - 5
    ratio = ink(blurred) / ink(clean)
    assert np.abs(ratio - 1).max() < 0.04 and abs(ratio.mean() - 1) < 0.01


@pytest.mark.parametrize("severity", SEVERITIES)
def test_contrast_scales_the_spread_around_the_mean(clean, sets, severity):
    c = SEVERITY_SETTINGS["contrast"][severity - 1]
    reduced = sets["contrast", severity].astype(np.float64)
    before = clean.astype(np.float64)
    # rounding moves each pixel by at most 0.5, so the standard deviation and the mean by at most 0.5
    np.testing.assert_allclose(reduced.std(axis=(1, 2)), c * before.std(axis=(1, 2)), atol=0.5)
    np.testing.assert_allclose(reduced.mean(axis=(1, 2)), before.mean(axis=(1, 2)), atol=0.5)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_noise_has_the_stated_sigma(severity):
    sigma = SEVERITY_SETTINGS["gaussian_noise"][severity - 1] * 255
    grey = np.full((300, 28, 28), 128, dtype=np.uint8)
    noise = corrupt(grey, "gaussian_noise", severity).astype(np.float64) - 128
    assert not np.array_equal(noise[0], noise[1])
    # clipping at 0 and 255 lies beyond ±σ, so the share within ±σ is that of the rounded normal
    k = np.floor(sigma)
    expected = stats.norm.cdf((k + 0.5) / sigma) - stats.norm.cdf(-(k + 0.5) / sigma)
    assert (np.abs(noise) <= k).mean() == pytest.approx(expected, abs=0.005)
    if severity == 1:  # clipping is 5σ away
        assert noise.std() == pytest.approx(sigma, rel=0.01)
        assert abs(noise.mean()) < 0.3


def test_noise_is_clipped_on_black():
    noisy = corrupt(np.zeros((100, 28, 28), dtype=np.uint8), "gaussian_noise", 3)
    assert noisy.dtype == np.uint8 and 0.45 < (noisy == 0).mean() < 0.55


@pytest.mark.parametrize(
    ("corruption", "severity", "named"),
    [("fog", 1, "'fog'"), ("shift", 0, "0"), ("shift", 4, "4"), ("blur", True, "True")],
)
def test_bad_corruption_or_severity_is_named(clean, corruption, severity, named):
    with pytest.raises(ValueError) as raised:
        corrupt(clean[:5], corruption, severity)
    assert named in str(raised.value)
    with pytest.raises(ValueError):
        describe(corruption, severity)


@pytest.mark.parametrize(
    ("images", "named"),
    [
        (np.zeros((5, 28, 27), dtype=np.uint8), "(5, 28, 27)"),
        (np.zeros((28, 28), dtype=np.uint8), "(28, 28)"),
        (np.zeros((5, 784), dtype=np.uint8), "(5, 784)"),
        (np.zeros((5, 28, 28), dtype=np.float32), "float32"),
        (np.zeros((5, 28, 28), dtype=np.int64), "int64"),
    ],
)
def test_bad_images_are_named(images, named):
    with pytest.raises(ValueError) as raised:
        corrupt(images, "blur", 1)
    assert named in str(raised.value)
    with pytest.raises(ValueError):
        next(corrupted_sets(images))


def test_images_that_are_not_an_array_are_refused():
    with pytest.raises(TypeError, match="list"):
        corrupt([[[0] * 28] * 28], "blur", 1)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_blur_has_the_stated_sigma_and_black_beyond_the_frame(severity):
    sigma = SEVERITY_SETTINGS["blur"][severity - 1]
    line = np.zeros((1, 28, 28), dtype=np.uint8)
    line[0, :, 14] = 255
    profile = corrupt(line, "blur", severity)[0, 14].astype(np.float64)
    spread = np.sqrt((profile * (np.arange(28) - 14) ** 2).sum() / profile.sum())
    assert spread == pytest.approx(sigma, rel=0.05)
    white = corrupt(np.full((1, 28, 28), 255, dtype=np.uint8), "blur", severity)[0]
    # past the edge the kernel meets black: the edge keeps the part of the kernel inside, a corner that squared
    edge = white[0, 14] / 255
    assert white[14, 14] == 255 and 0.5 < edge < 0.9
    assert white[0, 0] == pytest.approx(255 * edge**2, abs=2)
