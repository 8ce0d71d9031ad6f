"""Recording during training: what it writes, that it never changes results, and resume after a
crash."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fmnist
from fmnist.runs import RunDir
from fmnist.training import trainer as trainer_module
from fmnist.training.record import learning_layers
from fmnist.training.trainer import load_checkpoint
from tests.conftest import tiny

CNN = {"name": "cnn", "filters": [8, 16], "dense": [32]}
ALL = {"filters": True, "histograms": True, "layers": True, "embeddings": True, "tensorboard": True}


def _without_seconds(metrics):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in metrics]


def _final_weights(run):
    return load_checkpoint(run.path / "ckpt" / "final.pt")["model"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    return fmnist.train(
        tiny(model=CNN, train={"epochs": 3}, record=ALL),
        out=tmp_path_factory.mktemp("rec"),
        verbose=False,
    )


def test_recording_does_not_change_training(recorded, tmp_path):
    plain = fmnist.train(tiny(model=CNN, train={"epochs": 3}), out=tmp_path, verbose=False)
    assert _without_seconds(plain.metrics) == _without_seconds(recorded.metrics)
    assert plain.summary["test_accuracy"] == recorded.summary["test_accuracy"]
    a, b = _final_weights(plain), _final_weights(recorded)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_records_hold_every_epoch_and_a_stratified_embedding(recorded):
    epochs, filters = RunDir(recorded.path).read_filters()
    assert epochs.tolist() == [0, 1, 2, 3]  # epoch 0 = the initial weights
    assert filters.shape == (4, 8, 3, 3)
    first_conv = _final_weights(recorded)["features.0.0.weight"]
    # final.pt holds the best epoch's weights (restore_best): the filters recorded at that epoch
    best = recorded.summary["best_epoch"]
    assert np.allclose(filters[best], first_conv.mean(1).numpy())
    hist = RunDir(recorded.path).read_histograms()
    assert [h["epoch"] for h in hist] == [0, 1, 2, 3]
    layer = hist[-1]["params"]["features.0.0.weight"]
    assert (
        sum(layer["counts"]) == first_conv.numel()
        and len(layer["edges"]) == len(layer["counts"]) + 1
    )
    layers = RunDir(recorded.path).read_layers()
    assert [row["epoch"] for row in layers] == [1, 2, 3]
    assert list(layers[0]["layers"]) == list(learning_layers(recorded.model))
    assert all(
        v["relative_change"] > 0 and v["grad_norm"] > 0 for v in layers[-1]["layers"].values()
    )
    emb = RunDir(recorded.path).read_embeddings()
    assert emb["features"].shape == (2000, 32)
    assert np.bincount(emb["labels"]).tolist() == [200] * 10


def test_tensorboard_shows_scalars_histograms_images_and_projector(recorded):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logdir = recorded.path / "tensorboard"
    events = EventAccumulator(
        str(logdir), size_guidance={"scalars": 0, "histograms": 0, "images": 0}
    ).Reload()
    tags = events.Tags()
    assert {"loss/train", "loss/val", "accuracy/train", "accuracy/val", "lr"} <= set(
        tags["scalars"]
    )
    assert [e.step for e in events.Scalars("accuracy/val")] == [1, 2, 3]
    assert [e.value for e in events.Scalars("accuracy/val")] == pytest.approx(
        [m["val_accuracy"] for m in recorded.metrics]
    )
    assert "weights/head.weight" in tags["histograms"] and "first_layer_filters" in tags["images"]
    assert {"layers/relative_change/head", "layers/grad_norm/head"} <= set(tags["scalars"])
    projector = (logdir / "projector_config.pbtxt").read_text()
    assert "test_features" in projector and "metadata.tsv" in projector


def test_resume_after_a_crash_between_records_and_checkpoint_rewrites_the_records(
    recorded, tmp_path, monkeypatch
):
    """Crash after epoch 2's records are written but before its checkpoint: the resumed run must
    redo epoch 2 and end with exactly the records of an uninterrupted run."""
    real_save = trainer_module.save_checkpoint

    def crash_at_epoch_2(state, path):
        if path.name == "last.pt" and state["epoch"] == 2:
            raise KeyboardInterrupt
        real_save(state, path)

    monkeypatch.setattr(trainer_module, "save_checkpoint", crash_at_epoch_2)
    run_dir = tmp_path / "crashed"
    with pytest.raises(KeyboardInterrupt):
        fmnist.train(
            tiny(model=CNN, train={"epochs": 3}, record=ALL), run_dir=run_dir, verbose=False
        )
    assert RunDir(run_dir).read_filters()[0].tolist() == [
        0,
        1,
        2,
    ]  # epoch 2 recorded, not checkpointed
    monkeypatch.setattr(trainer_module, "save_checkpoint", real_save)

    from fmnist.api import resume

    resumed = resume(run_dir, verbose=False)
    resumed_dir, recorded_dir = RunDir(resumed.path), RunDir(recorded.path)
    epochs, filters = resumed_dir.read_filters()
    assert epochs.tolist() == [0, 1, 2, 3]
    assert np.array_equal(filters, recorded_dir.read_filters()[1])
    assert [h["epoch"] for h in resumed_dir.read_histograms()] == [0, 1, 2, 3]
    assert resumed_dir.read_histograms() == recorded_dir.read_histograms()
    assert resumed_dir.read_layers() == recorded_dir.read_layers()
    assert _without_seconds(resumed.metrics) == _without_seconds(recorded.metrics)

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(resumed.path / "tensorboard")).Reload()
    assert [e.step for e in events.Scalars("accuracy/val")] == [
        1,
        2,
        3,
    ]  # the stale epoch-2 point is purged


def test_a_layers_change_is_its_distance_from_the_weights_an_epoch_before(tmp_path):
    """One epoch: the change recorded for each layer is ||W_1 - W_0|| / ||W_0||, W_0 the seeded
    initial weights and W_1 those the epoch ended with (last.pt); the report draws them."""
    from fmnist.models import create_model

    run = fmnist.train(
        tiny(train={"epochs": 1}, record={"layers": True}), out=tmp_path, verbose=False
    )
    torch.manual_seed(run.config.seed)
    start = create_model(run.config.model.name, **run.config.model.options).state_dict()
    end = load_checkpoint(run.path / "ckpt" / "last.pt")["model"]
    (row,) = RunDir(run.path).read_layers()
    for name, recorded in row["layers"].items():
        w0, w1 = start[f"{name}.weight"], end[f"{name}.weight"]
        assert recorded["relative_change"] == pytest.approx(
            ((w1 - w0).norm() / w0.norm()).item(), rel=1e-5
        )
    page = fmnist.api.report(run.path, out=tmp_path / "report").read_text()
    assert (
        "Does every layer learn?" in page and (tmp_path / "report" / "layer_learning.png").is_file()
    )
