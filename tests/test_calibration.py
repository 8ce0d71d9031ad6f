"""Calibrated confidence: ECE, NLL and Brier on test; temperature scaling fitted on validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fmnist
from fmnist import api
from fmnist.data import DeviceSplits
from fmnist.data.sources import load_arrays
from fmnist.metrics import (
    brier_score,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    softmax,
)
from fmnist.training.record import split_logits
from tests.conftest import tiny


def _top_label_probabilities(confidence: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """10-class probability rows whose top class is ``predicted`` at ``confidence``."""
    rows = np.repeat(((1 - confidence) / 9)[:, None], 10, axis=1)
    rows[np.arange(len(rows)), predicted] = confidence
    return rows


def _synthetic(gap: float, n: int = 100_000, seed: int = 0):
    """Confidences in (0.2, 1], each right with probability confidence - gap: a model
    over-confident by ``gap`` (0: calibrated)."""
    rng = np.random.default_rng(seed)
    confidence = rng.uniform(0.2, 1.0, n)
    correct = rng.uniform(size=n) < confidence - gap
    labels = rng.integers(0, 10, n)
    predicted = np.where(correct, labels, (labels + rng.integers(1, 10, n)) % 10)
    return _top_label_probabilities(confidence, predicted), labels


def _ece_by_histogram(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE computed another way: numpy's histogram over the bin edges, bin by bin."""
    confidence, correct = probabilities.max(1), probabilities.argmax(1) == labels
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.sum() * abs(correct[inside].mean() - confidence[inside].mean())
    return total / len(labels)


@pytest.mark.parametrize("gap", [0.0, 0.1, 0.2])
def test_ece_finds_the_known_miscalibration_and_agrees_with_an_independent_count(gap):
    probabilities, labels = _synthetic(gap)
    ece = expected_calibration_error(probabilities, labels)
    assert ece == pytest.approx(_ece_by_histogram(probabilities, labels), abs=1e-12)
    assert ece == pytest.approx(gap, abs=0.01)


def test_nll_and_brier_of_certain_answers():
    labels = np.array([0, 1])
    right = np.eye(10)[labels]
    assert brier_score(right, labels) == 0 and negative_log_likelihood(right, labels) == 0
    assert brier_score(np.eye(10)[[1, 0]], labels) == 2  # certain and wrong: the worst


def test_temperature_recovers_the_scale_of_over_confident_logits():
    """Labels drawn from softmax(z), the model reporting 3z: the fitted temperature is 3."""
    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, (50_000, 10))
    labels = np.array([rng.choice(10, p=p) for p in softmax(z)])
    assert fit_temperature(3 * z, labels) == pytest.approx(3, rel=0.03)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    config = tiny(train={"epochs": 4}, data={"train_subset": 2000, "val_size": 1000})
    return fmnist.train(config, out=tmp_path_factory.mktemp("runs"), verbose=False)


def test_a_run_fits_its_temperature_on_validation_and_records_calibration(trained):
    calibration = trained.summary["calibration"]
    predictor = trained.predictor
    data = DeviceSplits(trained.config.data)
    logits = split_logits(predictor.module, data, "val", trained.config.train, "fp32").numpy()
    labels = data.labels["val"].numpy()
    temperature = calibration["temperature"]
    assert predictor.temperature == temperature != 1
    # The fitted temperature lowers the validation NLL, and changes no predicted class.
    assert negative_log_likelihood(softmax(logits, temperature), labels) < (
        negative_log_likelihood(softmax(logits), labels)
    )
    scaled = predictor.predict(load_arrays()[0]["test_images"])
    assert (scaled.argmax(1) == np.loadtxt(trained.path / "test_predictions.txt")).all()
    assert calibration["bins"] == 15 and 0 <= calibration["ece"] < 1
    assert calibration["nll"] == pytest.approx(trained.summary["test_loss"], rel=1e-4)
    after = calibration["after_scaling"]
    assert after["ece"] == pytest.approx(
        expected_calibration_error(scaled, data.labels["test"].numpy()), abs=1e-6
    )


def test_a_run_without_a_validation_split_has_no_temperature(tmp_path):
    run = fmnist.train(tiny(data={"val_size": 0}), out=tmp_path, verbose=False)
    assert run.summary["calibration"]["temperature"] is None
    assert "after_scaling" not in run.summary["calibration"]
    assert run.predictor.temperature == 1.0
    assert torch.load(run.path / "ckpt" / "final.pt", weights_only=True)["temperature"] is None


def test_the_report_shows_reliability_and_ece_before_and_after_scaling(trained, tmp_path):
    page = api.report(trained.path, out=tmp_path).read_text()
    calibration = trained.summary["calibration"]
    assert (tmp_path / "reliability.png").stat().st_size > 10_000
    assert f"{calibration['ece']:.2%}" in page
    assert f"{calibration['after_scaling']['ece']:.2%}" in page
    assert f"T = {calibration['temperature']:.3f}" in page


def test_the_table_has_the_mean_ece_of_its_runs(trained, tmp_path):
    (row,) = api.table(trained.path.parent, output=tmp_path / "table").rows
    calibration = trained.summary["calibration"]
    assert row["test_ece_mean"] == pytest.approx(100 * calibration["ece"])
    assert row["test_ece_scaled_mean"] == pytest.approx(100 * calibration["after_scaling"]["ece"])
