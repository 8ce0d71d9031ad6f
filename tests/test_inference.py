"""A checkpoint on its own: final.pt carries its config, normalisation and class names."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
import torch

import fmnist
from fmnist.data import CLASS_NAMES, load_arrays
from fmnist.errors import RunDirError
from tests.conftest import tiny


def test_a_checkpoint_alone_predicts_what_its_run_recorded(tmp_path, real_data_dir):
    """Copied away from its run directory, final.pt predicts every test image as the run's
    predictions.csv says."""
    model = {"name": "cnn", "filters": [4, 8], "dense": [16], "batch_norm": True}
    run = fmnist.train(
        tiny(model=model, train={"epochs": 1, "tta_flip": True, "channels_last": True}),
        out=tmp_path,
        verbose=False,
    )
    with open(run.path / "predictions.csv") as f:
        recorded = np.array([int(row["predicted"]) for row in csv.DictReader(f)])
    alone = tmp_path / "elsewhere" / "model.pt"
    alone.parent.mkdir()
    shutil.copy(run.path / "ckpt" / "final.pt", alone)
    shutil.rmtree(run.path)

    predictor = fmnist.load(alone, device="cpu")
    assert predictor.class_names == CLASS_NAMES and predictor.config.train.tta_flip
    predicted = predictor.predict(load_arrays(real_data_dir)[0]["test_images"]).argmax(1)
    assert len(predicted) == len(recorded) == 10_000
    np.testing.assert_array_equal(predicted, recorded)


def test_a_checkpoint_without_its_config_is_refused_with_the_way_out(tmp_path):
    weights_only = tmp_path / "old.pt"
    torch.save({"model": {}, "mean": 0.0, "std": 1.0}, weights_only)
    with pytest.raises(
        RunDirError, match=r"holds weights without their config .* fmnist.load_run\(RUN_DIR\)"
    ):
        fmnist.load(weights_only)


def test_onnx_export_takes_uint8_images_of_any_batch_and_matches_pytorch(tmp_path, real_data_dir):
    import json

    import onnx
    import onnxruntime

    from fmnist import api

    run = fmnist.train(
        tiny(train={"epochs": 1, "batch_size": 100, "tta_flip": True}), out=tmp_path, verbose=False
    )
    report = api.export(run.path, output=tmp_path / "model.onnx")
    assert report.images == 1000 and report.agreement == 1.0 and report.max_abs_difference < 1e-4
    session = onnxruntime.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    images = load_arrays(real_data_dir)[0]["test_images"][:7]
    for batch in (images[:1], images):  # the batch size is free
        probabilities = session.run(None, {"images": batch})[0]
        assert probabilities.shape == (len(batch), 10)
        np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-5)
    # The run's own predictor (same weights; it may compute in bf16) picks the same classes.
    assert (probabilities.argmax(1) == run.predict(images).argmax(1)).mean() >= 6 / 7
    metadata = {p.key: p.value for p in onnx.load(str(report.path)).metadata_props}
    assert json.loads(metadata["class_names"])[0] == "T-shirt/top"
    assert json.loads(metadata["fmnist_config"])["train"]["tta_flip"] is True
