"""Fashion-MNIST as uint8 tensors on the training device; batches are index slices, augmented in
bulk. ``FashionMNIST`` (``fmnist.data.dataset``) is the per-image view of the same splits.

Augmentation is batched on the device tensors: one call per batch, no per-sample Python. Images
are (N, 1, 28, 28) floats in [0, 1]; every random draw uses the caller's generator, so a seeded
run sees the same augmented batches again, also after a resume.

The splits themselves (holdout and k-fold of the training set, stratified samples of any split)
are all seeded; the test set is never split."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import StratifiedKFold, train_test_split

from fmnist.config import AugmentConfig, DataConfig
from fmnist.data.sources import load_arrays

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


# -- the splits: index arrays, seeded


def holdout_split(labels: np.ndarray, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val) with ``val_size`` stratified validation images; val is empty for 0."""
    all_idx = np.arange(len(labels))
    if val_size == 0:
        return all_idx, all_idx[:0]
    train, val = train_test_split(all_idx, test_size=val_size, stratify=labels, random_state=seed)
    return np.sort(train), np.sort(val)


def kfold_splits(labels: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``folds`` stratified (train, val) index pairs whose val parts partition the training set."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(train, val) for train, val in splitter.split(np.zeros(len(labels)), labels)]


def stratified_subset(indices: np.ndarray, labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A stratified subset of ``indices`` of ``size`` images (all of them if size >= len)."""
    if size >= len(indices):
        return indices
    subset, _ = train_test_split(
        indices, train_size=size, stratify=labels[indices], random_state=seed
    )
    return np.sort(subset)


def stratified_sample(labels: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``size`` images, the same number per class (all of them if size >= len).

    Unlike ``stratified_subset`` (proportional to the class sizes), every class gets an equal
    share, so a map of the sample shows each class alike; its own numpy generator leaves torch's
    random state untouched.
    """
    if size >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = size // len(classes)
    return np.sort(
        np.concatenate(
            [rng.choice(np.flatnonzero(labels == k), per_class, replace=False) for k in classes]
        )
    )


# -- augmentation: batched, on device tensors, one call per batch


def augment(
    x: torch.Tensor,
    cfg: AugmentConfig,
    gen: torch.Generator,
    *,
    index: torch.Tensor | None = None,
    epoch: int = 0,
) -> torch.Tensor:
    """Augmented copies of the batch ``x``; ``index`` (each image's place in its split) and
    ``epoch`` are what ``hflip="alternate"`` needs."""
    if cfg.hflip == "alternate":
        x = torch.where(alternating_flip(index, epoch)[:, None, None, None], x.flip(-1), x)
    elif cfg.hflip:
        x = torch.where(_coin(x, 0.5, gen), x.flip(-1), x)
    if cfg.rotate or cfg.shear or cfg.zoom:
        x = _affine(x, cfg, gen)
    if cfg.shift:
        x = _shift(x, cfg.shift, gen)
    if cfg.brightness or cfg.contrast:
        c = 1 + cfg.contrast * _uniform(x, gen)
        b = cfg.brightness * _uniform(x, gen)
        x = ((x - 0.5) * c + 0.5 + b).clamp(0, 1)
    if cfg.noise:
        x = (
            x + cfg.noise * torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
        ).clamp(0, 1)
    if cfg.erase:
        x = _erase(x, cfg.erase, gen)
    return x


def alternating_flip(index: torch.Tensor, epoch: int) -> torch.Tensor:
    """Which images to mirror in ``epoch``: a fixed pseudo-random half in even epochs, the other
    half in odd ones. Random flips leave a quarter of the images unmirrored (or mirrored) two
    epochs running; alternating shows every image both ways every two epochs, which airbench
    measured as worth about an eighth of the epochs on CIFAR-10. The half is a hash of the index
    (Knuth's multiplicative constant), so a resumed run flips the same images again."""
    if index is None:
        raise ValueError("hflip='alternate' needs each image's index in its split")
    first_half = ((index * 2654435761) % 2**32) >= 2**31
    return first_half ^ bool(epoch % 2)


def tta_views(x: torch.Tensor, flip: bool, shift: int) -> list[torch.Tensor]:
    """The views test-time augmentation averages: the batch, moved ``shift`` pixels down-right and
    up-left, and with ``flip`` each of those mirrored. The border pixels are repeated into the gap
    (``x`` is normalised, so a zero would not be black; Fashion-MNIST's borders are background)."""
    views = [x]
    if shift:
        padded = F.pad(x, (shift, shift, shift, shift), mode="replicate")
        h, w = x.shape[-2:]
        views += [padded[..., :h, :w], padded[..., 2 * shift :, 2 * shift :]]
    return views + [view.flip(-1) for view in views] if flip else views


def _uniform(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One value per image in [-1, 1), shaped to broadcast over (C, H, W)."""
    return torch.rand((x.shape[0], 1, 1, 1), generator=gen, device=x.device) * 2 - 1


def _coin(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    return torch.rand((x.shape[0], 1, 1, 1), generator=gen, device=x.device) < p


def _shift(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Random crop of the zero-padded image: an exact integer translation of up to ``pad``
    pixels."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    return padded[batch, torch.zeros_like(batch), rows, cols]


def _affine(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Rotation, shear and zoom as one sampled affine grid per image (bilinear, zero fill)."""
    angle = _uniform(x, gen).view(-1) * math.radians(cfg.rotate)
    shear = _uniform(x, gen).view(-1) * math.radians(cfg.shear)
    scale = 1 + _uniform(x, gen).view(-1) * cfg.zoom
    cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
    # theta maps output coords to input coords: rotate, then shear along x, divided by the zoom.
    theta = (
        torch.stack(
            [
                torch.stack([cos, cos * tan - sin, torch.zeros_like(cos)], -1),
                torch.stack([sin, sin * tan + cos, torch.zeros_like(cos)], -1),
            ],
            1,
        )
        / scale[:, None, None]
    )
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _erase(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """Random erasing: with probability p, one rectangle (2-50 % of the area) set to noise."""
    n, _, h, w = x.shape
    area = (0.02 + 0.48 * torch.rand(n, generator=gen, device=x.device)) * h * w
    ratio = torch.exp((torch.rand(n, generator=gen, device=x.device) * 2 - 1) * math.log(3))
    eh = (area * ratio).sqrt().clamp(1, h).long()
    ew = (area / ratio).sqrt().clamp(1, w).long()
    top = (torch.rand(n, generator=gen, device=x.device) * (h - eh + 1)).long()
    left = (torch.rand(n, generator=gen, device=x.device) * (w - ew + 1)).long()
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    box = (
        (ys >= top[:, None, None])
        & (ys < (top + eh)[:, None, None])
        & (xs >= left[:, None, None])
        & (xs < (left + ew)[:, None, None])
    )
    box = box[:, None] & _coin(x, p, gen)
    return torch.where(box, torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype), x)
