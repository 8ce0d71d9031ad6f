"""How far a model's confidence can be trusted, and temperature scaling to make it trustworthy.

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

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

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
