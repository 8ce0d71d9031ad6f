"""Data files are verified before use; bad files give one clear error; splits and batches behave."""

from __future__ import annotations

import functools
import gzip
import http.server
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from fmnist.config import AugmentConfig, DataConfig
from fmnist.data import CLASS_NAMES, DeviceSplits, FashionMNIST, load_arrays, sources
from fmnist.data.loader import augment, holdout_split, kfold_splits
from fmnist.data.sources import download
from fmnist.errors import ConfigError, DataError
from tests.conftest import fmnist_cli


def _rewrite(path, change):
    raw = bytearray(gzip.decompress(path.read_bytes()))
    change(raw)
    path.write_bytes(gzip.compress(bytes(raw)))


def test_real_files_verify(real_data_dir):
    arrays, source = load_arrays(real_data_dir)
    assert arrays["train_images"].shape == (60000, 28, 28)
    assert arrays["test_labels"].shape == (10000,)
    assert np.bincount(arrays["train_labels"]).tolist() == [6000] * 10
    assert len(CLASS_NAMES) == 10 and source == real_data_dir


def test_raw_uncompressed_files_are_accepted(data_copy):
    for gz in data_copy.glob("*.gz"):
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    arrays, _ = load_arrays(data_copy)
    assert arrays["train_labels"].shape == (60000,)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "t10k-labels-idx1-ubyte.gz").unlink(), "missing"),
        (
            lambda d: (d / "train-labels-idx1-ubyte.gz").write_bytes(
                (d / "train-labels-idx1-ubyte.gz").read_bytes()[:5000]
            ),
            "truncated",
        ),
        (
            lambda d: _rewrite(
                d / "t10k-labels-idx1-ubyte.gz", lambda raw: raw.__delitem__(slice(-100, None))
            ),
            "truncated",
        ),
        (
            lambda d: _rewrite(
                d / "t10k-images-idx3-ubyte.gz", lambda raw: raw.__setitem__(3, 0x01)
            ),
            "wrong magic",
        ),
        (
            lambda d: _rewrite(
                d / "t10k-images-idx3-ubyte.gz",
                lambda raw: raw.__setitem__(5000, (raw[5000] + 1) % 256),
            ),
            "wrong checksum",
        ),
        (
            lambda d: _rewrite(
                d / "t10k-labels-idx1-ubyte.gz", lambda raw: raw.__setitem__(100, 42)
            ),
            "labels out of range",
        ),
    ],
    ids=[
        "missing",
        "truncated-gzip",
        "truncated-content",
        "wrong-magic",
        "wrong-checksum",
        "label-range",
    ],
)
def test_bad_files_give_one_clear_error(data_copy, damage, message):
    damage(data_copy)
    with pytest.raises(DataError) as info:
        load_arrays(data_copy)
    text = str(info.value)
    assert message in text and str(data_copy) in text and "\n" not in text


