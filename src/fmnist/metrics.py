"""Classification metrics for summaries and reports (scikit-learn does the counting)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

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
) -> dict:
    """The one writer of a run's summary.json (``run`` a RunDir), and of its test predictions.

    ``facts`` holds every key of SUMMARY_FACTS (and may add its own, e.g. a baseline's options).
    Given the test ``labels`` and the predicted ``probabilities`` of the run's one evaluation on
    the test set, the test scores are counted here, the same way for every kind of run, and the
    predictions written; ``test_loss`` defaults to the mean negative log of the true class's
    probability. Without them (a search trial, which never sees the test set) test_accuracy is
    None.
    """
    missing = [key for key in SUMMARY_FACTS if key not in facts]
    if missing:
        raise ValueError(f"summary facts missing: {missing}")  # a programming error
    scores: dict = {"test_accuracy": None}
    if probabilities is not None:
        counted = classification_summary(labels, probabilities)
        if test_loss is None:
            true_class = probabilities[np.arange(len(labels)), labels]
            test_loss = float(-np.log(np.clip(true_class, 1e-12, 1)).mean())
        scores = {
            "test_accuracy": counted["accuracy"],
            "test_loss": test_loss,
            "per_class": counted["per_class"],
            "confusion_matrix": counted["confusion_matrix"],
        }
        run.write_predictions(labels, probabilities.argmax(1), probabilities)
    head = {key: facts[key] for key in ("name", "model", "seed")}
    summary = {**head, **scores, **{k: v for k, v in facts.items() if k not in head}}
    run.write_summary(summary)
    return summary
