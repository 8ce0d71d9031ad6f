"""Attribution maps: Integrated Gradients, saliency, Grad-CAM and occlusion of 28x28 images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import fmnist
from fmnist import api
from fmnist.data.sources import load_arrays
from fmnist.explain import METHODS, explain
from tests.conftest import ROOT, fmnist_cli, tiny

CNN = {"name": "cnn", "filters": [8, 16], "dense": [32]}


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    return fmnist.train(tiny(model=CNN), out=tmp_path_factory.mktemp("runs"), verbose=False)


@pytest.fixture(scope="module")
def real_images() -> np.ndarray:
    return load_arrays()[0]["test_images"][:4]


def _inputs(run, pixels):
    predictor = run.predictor
    return predictor, predictor.inputs(pixels), (0.0 - predictor.mean) / predictor.std


def test_integrated_gradients_add_up_to_the_logit_gained_from_black(cnn_run, real_images):
    predictor, x, black = _inputs(cnn_run, real_images)
    targets = predictor.predict(real_images).argmax(1).tolist()
    explained = explain(predictor.module, x, targets, black=black)
    with torch.no_grad():
        gained = predictor.module(x) - predictor.module(torch.full_like(x, black))
    for i, e in enumerate(explained):
        total = float(e.maps["integrated_gradients"].sum())
        expected = float(gained[i, targets[i]])
        # captum's delta is the gap between the two, and the gap is small
        assert total - expected == pytest.approx(e.ig_delta, abs=1e-4)
        assert abs(e.ig_delta) < 0.02 * max(1.0, abs(expected))


def test_every_map_has_the_inputs_shape_and_varies_over_a_real_image(cnn_run, real_images):
    predictor, x, black = _inputs(cnn_run, real_images)
    target = predictor.predict(real_images[:1]).argmax(1).tolist()
    (e,) = explain(predictor.module, x[:1], target, black=black)
    for method in METHODS:
        assert e.maps[method].shape == (28, 28)
        assert np.ptp(e.maps[method]) > 0, method


class RightHalfOnly(nn.Module):
    """A model that ignores the left half of the image: its columns 0-13 are multiplied by 0."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.head = nn.Linear(4 * 28 * 28, 10)
        mask = torch.ones(1, 1, 28, 28)
        mask[..., :14] = 0
        self.register_buffer("mask", mask)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x * self.mask)).flatten(1))


def test_a_model_that_ignores_the_left_half_gets_no_attribution_there(real_images):
    x = (torch.from_numpy(real_images[:2]).float()[:, None] / 255 - 0.29) / 0.35
    black = (0 - 0.29) / 0.35
    for e in explain(RightHalfOnly(), x, [0, 3], black=black):
        assert np.abs(e.maps["integrated_gradients"][:, :14]).max() == 0
        assert np.abs(e.maps["saliency"][:, :14]).max() == 0
        assert np.abs(e.maps["integrated_gradients"][:, 14:]).max() > 0
        # a 4x4 patch at stride 2 starting left of column 11 never covers the right half
        assert np.abs(e.maps["occlusion"][:, :11]).max() == 0


def test_explain_draws_photos_and_test_images_and_an_mlp_has_no_grad_cam(cnn_run, tmp_path):
    done = fmnist_cli("explain", cnn_run.path, "--test", 3, "--test", 7, "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("IG completeness gap") == 2 and "test image 3 (" in done.stdout
    assert (tmp_path / "explain.png").stat().st_size > 30_000
    bad = fmnist_cli("explain", cnn_run.path, "--test", 10_000)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "0 to 9999" in bad.stderr
    mlp = fmnist.train(tiny(), out=tmp_path / "runs", verbose=False)
    predictor = mlp.predictor
    array = tmp_path / "one.npy"
    np.save(array, load_arrays()[0]["test_images"][5])
    result = api.explain(mlp.path, [array], out=tmp_path / "mlp")
    assert [name for name, _, _ in result.images] == [str(array)]
    (e,) = explain(predictor.module, predictor.inputs(np.load(array)[None]), [0], black=-0.8)
    assert e.maps["grad_cam"] is None and e.maps["saliency"] is not None


def test_a_bad_image_or_a_run_without_weights_is_one_line_that_says_why(cnn_run, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    bad = fmnist_cli("explain", cnn_run.path, text)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert bad.stderr.count("fix:") == 1 and "allowed: .npy, .png" in bad.stderr
    # A committed results run keeps its records, not its weights: say so, and how to get them.
    kept = ROOT / "results" / "runs" / "s000_cnn" / "seed0"
    done = fmnist_cli("explain", kept)
    assert done.returncode == 2 and "finished but its weights were not kept" in done.stderr
    assert f"fmnist train --config {kept / 'config.yaml'}" in done.stderr
