import numpy as np
import pytest

from mlpstudy import plots
from mlpstudy.data import DATASETS

FASHION = list(DATASETS["fashion_mnist"].class_names)


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    """The texts of every figure a plot function draws (it still writes its PNG)."""
    texts = []
    save = plots.save

    def capture(figure, path):
        figure.canvas.draw()
        texts.extend(t.get_text() for t in figure.findobj(lambda artist: hasattr(artist, "get_text")))
        return save(figure, path)

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
