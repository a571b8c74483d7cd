"""Figures. Each function draws one figure, saves it as PNG at `path` and returns that path (notebooks show it
with IPython.display.Image, so the page shows exactly the file the study report embeds)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.layout_engine import TightLayoutEngine

from mlpstudy.io import atomic_path

DPI = 110
# What sns.set_theme(style="whitegrid", context="notebook") sets, without importing seaborn here: seaborn
# imports scipy.stats, which took 0.7 s of each model report job (tests check this still matches seaborn). Only
# 'image.cmap' is left out: its 'rocket' exists only once seaborn is imported, and every image here names its
# colormap. Functions that draw with seaborn import it themselves.
THEME = {
    "axes.axisbelow": True,
    "axes.edgecolor": ".8",
    "axes.grid": True,
    "axes.labelcolor": ".15",
    "axes.labelsize": 12.0,
    "axes.linewidth": 1.25,
    "axes.titlesize": 12.0,
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
    "font.size": 12.0,
    "grid.color": ".8",
    "grid.linewidth": 1.0,
    "legend.fontsize": 11.0,
    "legend.title_fontsize": 12.0,
    "lines.solid_capstyle": "round",
    "patch.edgecolor": "w",
    "patch.force_edgecolor": True,
    "text.color": ".15",
    "xtick.bottom": False,
    "xtick.color": ".15",
    "xtick.labelsize": 11.0,
    "xtick.major.size": 6.0,
    "xtick.major.width": 1.25,
    "xtick.minor.size": 4.0,
    "xtick.minor.width": 1.0,
    "ytick.color": ".15",
    "ytick.labelsize": 11.0,
    "ytick.left": False,
    "ytick.major.size": 6.0,
    "ytick.major.width": 1.25,
    "ytick.minor.size": 4.0,
    "ytick.minor.width": 1.0,
}
# seaborn's "deep" palette: the colour cycle, and its "deep6" as the single-letter colour codes.
DEEP = [
    "#4c72b0",
    "#dd8452",
    "#55a868",
    "#c44e52",
    "#8172b3",
    "#937860",
    "#da8bc3",
    "#8c8c8c",
    "#ccb974",
    "#64b5cd",
]
COLOR_CODES = dict(zip("bgrmyck", ["#4c72b0", "#55a868", "#c44e52", "#8172b3", "#ccb974", "#64b5cd", (0.1, 0.1, 0.1)]))
TAB10 = list(matplotlib.colormaps["tab10"].colors)  # what sns.color_palette("tab10") returns


def set_theme() -> None:
    """Apply THEME, the "deep" colour cycle and colour codes (plots does on import)."""
    matplotlib.rcParams.update(THEME)
    matplotlib.rcParams["axes.prop_cycle"] = matplotlib.cycler(color=[matplotlib.colors.to_rgb(c) for c in DEEP])
    for code, color in COLOR_CODES.items():
        matplotlib.colors.colorConverter.colors[code] = matplotlib.colors.to_rgb(color)


set_theme()


def save(figure, path: str | Path, tight: bool = True) -> str:
    """Write `figure` as PNG; `tight` crops it to what it draws (one more draw), for figures laid out by
    matplotlib rather than at fixed positions."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=DPI, bbox_inches="tight" if tight else None, format="png")
    plt.close(figure)
    return str(path)


def _tight_layout(figure) -> None:
    """figure.tight_layout(), without the placeholder layout engine it leaves on the figure, for which savefig
    draws the figure once more before drawing it into the file."""
    TightLayoutEngine().execute(figure)


def _short(class_names) -> bool:
    """Digit-like names fit beside each other; clothing names ("T-shirt/top") need rotation or a new line."""
    return max(len(str(name)) for name in class_names) <= 2


