"""A grid of augmented samples: what an augmentation setting does to real images."""

from __future__ import annotations

from pathlib import Path

import torch

from fmnist.config import RunConfig
from fmnist.data import CLASS_NAMES, DeviceSplits
from fmnist.data.loader import augment
from fmnist.viz.plot import image_grid, label_rows, save


def save_augment_grid(cfg: RunConfig, output: Path, *, per_class: int = 1, copies: int = 7) -> Path:
    data = DeviceSplits(cfg.data.model_copy(update={"val_size": 0}), "cpu")
    labels = data.labels["train"]
    rows = [
        int(torch.nonzero(labels == k)[i])
        for k in range(len(CLASS_NAMES))
        for i in range(per_class)
    ]
    originals = data.images["train"][rows].float() / 255
    gen = torch.Generator().manual_seed(cfg.seed)
    index = torch.tensor(rows)
    columns = [originals] + [
        augment(originals, cfg.augment, gen, index=index, epoch=epoch) for epoch in range(copies)
    ]
    settings = ", ".join(
        f"{k}={v}" for k, v in cfg.augment.model_dump(exclude_defaults=True).items()
    )
    images = [column[r, 0] for r in range(len(rows)) for column in columns]
    first_row = ["original"] + [f"augmented {c}" for c in range(1, copies + 1)]
    fig, axes = image_grid(
        images,
        first_row + [""] * (len(images) - len(first_row)),
        cols=copies + 1,
        cell=(1.1, 1.15),
        cmap="gray",
        vmax=1,
        suptitle=f"Augmentation: {settings}",
    )
    label_rows(fig, axes, [CLASS_NAMES[int(labels[i])] for i in rows])
    return save(fig, output)