def test_cli_refuses_bad_named_dir_with_exit_2_and_no_traceback(data_copy):
    _rewrite(
        data_copy / "train-labels-idx1-ubyte.gz",
        lambda raw: raw.__setitem__(20, (raw[20] + 1) % 10),
    )
    result = subprocess.run(
        [sys.executable, "-m", "fmnist", "data", "verify", "--data-dir", str(data_copy)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and "wrong checksum" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_named_dir_is_never_silently_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="does not exist"):
        load_arrays()


def _serve(directory):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_download_from_a_mirror_is_verified(tmp_path, data_copy):
    server = _serve(data_copy)
    try:
        download(tmp_path / "cache", mirror=f"http://127.0.0.1:{server.server_port}/")
    finally:
        server.shutdown()
    arrays, _ = load_arrays(tmp_path / "cache")
    assert arrays["test_images"].shape == (10000, 28, 28)


def test_download_of_wrong_content_is_refused_and_not_kept(tmp_path, data_copy):
    _rewrite(
        data_copy / "t10k-images-idx3-ubyte.gz",
        lambda raw: raw.__setitem__(5000, (raw[5000] + 1) % 256),
    )
    server = _serve(data_copy)
    try:
        with pytest.raises(DataError, match="wrong checksum"):
            download(tmp_path / "cache", mirror=f"http://127.0.0.1:{server.server_port}/")
    finally:
        server.shutdown()
    assert not (tmp_path / "cache" / "t10k-images-idx3-ubyte.gz").exists()
    assert not list((tmp_path / "cache").glob("*.part"))


def test_holdout_is_stratified_disjoint_and_seeded(real_data_dir):
    labels = load_arrays(real_data_dir)[0]["train_labels"]
    train, val = holdout_split(labels, 5000, seed=0)
    assert len(val) == 5000 and len(train) == 55000
    assert not set(train) & set(val)
    assert np.bincount(labels[val]).tolist() == [500] * 10
    assert np.array_equal(val, holdout_split(labels, 5000, seed=0)[1])
    assert not np.array_equal(val, holdout_split(labels, 5000, seed=1)[1])


def test_kfold_splits_partition_the_training_set_stratified(real_data_dir):
    labels = load_arrays(real_data_dir)[0]["train_labels"]
    folds = kfold_splits(labels, 5, seed=0)
    vals = [set(val) for _, val in folds]
    assert sum(len(v) for v in vals) == 60000 and len(set().union(*vals)) == 60000
    for train, val in folds:
        assert not set(train) & set(val)
        assert np.bincount(labels[val]).tolist() == [1200] * 10


def test_dataset_normalises_with_training_statistics_only(real_data_dir):
    data = DeviceSplits(DataConfig(data_dir=real_data_dir, val_size=5000), "cpu")
    train01 = data.images["train"].float() / 255
    assert data.mean == pytest.approx(train01.mean().item(), abs=1e-6)
    x, _ = next(data.batches("train", 55000))
    assert x.mean().item() == pytest.approx(0, abs=1e-3) and x.std().item() == pytest.approx(
        1, abs=1e-3
    )


def test_training_batches_are_shuffled_seeded_and_cover_the_split(real_data_dir):
    data = DeviceSplits(DataConfig(data_dir=real_data_dir, train_subset=1000, val_size=500), "cpu")
    first = torch.cat(
        [y for _, y in data.batches("train", 100, gen=torch.Generator().manual_seed(1))]
    )
    again = torch.cat(
        [y for _, y in data.batches("train", 100, gen=torch.Generator().manual_seed(1))]
    )
    assert torch.equal(first, again)
    assert sorted(first.tolist()) == sorted(data.labels["train"].tolist())
    assert not torch.equal(first, data.labels["train"])


def _batch(real_data_dir, n=64):
    images = torch.from_numpy(load_arrays(real_data_dir)[0]["train_images"][:n].copy())
    return images.unsqueeze(1).float() / 255


def test_each_augmentation_changes_images_within_range(real_data_dir):
    x = _batch(real_data_dir)
    for field in (
        "hflip",
        "shift",
        "rotate",
        "shear",
        "zoom",
        "noise",
        "erase",
        "brightness",
        "contrast",
    ):
        value = {
            "hflip": True,
            "shift": 3,
            "rotate": 20.0,
            "shear": 15.0,
            "zoom": 0.2,
            "noise": 0.1,
            "erase": 1.0,
            "brightness": 0.3,
            "contrast": 0.3,
        }[field]
        out = augment(x.clone(), AugmentConfig(**{field: value}), torch.Generator().manual_seed(0))
        assert out.shape == x.shape, field
        assert not torch.equal(out, x), field
        assert out.min() >= 0 and out.max() <= 1, field


def test_flip_and_shift_are_exact(real_data_dir):
    x = _batch(real_data_dir)
    flipped = augment(x, AugmentConfig(hflip=True), torch.Generator().manual_seed(0))
    for a, b in zip(x, flipped):
        assert torch.equal(b, a) or torch.equal(b, a.flip(-1))
    shifted = augment(x, AugmentConfig(shift=2), torch.Generator().manual_seed(0))
    assert torch.allclose(
        shifted.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=0.35
    )  # a 2-px shift crops at most a border
    assert set(torch.unique(shifted).tolist()) <= set(
        torch.unique(x).tolist()
    )  # integer shift: no interpolated values


def test_augmentation_is_reproducible_for_a_seed(real_data_dir):
    x = _batch(real_data_dir)
    cfg = AugmentConfig(hflip=True, shift=2, rotate=10, erase=0.5, noise=0.05)
    a = augment(x, cfg, torch.Generator().manual_seed(3))
    b = augment(x, cfg, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


# -- the data in other libraries' layouts, and as a torch Dataset ----------------------------------
def _torchvision_layout(data_copy, root):
    """ROOT/FashionMNIST/raw/ as ``torchvision.datasets.FashionMNIST(ROOT, download=True)`` leaves
    it: each .gz beside its extracted file."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in data_copy.glob("*.gz"):
        (raw / gz.name).write_bytes(gz.read_bytes())
        (raw / gz.stem).write_bytes(gzip.decompress(gz.read_bytes()))
    return raw


def test_torchvisions_folder_is_accepted_by_its_root_or_its_class_folder(data_copy, tmp_path):
    raw = _torchvision_layout(data_copy, tmp_path / "torchvision-data")
    for named in (tmp_path / "torchvision-data", tmp_path / "torchvision-data" / "FashionMNIST"):
        arrays, source = load_arrays(named)
        assert source == raw and arrays["test_labels"].shape == (10000,)


def test_cli_trains_from_torchvisions_root(data_copy, tmp_path):
    _torchvision_layout(data_copy, tmp_path / "tv")
    result = fmnist_cli(
        "train", "--data-dir", str(tmp_path / "tv"), "--out", str(tmp_path / "runs"), "-q",
        "--set", "data.train_subset=500", "--set", "data.val_size=200",
        "--set", "train.epochs=1", "--set", "model.name=softmax",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_keras_cache_is_found_without_a_download(data_copy, tmp_path, monkeypatch):
    """keras.datasets.fashion_mnist.load_data() keeps the four .gz files in
    ~/.keras/datasets/fashion-mnist; with no Debian package and no fmnist cache they are used."""
    keras = tmp_path / "keras-home" / "datasets" / "fashion-mnist"
    keras.mkdir(parents=True)
    for gz in data_copy.glob("*.gz"):
        (keras / gz.name).write_bytes(gz.read_bytes())
    monkeypatch.setattr(sources, "DEBIAN_DIR", tmp_path / "no-debian-package")
    monkeypatch.setenv("FMNIST_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.delenv("FMNIST_DATA", raising=False)
    monkeypatch.setattr(sources, "download", _no_download)
    arrays, source = load_arrays()
    assert source == keras and arrays["train_images"].shape == (60000, 28, 28)


def _no_download(*_args, **_kwargs):
    raise AssertionError("downloaded although the Keras cache holds the files")


def test_the_dataset_view_holds_the_same_splits_as_fmnists_runs(real_data_dir):
    runs = DeviceSplits(DataConfig(data_dir=real_data_dir), "cpu")
    for split in ("train", "val", "test"):
        view = FashionMNIST(split, data_dir=real_data_dir)
        assert len(view) == runs.size(split)
        assert np.array_equal(view.targets, runs.labels[split].numpy())
        assert np.array_equal(view.images, runs.images[split][:, 0].numpy())
    image, label = view[3]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert 0 <= image.min() and image.max() <= 1 and label == int(view.targets[3])
    x, y = next(iter(DataLoader(view, batch_size=32)))
    assert x.shape == (32, 1, 28, 28) and y.tolist() == view.targets[:32].tolist()


def test_the_dataset_view_applies_transforms_and_refuses_unknown_splits(real_data_dir):
    view = FashionMNIST("val", data_dir=real_data_dir, transform=lambda x: x * 2, val_size=1000)
    assert len(view) == 1000 and view[0][0].max() > 1
    with pytest.raises(ConfigError, match="unknown split 'validation'"):
        FashionMNIST("validation")