def learning_curves(histories: dict[int, pd.DataFrame], title: str, path):
    """Accuracy and loss per epoch, train vs validation; one thin line per seed and the mean across seeds."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = {"train": "tab:blue", "validation": "tab:orange"}
    for axis, metric in zip(axes, ("accuracy", "loss")):
        for part, column in (("train", metric), ("validation", f"val_{metric}")):
            frames = []
            for seed, history in sorted(histories.items()):
                axis.plot(history["epoch"], history[column], color=colors[part], alpha=0.3, linewidth=1)
                frames.append(history.set_index("epoch")[column])
            mean = pd.concat(frames, axis=1).mean(axis=1)
            label = f"{part} (mean of {len(frames)} seed{'s' if len(frames) > 1 else ''})"
            axis.plot(mean.index, mean.values, color=colors[part], linewidth=2, marker="o", markersize=3, label=label)
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.legend()
    axes[0].set_title("Accuracy")
    axes[1].set_title("Loss (train loss includes any regularization penalty)")
    figure.suptitle(title)
    _tight_layout(figure)
    return save(figure, path, tight=False)


def confusion_heatmap(matrix: np.ndarray, class_names, title: str, path):
    """What sns.heatmap(annot, fmt="", cmap="Blues", square=True) drew, without seaborn (and its extra draw to
    see whether tick labels overlap: digit labels on the y axis stand up, longer names lie down)."""
    figure, axis = plt.subplots(figsize=(7.5, 6.5))
    matrix = np.asarray(matrix, dtype=float)
    rows, columns = matrix.shape
    axis.set_aspect("equal")
    for spine in axis.spines.values():
        spine.set_visible(False)
    mesh = axis.pcolormesh(matrix, cmap="Blues", vmin=matrix.min(), vmax=matrix.max(), linewidths=0, edgecolor="w")
    axis.set(xlim=(0, columns), ylim=(0, rows))
    axis.invert_yaxis()
    figure.colorbar(mesh, ax=axis).outline.set_linewidth(0)
    axis.set_xticks(np.arange(columns) + 0.5, class_names)
    axis.set_yticks(np.arange(rows) + 0.5, class_names, rotation="vertical" if _short(class_names) else 0, va="center")
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    # Dark text on light cells, white on dark ones (seaborn's rule, on the W3C relative luminance).
    rgb = mesh.to_rgba(matrix)[..., :3]
    luminance = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4) @ [0.2126, 0.7152, 0.0722]
    for (row, column), value in np.ndenumerate(matrix):
        axis.text(
            column + 0.5,
            row + 0.5,
            f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}",
            color=".15" if luminance[row, column] > 0.408 else "w",
            ha="center",
            va="center",
            size=8,
        )
    if not _short(class_names):
        axis.tick_params(axis="x", labelrotation=45)
        plt.setp(axis.get_xticklabels(), ha="right", rotation_mode="anchor")
    axis.set_title(title)
    _tight_layout(figure)
    return save(figure, path, tight=False)


def _sheet(width: float, height: float, title: str):
    """A figure of width x height inches with its title, and one invisible Axes over all of it whose data
    coordinates are inches from the top left corner: images and captions go at fixed places on it, without an
    Axes each or a layout pass (30 small Axes took a second to lay out and draw)."""
    figure = plt.figure(figsize=(width, height))
    sheet = figure.add_axes((0, 0, 1, 1))
    sheet.set_axis_off()
    sheet.set_xlim(0, width)
    sheet.set_ylim(height, 0)
    sheet.set_autoscale_on(False)
    figure.suptitle(title, y=1 - 0.12 / height, va="top")
    return figure, sheet


def _place_image(sheet, image, left: float, top: float, size: float, caption: str, **caption_style):
    """`image` as a size x size inch square with its top left corner at (left, top), scaled to its own range
    like imshow in an Axes of its own, with `caption` centred above it."""
    sheet.imshow(image, cmap="binary", extent=(left, left + size, top + size, top), aspect="auto")
    sheet.text(left + size / 2, top - 0.05, caption, ha="center", va="bottom", **caption_style)


TITLE_BAND = 0.5  # inches above the first row, for the figure's title


def image_grid(images, captions, title: str, path, columns: int = 10, caption_colors=None):
    """Rows of `columns` images, each 1.1 inch wide and 1.35 inch tall with its caption (up to two lines)."""
    width, height, size = 1.1, 1.35, 0.8
    rows = max(1, int(np.ceil(len(images) / columns)))
    figure, sheet = _sheet(columns * width, TITLE_BAND + rows * height, title)
    for index, (image, caption) in enumerate(zip(images, captions)):
        row, column = divmod(index, columns)
        color = caption_colors[index] if caption_colors else "black"
        left, top = column * width + (width - size) / 2, TITLE_BAND + row * height + 0.38
        _place_image(sheet, image, left, top, size, caption, fontsize=8, color=color)
    return save(figure, path, tight=False)


def misclassified_grid(images, labels, predictions, class_names, title: str, path, count: int = 30):
    wrong = np.flatnonzero(labels != predictions)[:count]
    captions = [f"true {class_names[labels[i]]}\npred {class_names[predictions[i]]}" for i in wrong]
    if not len(wrong):
        title += " (none misclassified)"
    return image_grid(images[wrong], captions, title, path, caption_colors=["tab:red"] * len(wrong))


def _tile(images, per_row: int = 5, size: int = 28) -> np.ndarray:
    """Tile up to per_row**2 images into one square canvas, so every panel has the same scale."""
    images = list(images[: per_row * per_row])
    canvas = np.zeros((per_row * size, per_row * size))
    for index, image in enumerate(images):
        row, column = divmod(index, per_row)
        canvas[row * size : (row + 1) * size, column * size : (column + 1) * size] = image
    return canvas


def confused_pair_panel(images, labels, predictions, pair, class_names, title: str, path):
    """The 2x2 grid: a as a, a as b, b as a, b as b (up to 25 test images each)."""
    a, b = pair
    width, height, size = 3.5, 3.45, 3.0
    figure, sheet = _sheet(2 * width, TITLE_BAND + 2 * height, title)
    for index, (true_class, predicted_class) in enumerate([(a, a), (a, b), (b, a), (b, b)]):
        row, column = divmod(index, 2)
        selected = images[(labels == true_class) & (predictions == predicted_class)]
        caption = f"{class_names[true_class]} classified as {class_names[predicted_class]} ({len(selected)})"
        left, top = column * width + (width - size) / 2, TITLE_BAND + row * height + 0.3
        _place_image(sheet, _tile(selected), left, top, size, caption, fontsize=10)
    return save(figure, path, tight=False)


def _bars(axis, heights, colors, width: float = 0.8) -> None:
    """What axis.bar(range(len(heights)), heights, color=colors) draws, as one collection instead of a patch per
    bar (adding 100 patches took 0.1 s)."""
    lefts = np.arange(len(heights)) - width / 2
    corners = [[(x, 0), (x, h), (x + width, h), (x + width, 0)] for x, h in zip(lefts, heights)]
    style = {"edgecolors": matplotlib.rcParams["patch.edgecolor"], "linewidths": matplotlib.rcParams["patch.linewidth"]}
    axis.add_collection(PolyCollection(corners, facecolors=colors, **style))
    margin = 0.05 * (lefts[-1] + width - lefts[0])  # axis.margins()
    axis.set_xlim(lefts[0] - margin, lefts[-1] + width + margin)


def probability_bars(images, probabilities, labels, indices_by_kind: dict[str, np.ndarray], class_names, title, path):
    """For each kind (e.g. 'least certain correct'), each image above its predicted-probability bars."""
    kinds = [kind for kind, indices in indices_by_kind.items() if len(indices)]
    columns = max((len(indices_by_kind[k]) for k in kinds), default=1)
    short = _short(class_names)
    # Per image, 2.2 inches wide and 4.2 tall: caption, image, then the bars with room for their tick labels
    # (class names stand up under the bars when they are longer than digits).
    width, height, caption, gap, bar_height, below = 2.2, 4.2, 0.42, 0.3, 1.2, (0.35 if short else 0.85)
    size = min(1.6, height - caption - gap - bar_height - below - 0.1)
    bar_left, bar_width = 0.42, 1.7
    figure, sheet = _sheet(
        columns * width,
        TITLE_BAND + height * max(len(kinds), 1),
        title + "  (green: true class, red: wrong prediction)",
    )
    figure_width, figure_height = figure.get_size_inches()
    positions = np.arange(len(class_names))
    for row, kind in enumerate(kinds):
        for column, index in enumerate(indices_by_kind[kind]):
            predicted = int(np.argmax(probabilities[index]))
            left, top = column * width, TITLE_BAND + row * height + caption
            _place_image(
                sheet,
                images[index],
                left + (width - size) / 2,
                top,
                size,
                f"{kind}\ntrue {class_names[labels[index]]}, pred {class_names[predicted]}",
                fontsize=8,
            )
            bar_top = top + size + gap
            bar_axis = figure.add_axes(
                (
                    (left + bar_left) / figure_width,
                    1 - (bar_top + bar_height) / figure_height,
                    bar_width / figure_width,
                    bar_height / figure_height,
                )
            )
            colors = ["tab:gray"] * len(class_names)
            colors[labels[index]] = "tab:green"
            if predicted != labels[index]:
                colors[predicted] = "tab:red"
            _bars(bar_axis, probabilities[index], colors)
            bar_axis.set_ylim(0, 1)
            bar_axis.set_yticks(np.linspace(0, 1, 6))
            bar_axis.set_xticks(positions, class_names, fontsize=7, rotation=0 if short else 90)
            bar_axis.tick_params(axis="y", labelsize=7)
    return save(figure, path, tight=False)


def class_counts(counts: dict[str, list[int]], class_names, path):
    table = pd.DataFrame(counts, index=list(class_names)).rename_axis("class").reset_index()
    long = table.melt(id_vars="class", var_name="part", value_name="images")
    figure, axis = plt.subplots(figsize=(9, 4))
    import seaborn as sns  # here, not at the top: the model reports don't need it

    sns.barplot(data=long, x="class", y="images", hue="part", ax=axis)
    axis.set_title("Images per class in each part of the split")
    figure.tight_layout()
    return save(figure, path)


def sample_grid(images, labels, class_names, path, per_class: int = 5):
    """per_class rows x one column per class: the first training images of each class."""
    n_classes = len(class_names)
    figure, axes = plt.subplots(per_class, n_classes, figsize=(n_classes * 1.0, per_class * 1.15))
    for column in range(n_classes):
        indices = np.flatnonzero(labels == column)[:per_class]
        for row in range(per_class):
            axis = axes[row, column]
            axis.axis("off")
            if row < len(indices):
                axis.imshow(images[indices[row]], cmap="binary")
            if row == 0:
                axis.set_title(class_names[column], fontsize=9)
    figure.suptitle(f"{per_class} training images of each class")
    figure.tight_layout()
    return save(figure, path)


def mean_images(images, labels, class_names, path):
    n_classes = len(class_names)
    figure, axes = plt.subplots(1, n_classes, figsize=(n_classes * 1.1, 1.6))
    for column, axis in enumerate(axes):
        axis.imshow(images[labels == column].mean(axis=0), cmap="magma")
        axis.set_title(class_names[column], fontsize=9)
        axis.axis("off")
    figure.suptitle("Mean training image of each class")
    figure.tight_layout()
    return save(figure, path)


def accuracy_by_width_depth(table: pd.DataFrame, path):
    """Validation accuracy against width, one line per depth, for the plain nets of equal-width layers."""
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for depth, group in table.groupby("depth"):
        group = group.sort_values("width")
        axis.errorbar(
            group["width"],
            group["val_accuracy"],
            yerr=group["val_accuracy_sd"].fillna(0),
            marker="o",
            capsize=3,
            label=f"{depth} hidden layer{'s' if depth > 1 else ''}",
        )
        for _, row in group.iterrows():
            axis.annotate(
                row["experiment"],
                (row["width"], row["val_accuracy"]),
                fontsize=7,
                textcoords="offset points",
                xytext=(4, 4),
            )
    axis.set_xscale("log", base=2)
    widths = sorted(table["width"].unique())
    axis.set_xticks(widths, [str(w) for w in widths])
    axis.set_xlabel("units per hidden layer")
    axis.set_ylabel("validation accuracy (mean over seeds)")
    axis.set_title("Accuracy by width and depth (plain relu nets)")
    axis.legend()
    figure.tight_layout()
    return save(figure, path)


def generalization_gap(table: pd.DataFrame, threshold: float, path):
    ordered = table.sort_values("generalization_gap")
    figure, axis = plt.subplots(figsize=(8, 0.35 * len(ordered) + 1.5))
    colors = ["tab:red" if flagged else "tab:blue" for flagged in ordered["overfitting_flag"]]
    axis.barh(ordered["experiment"], ordered["generalization_gap"] * 100, color=colors)
    axis.axvline(threshold * 100, color="tab:red", linestyle="--", label=f"over-fitting flag ({threshold * 100:g} pp)")
    axis.set_xlabel("train accuracy - validation accuracy (percentage points, mean over seeds)")
    axis.set_title("Generalization gap")
    axis.legend(loc="lower right")
    figure.tight_layout()
    return save(figure, path)


COST_AXIS = {
    "params": ("trainable parameters (log scale)", True),
    "model_bytes": ("size on disk, bytes (log scale)", True),
    "latency_ms_single": ("latency per image, ms", False),
    "latency_ms_per_1000": ("latency per 1,000 images, ms", False),
    "seconds_per_epoch": ("training seconds per epoch", False),
}


def pareto_front(costs, accuracies) -> np.ndarray:
    """Indices of the points no other point beats on both cost (lower) and accuracy (higher), by cost."""
    order = np.lexsort((-np.asarray(accuracies), np.asarray(costs)))
    front, best = [], -np.inf
    for index in order:
        if accuracies[index] > best:
            front.append(index)
            best = accuracies[index]
    return np.asarray(front, dtype=int)


def _interval_errors(table: pd.DataFrame, part: str) -> list[np.ndarray]:
    """Lower and upper error-bar lengths (percent) of the 95% interval of `part` accuracy; 0 where undefined."""
    mean = table[f"{part}_accuracy"]
    return [
        ((mean - table[f"{part}_accuracy_ci_low"]).fillna(0) * 100).to_numpy(),
        ((table[f"{part}_accuracy_ci_high"] - mean).fillna(0) * 100).to_numpy(),
    ]


def accuracy_vs_cost(table: pd.DataFrame, picked: str, cost: str, path):
    """Mean validation accuracy (with its 95% CI) against cost; the Pareto front and the pick marked."""
    figure, axis = plt.subplots(figsize=(9, 5.5))
    x, y = table[cost].to_numpy(float), table["val_accuracy"].to_numpy(float) * 100
    axis.errorbar(
        x,
        y,
        yerr=_interval_errors(table, "val"),
        fmt="o",
        color="tab:blue",
        ecolor="tab:gray",
        capsize=2,
        label="experiment (95% CI)",
    )
    front = pareto_front(x, y)
    axis.plot(x[front], y[front], color="tab:green", linestyle="--", label="Pareto front")
    for (_, row), xi, yi in zip(table.iterrows(), x, y):
        axis.annotate(row["experiment"], (xi, yi), fontsize=7, textcoords="offset points", xytext=(4, 3))
    chosen = table["experiment"].to_numpy() == picked
    axis.scatter(
        x[chosen],
        y[chosen],
        s=220,
        facecolors="none",
        edgecolors="tab:red",
        linewidths=2,
        label=f"recommended: {picked}",
        zorder=5,
    )
    label, log = COST_AXIS[cost]
    if log:
        axis.set_xscale("log")
    axis.set_xlabel(label)
    axis.set_ylabel("validation accuracy, % (mean over seeds)")
    axis.set_title("Accuracy against cost")
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return save(figure, path)


def confidence_forest(table: pd.DataFrame, picked: str, path):
    """Per experiment: the 95% prediction interval for the test accuracy of one model trained that way (thin,
    seed and test-set variation) and the 95% t-interval of the mean over seeds (thick), and the mean validation
    accuracy."""
    ordered = table.sort_values("val_accuracy")
    figure, axis = plt.subplots(figsize=(9, 0.42 * len(ordered) + 1.6))
    positions = np.arange(len(ordered))
    test = ordered["test_accuracy"].to_numpy() * 100
    for columns, width, label in (
        (("test_expected_low", "test_expected_high"), 1.2, "test: one model trained this way (95% PI)"),
        (("test_accuracy_ci_low", "test_accuracy_ci_high"), 4, "test: mean over seeds (95% t-interval)"),
    ):
        errors = [
            ((ordered["test_accuracy"] - ordered[columns[0]]).fillna(0) * 100).clip(lower=0).to_numpy(),
            ((ordered[columns[1]] - ordered["test_accuracy"]).fillna(0) * 100).clip(lower=0).to_numpy(),
        ]
        axis.errorbar(test, positions + 0.12, xerr=errors, fmt="o", color="tab:blue", elinewidth=width, label=label)
    axis.plot(ordered["val_accuracy"] * 100, positions - 0.12, "o", color="tab:orange", label="validation (mean)")
    labels = [f"{name}  (recommended)" if name == picked else name for name in ordered["experiment"]]
    axis.set_yticks(positions, labels)
    low = np.nanmin(ordered[["test_expected_low", "val_accuracy"]].to_numpy()) * 100
    axis.set_xlim(max(low - 0.5, 0), 100)
    axis.set_xlabel("accuracy, %")
    axis.set_title("Test accuracy with its uncertainty (ordered by validation accuracy)")
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return save(figure, path)


def probability_best(best_table: pd.DataFrame, picked: str, path):
    ordered = best_table.sort_values("p_best")
    figure, axis = plt.subplots(figsize=(8, 0.35 * len(ordered) + 1.5))
    colors = ["tab:red" if name == picked else "tab:blue" for name in ordered["experiment"]]
    axis.barh(ordered["experiment"], ordered["p_best"] * 100, color=colors)
    axis.set_xlabel("% of bootstrap draws (validation images and seeds) in which it has the best validation accuracy")
    axis.set_title("How stable is 'best on validation'? (red: recommended)")
    axis.set_xlim(0, 100)
    figure.tight_layout()
    return save(figure, path)


def per_class_comparison(per_class: dict[str, list[float]], class_names, path):
    table = pd.DataFrame(per_class, index=list(class_names)).rename_axis("class").reset_index()
    long = table.melt(id_vars="class", var_name="experiment", value_name="accuracy")
    long["accuracy"] *= 100
    figure, axis = plt.subplots(figsize=(9, 4))
    import seaborn as sns

    sns.barplot(data=long, x="class", y="accuracy", hue="experiment", ax=axis)
    axis.set_ylim(max(0, long["accuracy"].min() - 3), 100)
    axis.set_ylabel("test accuracy per class, % (seed ensemble)")
    axis.set_title("Per-class accuracy: recommended vs its comparator (chosen on validation)")
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return save(figure, path)


def learning_curve_bands(histories: dict[str, list[pd.DataFrame]], path):
    """Validation accuracy per epoch: mean across seeds with a min-max band, one colour per experiment."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for (name, runs), color in zip(histories.items(), TAB10):
        for axis, column in zip(axes, ("val_accuracy", "val_loss")):
            frame = pd.concat([run.set_index("epoch")[column] for run in runs], axis=1)
            axis.plot(frame.index, frame.mean(axis=1), color=color, marker="o", markersize=3, label=name)
            axis.fill_between(frame.index, frame.min(axis=1), frame.max(axis=1), color=color, alpha=0.2)
    for axis, title in zip(axes, ("Validation accuracy", "Validation loss")):
        axis.set_xlabel("epoch")
        axis.set_title(f"{title} (band: range over seeds)")
        axis.legend(fontsize=8)
    figure.tight_layout()
    return save(figure, path)


