"""Fashion-MNIST as uint8 tensors on the training device; batches are index slices, augmented in
bulk. ``FashionMNIST`` (``fmnist.data.dataset``) is the per-image view of the same splits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from fmnist.config import AugmentConfig, DataConfig
from fmnist.data.augment import augment
from fmnist.data.sources import load_arrays
from fmnist.data.splits import holdout_split, kfold_splits, stratified_subset

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
SPLITS = ("train", "val", "test")


def split_arrays(
    cfg: DataConfig,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray], Path]:
    """The images, labels and source-file indices of each split as ``cfg`` makes them (holdout or
    k-fold, then a training subset), and the folder the files came from: the one place a split
    is made, for fmnist's runs and for ``FashionMNIST`` in a user's own loop alike."""
    arrays, source = load_arrays(cfg.data_dir)
    labels = arrays["train_labels"]
    if cfg.folds is not None:
        train_idx, val_idx = kfold_splits(labels, cfg.folds, cfg.split_seed)[cfg.fold]
    else:
        train_idx, val_idx = holdout_split(labels, cfg.val_size, cfg.split_seed)
    if cfg.train_subset:
        train_idx = stratified_subset(train_idx, labels, cfg.train_subset, cfg.split_seed)
    indices = {"train": train_idx, "val": val_idx, "test": np.arange(len(arrays["test_labels"]))}
    images = {
        "train": arrays["train_images"][train_idx],
        "val": arrays["train_images"][val_idx],
        "test": arrays["test_images"],
    }
    targets = {"train": labels[train_idx], "val": labels[val_idx], "test": arrays["test_labels"]}
    return images, targets, indices, source


class DeviceSplits:
    """The three splits on ``device`` with normalisation statistics from the training split only.

    Args:
        cfg: which images go to train/val (holdout or k-fold), subset, normalisation.
        device: where the tensors live (batches never leave it).
    """

    def __init__(self, cfg: DataConfig, device: torch.device | str = "cpu") -> None:
        images, targets, self.indices, self.source = split_arrays(cfg)
        self.device = torch.device(device)
        self.images = {
            k: torch.from_numpy(v.copy()).unsqueeze(1).to(self.device) for k, v in images.items()
        }
        self.labels = {
            k: torch.from_numpy(v.astype(np.int64)).to(self.device) for k, v in targets.items()
        }
        if cfg.normalize == "standardize":
            train01 = self.images["train"].float().div_(255)
            self.mean, self.std = train01.mean().item(), train01.std().item()
        else:
            self.mean, self.std = 0.0, 1.0

    def __len__(self) -> int:
        return len(self.labels["train"])

    def size(self, split: str) -> int:
        return len(self.labels[split])

    def normalize(self, x01: torch.Tensor) -> torch.Tensor:
        """Pixels in [0,1] -> model input."""
        return (x01 - self.mean) / self.std

    def batches(
        self,
        split: str,
        batch_size: int,
        *,
        gen: torch.Generator | None = None,
        augment_cfg: AugmentConfig | None = None,
        epoch: int = 0,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Normalised (x, y) batches. With ``gen`` the order is shuffled and the last partial batch
        dropped (so batch norm never sees a batch of one); without it, all images in order.
        ``epoch`` (from 0) is for augmentations that depend on it (alternating flips)."""
        n = self.size(split)
        if gen is None:
            order, stop = torch.arange(n, device=self.device), n
        else:
            order = torch.randperm(n, generator=gen, device=self.device)
            stop = n - n % batch_size if n >= batch_size else n
        for start in range(0, stop, batch_size):
            idx = order[start : start + batch_size]
            x = self.images[split][idx].float().div_(255)
            if augment_cfg is not None and augment_cfg.enabled:
                x = augment(x, augment_cfg, gen, index=idx, epoch=epoch)
            yield self.normalize(x), self.labels[split][idx]

    def steps_per_epoch(self, batch_size: int) -> int:
        n = len(self)
        return max(1, n // batch_size)
