import subprocess
import sys

import matplotlib
import matplotlib.image
import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from mlpstudy import plots
from mlpstudy.data import DATASETS

FASHION = list(DATASETS["fashion_mnist"].class_names)


@pytest.fixture
def figures(monkeypatch):
    """Every figure a plot function saves (it still writes its PNG)."""
    saved = []
    save = plots.save

    def capture(figure, path, **options):
        saved.append(figure)
        return save(figure, path, **options)

    monkeypatch.setattr(plots, "save", capture)
    return saved


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    """The texts of every figure a plot function draws (it still writes its PNG)."""
    texts = []
    save = plots.save

    def capture(figure, path, **options):
        figure.canvas.draw()
        texts.extend(t.get_text() for t in figure.findobj(lambda artist: hasattr(artist, "get_text")))
        return save(figure, path, **options)

    monkeypatch.setattr(plots, "save", capture)
    return texts


def test_figures_name_the_classes(drawn, tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (60, 28, 28), dtype=np.uint8)
    labels = np.arange(60) % 10
    predictions = (labels + 1) % 10
    probabilities = np.full((60, 10), 0.1)
    plots.confusion_heatmap(np.eye(10) * 5, FASHION, "confusion", tmp_path / "a.png")
    plots.misclassified_grid(images, labels, predictions, FASHION, "wrong", tmp_path / "b.png")
    plots.confused_pair_panel(images, labels, predictions, (9, 5), FASHION, "pair", tmp_path / "c.png")
    plots.probability_bars(
        images, probabilities, labels, {"least certain": np.arange(3)}, FASHION, "p", tmp_path / "d.png"
    )
    plots.class_counts({"train": [6] * 10}, FASHION, tmp_path / "e.png")
    plots.sample_grid(images, labels, FASHION, tmp_path / "f.png")
    plots.mean_images(images, labels, FASHION, tmp_path / "g.png")
    plots.per_class_comparison({"pick": [0.9] * 10}, FASHION, tmp_path / "h.png")
    plots.error_examples(
        images, labels, predictions, np.arange(5), np.arange(5, 8), FASHION, "pick", tmp_path / "i.png"
    )
    text = "\n".join(drawn)
    for name in FASHION:
        assert name in text
    assert "T-shirt/top\n→ Trouser" in text  # long names go on two lines instead of overlapping
    assert len(list(tmp_path.glob("*.png"))) == 9


def test_the_theme_is_what_seaborn_sets():
    """plots sets sns.set_theme(style="whitegrid", context="notebook") by hand, to keep seaborn (and scipy) out of
    the model reports' kernels; this fails when seaborn's theme and that copy part."""
    import seaborn as sns

    codes = matplotlib.colors.colorConverter.colors  # rc_context leaves these as they are
    with matplotlib.rc_context():
        codes.update(matplotlib.colors.BASE_COLORS)
        sns.set_theme(style="whitegrid", context="notebook")
        expected = dict(matplotlib.rcParams)
        expected_codes = {code: codes[code] for code in "bgrmyck"}
    with matplotlib.rc_context():
        codes.update(matplotlib.colors.BASE_COLORS)
        plots.set_theme()
        actual = dict(matplotlib.rcParams)
        actual_codes = {code: codes[code] for code in "bgrmyck"}
    differences = {key for key in expected if key != "image.cmap" and actual[key] != expected[key]}
    assert differences == set()
    assert actual_codes == expected_codes
    assert plots.TAB10 == list(sns.color_palette("tab10"))


def test_the_model_report_figures_need_no_seaborn(tmp_path):
    script = f"""
import sys
import numpy as np
from mlpstudy import plots
images = np.zeros((20, 28, 28))
labels, predictions = np.arange(20) % 10, (np.arange(20) + 1) % 10
plots.confusion_heatmap(np.eye(10), list("0123456789"), "t", r"{tmp_path}/a.png")
plots.misclassified_grid(images, labels, predictions, list("0123456789"), "t", r"{tmp_path}/b.png")
assert "seaborn" not in sys.modules, "plots imports seaborn"
"""
    subprocess.run([sys.executable, "-c", script], check=True)


def test_image_grid_scales_each_image_to_its_own_range_under_its_coloured_caption(figures, tmp_path):
    """One Axes for the whole grid, but each image keeps the scaling an Axes of its own gave it."""
    images = np.zeros((12, 28, 28))
    images[:, 5:20, 5:20] = np.arange(1, 13)[:, None, None] * 10
    labels, predictions = np.arange(12) % 10, (np.arange(12) + 3) % 10
    plots.misclassified_grid(images, labels, predictions, list("0123456789"), "wrong", tmp_path / "grid.png")
    (sheet,) = figures[0].axes
    assert [image.get_clim() for image in sheet.get_images()] == [(0, 10 * (i + 1)) for i in range(12)]
    assert [text.get_text() for text in sheet.texts][:2] == ["true 0\npred 3", "true 1\npred 4"]
    assert {matplotlib.colors.to_hex(text.get_color()) for text in sheet.texts} == {"#d62728"}  # tab:red
    height, width = matplotlib.image.imread(tmp_path / "grid.png").shape[:2]
    assert (height, width) == (round((plots.TITLE_BAND + 2 * 1.35) * plots.DPI), round(11 * plots.DPI))


def test_probability_bars_colour_the_true_class_green_and_a_wrong_prediction_red(figures, tmp_path):
    probabilities = np.full((2, 10), 0.05)
    probabilities[0, 3], probabilities[1, 7] = 0.55, 0.55
    labels = np.array([3, 2])  # the first right, the second wrong (predicted 7)
    plots.probability_bars(
        np.zeros((2, 28, 28)), probabilities, labels, {"right": [0], "wrong": [1]}, FASHION, "p", tmp_path / "p.png"
    )
    bars = [c for axis in figures[0].axes for c in axis.collections if isinstance(c, PolyCollection)]
    colors = [[matplotlib.colors.to_hex(color) for color in bar.get_facecolors()] for bar in bars]
    green, red, gray = "#2ca02c", "#d62728", "#7f7f7f"
    assert colors == [
        [green if i == 3 else gray for i in range(10)],
        [green if i == 2 else red if i == 7 else gray for i in range(10)],
    ]
    assert [path.vertices[:, 1].max() for path in bars[1].get_paths()] == pytest.approx(probabilities[1])
    captions = [text.get_text() for text in figures[0].axes[0].texts]
    assert captions == ["right\ntrue Dress, pred Dress", "wrong\ntrue Pullover, pred Sneaker"]


def test_confusion_heatmap_writes_dark_counts_on_light_cells_and_white_on_dark(figures, tmp_path):
    plots.confusion_heatmap(np.eye(3) * 10 + 1 / 3, ["0", "1", "2"], "c", tmp_path / "c.png")
    colors = {text.get_text(): matplotlib.colors.to_hex(text.get_color()) for text in figures[0].axes[0].texts}
    assert colors == {"10.3": "#ffffff", "0.3": "#262626"}