def error_examples(
    images, labels, predictions, all_wrong, only_pick_wrong, class_names, picked: str, path, count: int = 10
):
    """Test images that every experiment gets wrong, and those only the recommended model gets wrong."""
    short = _short(class_names)
    arrow = "→" if short else "\n→ "
    figure, axes = plt.subplots(2, count, figsize=(count * (1.1 if short else 1.5), 3.2 if short else 4.0))
    for row, (indices, title) in enumerate(
        (
            (all_wrong, f"wrong for every experiment ({len(all_wrong)})"),
            (only_pick_wrong, f"wrong only for {picked} ({len(only_pick_wrong)})"),
        )
    ):
        for column in range(count):
            axis = axes[row, column]
            axis.axis("off")
            if column < len(indices):
                index = indices[column]
                axis.imshow(images[index], cmap="binary")
                axis.set_title(f"{class_names[labels[index]]}{arrow}{class_names[predictions[index]]}", fontsize=8)
        # above the captions, which take two lines for long class names
        axes[row, 0].text(-0.1, 1.35 if short else 1.6, title, transform=axes[row, 0].transAxes, fontsize=10, ha="left")
    figure.suptitle(
        "Cross-model error analysis on the test set (true→predicted by the recommended model; seed ensembles)",
        fontsize=10,
    )
    figure.tight_layout()
    return save(figure, path)


