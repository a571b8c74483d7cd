"""Figures. Each function draws one figure, saves it as PNG at `path` and returns it for display."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from mlpstudy.io import atomic_path  # noqa: E402

DPI = 110
sns.set_theme(style="whitegrid", context="notebook")


def save(figure, path: str | Path):
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=DPI, bbox_inches="tight", format="png")
    return figure


def _image_axes(axes):
    for axis in np.atleast_1d(axes).ravel():
        axis.set_xticks([])
        axis.set_yticks([])
        axis.grid(False)


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
    figure.tight_layout()
    return save(figure, path)


def confusion_heatmap(matrix: np.ndarray, class_names, title: str, path):
    figure, axis = plt.subplots(figsize=(7.5, 6.5))
    annotations = np.vectorize(lambda v: f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}")(matrix)
    sns.heatmap(
        matrix, annot=annotations, fmt="", cmap="Blues", cbar=True, square=True, ax=axis,
        xticklabels=class_names, yticklabels=class_names, annot_kws={"size": 8},
    )
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title(title)
    figure.tight_layout()
    return save(figure, path)


def image_grid(images, captions, title: str, path, columns: int = 10, caption_colors=None):
    rows = max(1, int(np.ceil(len(images) / columns)))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.35))
    axes = np.atleast_1d(axes).ravel()
    for index, axis in enumerate(axes):
        axis.axis("off")
        if index < len(images):
            axis.imshow(images[index], cmap="binary")
            axis.set_title(captions[index], fontsize=8, color=(caption_colors or ["black"] * len(images))[index])
    figure.suptitle(title)
    figure.tight_layout()
    return save(figure, path)


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
    figure, axes = plt.subplots(2, 2, figsize=(7, 7.4))
    for (true_class, predicted_class), axis in zip([(a, a), (a, b), (b, a), (b, b)], axes.ravel()):
        selected = images[(labels == true_class) & (predictions == predicted_class)]
        axis.imshow(_tile(selected), cmap="binary")
        axis.set_title(
            f"{class_names[true_class]} classified as {class_names[predicted_class]} ({len(selected)})", fontsize=10
        )
        axis.axis("off")
    figure.suptitle(title)
    figure.tight_layout()
    return save(figure, path)


def probability_bars(images, probabilities, labels, indices_by_kind: dict[str, np.ndarray], class_names, title, path):
    """For each kind (e.g. 'least certain correct'), each image beside its predicted-probability bars."""
    kinds = [kind for kind, indices in indices_by_kind.items() if len(indices)]
    columns = max((len(indices_by_kind[k]) for k in kinds), default=1)
    figure, axes = plt.subplots(
        2 * max(len(kinds), 1), columns, figsize=(columns * 2.2, 4.2 * max(len(kinds), 1)),
        gridspec_kw={"height_ratios": [1, 0.9] * max(len(kinds), 1)}, squeeze=False,
    )
    for axis in axes.ravel():
        axis.axis("off")
    positions = np.arange(len(class_names))
    for row, kind in enumerate(kinds):
        for column, index in enumerate(indices_by_kind[kind]):
            image_axis, bar_axis = axes[2 * row, column], axes[2 * row + 1, column]
            predicted = int(np.argmax(probabilities[index]))
            image_axis.imshow(images[index], cmap="binary")
            image_axis.set_title(
                f"{kind}\ntrue {class_names[labels[index]]}, pred {class_names[predicted]}", fontsize=8
            )
            bar_axis.axis("on")
            colors = ["tab:gray"] * len(class_names)
            colors[labels[index]] = "tab:green"
            if predicted != labels[index]:
                colors[predicted] = "tab:red"
            bar_axis.bar(positions, probabilities[index], color=colors)
            bar_axis.set_ylim(0, 1)
            bar_axis.set_xticks(positions, class_names, fontsize=7, rotation=90 if len(class_names[0]) > 2 else 0)
            bar_axis.tick_params(axis="y", labelsize=7)
    figure.suptitle(title + "  (green: true class, red: wrong prediction)")
    figure.tight_layout()
    return save(figure, path)


def class_counts(counts: dict[str, list[int]], class_names, path):
    table = pd.DataFrame(counts, index=list(class_names)).rename_axis("class").reset_index()
    long = table.melt(id_vars="class", var_name="part", value_name="images")
    figure, axis = plt.subplots(figsize=(9, 4))
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
            group["width"], group["val_accuracy"], yerr=group["val_accuracy_sd"].fillna(0),
            marker="o", capsize=3, label=f"{depth} hidden layer{'s' if depth > 1 else ''}",
        )
        for _, row in group.iterrows():
            axis.annotate(row["experiment"], (row["width"], row["val_accuracy"]), fontsize=7,
                          textcoords="offset points", xytext=(4, 4))
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
    colors = ["tab:red" if gap > threshold else "tab:blue" for gap in ordered["generalization_gap"]]
    axis.barh(ordered["experiment"], ordered["generalization_gap"] * 100, color=colors)
    axis.axvline(threshold * 100, color="tab:red", linestyle="--", label=f"over-fitting flag ({threshold * 100:g} pp)")
    axis.set_xlabel("train accuracy - validation accuracy (percentage points)")
    axis.set_title("Generalization gap")
    axis.legend(loc="lower right")
    figure.tight_layout()
    return save(figure, path)


def accuracy_vs_params(table: pd.DataFrame, picked: str, path):
    figure, axis = plt.subplots(figsize=(8, 5))
    axis.scatter(table["params"], table["val_accuracy"] * 100, color="tab:blue")
    for _, row in table.iterrows():
        axis.annotate(row["experiment"], (row["params"], row["val_accuracy"] * 100), fontsize=7,
                      textcoords="offset points", xytext=(4, 3))
    chosen = table[table["experiment"] == picked]
    axis.scatter(chosen["params"], chosen["val_accuracy"] * 100, s=180, facecolors="none", edgecolors="tab:red",
                 linewidths=2, label=f"recommended: {picked}")
    axis.set_xscale("log")
    axis.set_xlabel("trainable parameters (log scale)")
    axis.set_ylabel("validation accuracy (%)")
    axis.set_title("Accuracy against model size")
    axis.legend(loc="lower right")
    figure.tight_layout()
    return save(figure, path)
