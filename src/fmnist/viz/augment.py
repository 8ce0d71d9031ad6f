"""A grid of augmented samples: what an augmentation setting does to real images."""

from __future__ import annotations

from pathlib import Path

import torch

from fmnist.config import RunConfig
from fmnist.data import CLASS_NAMES, FashionMNIST
from fmnist.data.augment import augment


def save_augment_grid(cfg: RunConfig, output: Path, *, per_class: int = 1, copies: int = 7) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = FashionMNIST(cfg.data.model_copy(update={"val_size": 0}), "cpu")
    labels = data.labels["train"]
    rows = [
        int(torch.nonzero(labels == k)[i])
        for k in range(len(CLASS_NAMES))
        for i in range(per_class)
    ]
    originals = data.images["train"][rows].float() / 255
    gen = torch.Generator().manual_seed(cfg.seed)
    variants = [augment(originals, cfg.augment, gen) for _ in range(copies)]
    fig, axes = plt.subplots(len(rows), copies + 1, figsize=(1.1 * (copies + 1), 1.15 * len(rows)))
    for r, row_axes in enumerate(axes):
        for c, ax in enumerate(row_axes):
            ax.imshow((originals if c == 0 else variants[c - 1])[r, 0], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
        row_axes[0].set_ylabel(
            CLASS_NAMES[int(labels[rows[r]])], rotation=0, ha="right", va="center", fontsize=8
        )
    axes[0, 0].set_title("original", fontsize=8)
    for c in range(1, copies + 1):
        axes[0, c].set_title(f"augmented {c}", fontsize=8)
    settings = ", ".join(
        f"{k}={v}" for k, v in cfg.augment.model_dump(exclude_defaults=True).items()
    )
    fig.suptitle(f"Augmentation: {settings}", fontsize=10)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)
    plt.close(fig)
    return output
