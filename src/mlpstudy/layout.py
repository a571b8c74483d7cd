"""File names shared by the workflow rules and the library. Light to import: the Snakefile reads it."""

# One training run: results/experiments/<name>/seed<k>/
RUN_FILES = {
    "model": "model.keras",
    "history": "history.csv",
    "metrics": "metrics.json",
    "predictions": "predictions.npz",
}
# Per-experiment notebook figures (results/experiments/<name>/figures/<key>.png) and their report titles.
MODEL_FIGURES = {
    "learning_curves": "Learning curves",
    "confusion_matrix": "Confusion matrix (test set)",
    "misclassified": "Misclassified test images",
    "confused_pair": "Most-confused pair",
    "uncertain_predictions": "Least certain predictions",
}
# Data overview figures (results/data/figures/<key>.png).
DATA_FIGURES = {"class_counts": "Images per class", "sample_grid": "Sample images", "mean_images": "Mean images"}
# results/comparison/figures/
COMPARISON_FIGURES = {
    "width_depth": "accuracy_by_width_depth.png",
    "gap": "generalization_gap.png",
    "pareto": "accuracy_vs_cost.png",
    "forest": "confidence_intervals.png",
    "probability_best": "probability_best.png",
    "per_class": "per_class_accuracy.png",
    "learning_curves": "learning_curves_pick_vs_most_accurate.png",
    "errors": "error_analysis.png",
}
# results/comparison/ besides the figures.
COMPARISON_FILES = {
    "runs": "runs.csv",
    "selection": "selection.json",
    "mcnemar": "mcnemar.csv",
    "probability_best": "probability_best.csv",
    "facts": "facts.json",
}
