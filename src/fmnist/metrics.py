"""Classification metrics for summaries and reports (scikit-learn does the counting), and what a
run's per-epoch metrics say about overfitting (the learning curves draw it, the run report states
it)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from fmnist.calibration import ECE_BINS, calibration_scores, negative_log_likelihood
from fmnist.data.loader import CLASS_NAMES


def classification_summary(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix (rows: true
    class)."""
    predicted = probabilities.argmax(1)
    classes = list(range(len(CLASS_NAMES)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0
    )
    return {
        "accuracy": float((predicted == labels).mean()),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(CLASS_NAMES, precision, recall, f1, support)
        },
        "confusion_matrix": confusion_matrix(labels, predicted, labels=classes).tolist(),
    }


# What every summary.json states about its run, nets and scikit-learn baselines alike.
SUMMARY_FACTS = (
    "name", "model", "seed", "val_accuracy", "best_epoch", "epochs_run", "train_seconds",
    "params", "macs", "train_images", "val_images", "device", "precision",
)  # fmt: skip


def write_summary(
    run,
    facts: dict,
    *,
    labels: np.ndarray | None = None,
    probabilities: np.ndarray | None = None,
    test_loss: float | None = None,
    calibrated: tuple[float, np.ndarray] | None = None,
) -> dict:
    """The one writer of a run's summary.json (``run`` a RunDir), and of its test predictions.

    ``facts`` holds every key of SUMMARY_FACTS (and may add its own, e.g. a baseline's options).
    Given the test ``labels`` and the predicted ``probabilities`` of the run's one evaluation on
    the test set, the test scores and their calibration (``fmnist.calibration``) are counted here,
    the same way for every kind of run, and the predictions written; ``test_loss`` defaults to
    the mean negative log of the true class's probability. ``calibrated``, a temperature fitted
    on the validation split and the test probabilities scaled by it, adds their calibration.
    Without them (a search trial, which never sees the test set) test_accuracy is None.
    """
    missing = [key for key in SUMMARY_FACTS if key not in facts]
    if missing:
        raise ValueError(f"summary facts missing: {missing}")  # a programming error
    scores: dict = {"test_accuracy": None}
    if probabilities is not None:
        counted = classification_summary(labels, probabilities)
        scores = {
            "test_accuracy": counted["accuracy"],
            "test_loss": negative_log_likelihood(probabilities, labels)
            if test_loss is None
            else test_loss,
            "per_class": counted["per_class"],
            "confusion_matrix": counted["confusion_matrix"],
            "calibration": _calibration(labels, probabilities, calibrated),
        }
        run.write_predictions(labels, probabilities.argmax(1), probabilities)
    head = {key: facts[key] for key in ("name", "model", "seed")}
    summary = {**head, **scores, **{k: v for k, v in facts.items() if k not in head}}
    run.write_summary(summary)
    return summary


def _calibration(
    labels: np.ndarray, probabilities: np.ndarray, calibrated: tuple[float, np.ndarray] | None
) -> dict:
    """The test set's ECE, NLL and Brier score, and the same after temperature scaling."""
    block = {"bins": ECE_BINS, **calibration_scores(probabilities, labels), "temperature": None}
    if calibrated is not None:
        block["temperature"] = calibrated[0]
        block["after_scaling"] = calibration_scores(calibrated[1], labels)
    return block


# val loss this far (relative) above its minimum at the end counts as overfitting
OVERFIT_MARGIN = 0.02


def overfitting_start(metrics: list[dict[str, Any]]) -> int | None:
    """The epoch after which the model overfits, or None.

    Rule: the epoch of minimal validation loss, if by the last epoch validation loss has risen more
    than OVERFIT_MARGIN above that minimum while training loss kept falling.
    """
    val = [m.get("val_loss") for m in metrics]
    if len(metrics) < 3 or any(v is None for v in val):
        return None
    best = int(np.argmin(val))
    rising = val[-1] > val[best] * (1 + OVERFIT_MARGIN)
    still_learning = metrics[-1]["train_loss"] < metrics[best]["train_loss"]
    return metrics[best]["epoch"] if best < len(metrics) - 1 and rising and still_learning else None