def reliability_diagram(reliability: dict[str, list[dict]], path):
    """Accuracy against mean confidence per confidence bin, one line per experiment; the diagonal is perfect
    calibration."""
    figure, axis = plt.subplots(figsize=(6, 5))
    axis.plot([0, 100], [0, 100], color="tab:gray", linestyle="--", label="perfectly calibrated")
    for (name, bins), color in zip(reliability.items(), TAB10):
        frame = pd.DataFrame(bins)
        axis.plot(frame["confidence"] * 100, frame["accuracy"] * 100, marker="o", color=color, label=name)
    axis.set_xlabel("confidence of the predicted class, % (bin mean)")
    axis.set_ylabel("accuracy in the bin, %")
    axis.set_title("Reliability on the test set (all seeds' predictions)")
    axis.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    return save(figure, path)


def accuracy_under_corruption(table: pd.DataFrame, corruptions: dict[str, str], path):
    """Test accuracy against severity (0 = clean images), one panel per corruption, one line per model with
    its 95% interval as error bars."""
    columns = 4
    rows = int(np.ceil(len(corruptions) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 3.4, rows * 3.0), sharey=True)
    axes = np.atleast_1d(axes).ravel()
    clean = table[table["corruption"] == "none"]
    models = list(dict.fromkeys(table["model"]))
    colors = dict(zip(models, TAB10))
    for axis, (corruption, title) in zip(axes, corruptions.items()):
        for name in models:
            frame = pd.concat([clean, table[table["corruption"] == corruption]])
            frame = frame[frame["model"] == name].sort_values("severity")
            accuracy = frame["accuracy"] * 100
            errors = [(accuracy - frame["low"] * 100).clip(lower=0), (frame["high"] * 100 - accuracy).clip(lower=0)]
            style = {"linestyle": "--", "color": "black"} if frame["role"].iloc[0] == "deployed" else {}
            axis.errorbar(
                frame["severity"],
                accuracy,
                yerr=np.nan_to_num(errors),
                marker="o",
                capsize=3,
                label=name,
                **({"color": colors[name]} | style),
            )
        axis.set_title(title, fontsize=10)
        axis.set_xticks([0, 1, 2, 3])
        axis.set_xlabel("severity (0 = clean)")
    for axis in axes[len(corruptions) :]:
        axis.axis("off")
    axes[0].set_ylabel("test accuracy, %")
    axes[0].set_ylim(0, 100)
    handles, labels = axes[0].get_legend_handles_labels()
    (axes[len(corruptions)] if len(corruptions) < len(axes) else axes[0]).legend(
        handles, labels, fontsize=8, loc="center"
    )
    figure.suptitle("Accuracy on corrupted test images (95% intervals)")
    figure.tight_layout()
    return save(figure, path)


def corruption_examples(examples: dict[tuple[str, int], np.ndarray], corruptions: dict[str, str], path):
    """The first test image, clean and under every corruption and severity: one row per corruption."""
    images, captions = [], []
    for corruption, title in corruptions.items():
        for severity in (0, 1, 2, 3):
            images.append(examples[("none", 0) if severity == 0 else (corruption, severity)][0])
            captions.append(f"{title}\n{'clean' if severity == 0 else f'severity {severity}'}")
    return image_grid(images, captions, "The corruptions, on the first test image", path, columns=4)
