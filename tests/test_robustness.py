"""Robustness to corruptions: deterministic, graded corruptions and a run's accuracy under them."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fmnist
from fmnist import api
from fmnist.data.corruptions import CORRUPTIONS, SEVERITIES, corrupt
from fmnist.data.sources import load_arrays
from fmnist.errors import ConfigError, RunDirError
from tests.conftest import fmnist_cli, tiny

IMAGES = 300


@pytest.fixture(scope="module")
def test_images() -> np.ndarray:
    return load_arrays()[0]["test_images"][:IMAGES]


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_a_corruption_is_deterministic_changes_the_image_and_grows_with_severity(name, test_images):
    levels = [corrupt(test_images, name, severity) for severity in range(1, 6)]
    again = corrupt(test_images, name, 3)
    assert again.dtype == np.uint8 and again.shape == test_images.shape
    assert np.array_equal(again, levels[2])  # the same seed gives the same images
    change = [np.abs(level.astype(float) - test_images).mean() for level in levels]
    assert change[0] > 0.5  # severity 1 already changes the images (mean grey levels of 0-255)
    assert all(np.diff(change) > 0), f"{name}: {change}"
    assert len(SEVERITIES[name]) == 5


def test_another_seed_draws_other_noise(test_images):
    assert not np.array_equal(
        corrupt(test_images, "shot_noise", 3), corrupt(test_images, "shot_noise", 3, seed=1)
    )


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    mlp = fmnist.train(tiny(), out=out, verbose=False)
    softmax = fmnist.train(tiny(model={"name": "softmax"}), out=out, verbose=False)
    return mlp, softmax


def test_the_clean_accuracy_is_the_runs_own_and_ce_is_against_the_reference(two_runs):
    mlp, softmax = two_runs
    result = api.robustness(mlp.path, reference=softmax.path, images=IMAGES)
    labels = load_arrays()[0]["test_labels"][:IMAGES]
    kept = np.loadtxt(mlp.path / "test_predictions.txt")[:IMAGES]
    assert result.clean == pytest.approx((kept == labels).mean())
    assert set(result.accuracy) == set(CORRUPTIONS)
    # The reference was measured first, into its own folder; CE is errors over its errors.
    reference = json.loads((softmax.path / "robustness" / "robustness.json").read_text())
    errors = sum(1 - a for a in result.accuracy["rotate"])
    assert result.corruption_error["rotate"] == pytest.approx(
        errors / sum(1 - a for a in reference["accuracy"]["rotate"])
    )
    recorded = json.loads((mlp.path / "robustness" / "robustness.json").read_text())
    assert recorded["mean_corruption_error"] == pytest.approx(result.mean_corruption_error)
    assert recorded["reference"]["accuracy"] == reference["accuracy"]  # the CE recounts from it
    assert recorded["test_images"] == IMAGES and recorded["seed"] == 2019
    for picture in ("heatmap.png", "corruptions.png"):
        assert (mlp.path / "robustness" / picture).stat().st_size > 20_000
    # A run against itself has a CE of 1 everywhere.
    itself = api.robustness(softmax.path, reference=softmax.path, images=IMAGES)
    assert set(np.round(list(itself.corruption_error.values()), 12)) == {1.0}


def test_the_command_prints_the_table_and_refuses_bad_input_in_one_line(two_runs):
    mlp, _ = two_runs
    done = fmnist_cli("robustness", mlp.path, "--images", 50)
    assert done.returncode == 0, done.stderr
    assert "rotate" in done.stdout and "50 test images: clean" in done.stdout
    too_many = fmnist_cli("robustness", mlp.path, "--images", 0)
    assert too_many.returncode == 2 and too_many.stderr.count("\n") == 1
    with pytest.raises(ConfigError, match="1 to 10000"):
        api.robustness(mlp.path, images=20_000)


def test_a_wrong_reference_is_refused_before_any_measuring(two_runs, tmp_path, monkeypatch):
    mlp, _ = two_runs

    def measure(*args):
        raise AssertionError("measured before the reference was checked")

    monkeypatch.setattr("fmnist.analysis.robustness.measure", measure)
    with pytest.raises(RunDirError, match="is not an fmnist run directory"):
        api.robustness(mlp.path, reference=tmp_path / "no-such-run", images=IMAGES)


def test_the_run_report_shows_a_measured_robustness(two_runs, tmp_path):
    mlp, _ = two_runs
    api.robustness(mlp.path, images=IMAGES)
    page = api.report(mlp.path, out=tmp_path).read_text()
    assert "Robustness to corruptions" in page and f"{IMAGES:,} test images" in page


def test_the_robustness_table_lists_measured_runs_most_robust_first(two_runs):
    mlp, softmax = two_runs
    api.robustness(mlp.path, reference=softmax.path, images=IMAGES)
    rows = [line for line in api.robustness_table(mlp.path.parent).splitlines()[2:]]
    measured = {row.split("|")[1].strip(): float(row.split("|")[5]) for row in rows}
    assert set(measured) == {mlp.path.name, softmax.path.name}
    assert list(measured.values()) == sorted(measured.values(), reverse=True)
    done = fmnist_cli("table", mlp.path.parent, "--robustness")
    assert done.returncode == 0 and "under corruption %" in done.stdout
