"""Classification metrics for summaries and reports (scikit-learn does the counting), how far a
model's confidence can be trusted (calibration), and what a run's per-epoch metrics say about
overfitting (the learning curves draw it, the run report states it).

A classifier is calibrated when, of the images it labels with 80 % confidence, 80 % are right.
Modern nets trained with cross-entropy are usually over-confident (Guo et al. 2017, "On
Calibration of Modern Neural Networks"); label smoothing makes them under-confident. Three numbers
say how far off a run is, all on its one test evaluation:

- the expected calibration error (ECE): the top-class confidences sorted into 15 equal-width bins,
  the gap between each bin's accuracy and its mean confidence, weighted by the bin's share;
- the negative log-likelihood (NLL, the test loss): large when a wrong answer is confident;
- the Brier score: the mean squared distance between the probability vector and the one-hot truth.

Temperature scaling divides the logits by one number T fitted on the validation split (never the
test set) to minimise its NLL. It leaves every predicted class as it was (argmax(z / T) =
argmax(z) for T > 0) and changes only the confidences.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
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
    calibrated: tuple[float, np.ndarray] | None = None,
) -> dict:
    """The one writer of a run's summary.json (``run`` a RunDir), and of its test predictions.

    ``facts`` holds every key of SUMMARY_FACTS (and may add its own, e.g. a baseline's options).
    Given the test ``labels`` and the predicted ``probabilities`` of the run's one evaluation on
    the test set, the test scores and their calibration (``fmnist.metrics``) are counted here,
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


# -- calibration

ECE_BINS = 15
TEMPERATURE_RANGE = (0.05, 20.0)  # far beyond what a trained net needs; keeps the search bounded


def confidence_bins(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of ``bins`` equal-width bins of the top-class confidence (right edges included, as
    (0, 1/bins], ...): the number of images, their mean confidence and their accuracy (NaN for an
    empty bin)."""
    confidence = probabilities.max(1)
    correct = probabilities.argmax(1) == labels
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, confidence, bins) / counts
        accuracy = np.bincount(which, correct.astype(float), bins) / counts
    return counts, mean_confidence, accuracy


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> float:
    """ECE over equal-width bins of the top-class confidence (Naeini et al. 2015, Guo et al.
    2017)."""
    counts, confidence, accuracy = confidence_bins(probabilities, labels, bins)
    filled = counts > 0
    gaps = np.abs(accuracy[filled] - confidence[filled])
    return float((counts[filled] * gaps).sum() / counts.sum())


def brier_score(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean over images of the squared distance to the one-hot truth (0 perfect, 2 worst)."""
    truth = np.eye(probabilities.shape[1])[labels]
    return float(((probabilities - truth) ** 2).sum(1).mean())


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    true_class = probabilities[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(true_class, 1e-12, 1)).mean())


def calibration_scores(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """ECE, NLL and Brier score of predicted ``probabilities`` against ``labels``."""
    return {
        "ece": expected_calibration_error(probabilities, labels),
        "nll": negative_log_likelihood(probabilities, labels),
        "brier": brier_score(probabilities, labels),
    }


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T that minimises the NLL of softmax(logits / T) on these (validation)
    logits: one parameter, a bounded search over log T."""
    logits = np.asarray(logits, dtype=np.float64)

    def nll(log_t: float) -> float:
        return float(
            -log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(labels)), labels].mean()
        )

    low, high = np.log(TEMPERATURE_RANGE)
    found = minimize_scalar(nll, bounds=(low, high), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(found.x))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return np.exp(log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1))
