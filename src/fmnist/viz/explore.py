"""Figures of the data set for ``fmnist data explore``: images per class in each split, a labelled
sample grid, and the mean image of each class (``fmnist.report.explore`` writes the page, with the
PCA and t-SNE maps of ``fmnist.viz.maps``).
"""

from __future__ import annotations

import numpy as np

from fmnist.data import CLASS_NAMES
from fmnist.viz.plot import (
    CLASS_COLORS,
    Figure,
    image_grid,
    label_rows,
    new_figure,
    styled,
)


@styled
def class_counts(counts: dict[str, np.ndarray]) -> Figure:
    """Grouped bars: images per class in each split."""
    x = np.arange(len(CLASS_NAMES))
    width = 0.8 / len(counts)
    fig, ax = new_figure(figsize=(10, 4.5))
    for k, (split, values) in enumerate(counts.items()):
        bars = ax.bar(
            x + (k - (len(counts) - 1) / 2) * width,
            values,
            width,
            label=f"{split} ({values.sum():,})",
        )
        ax.bar_label(bars, fontsize=6.5, rotation=90, padding=2)
    ax.set_xticks(x, CLASS_NAMES, rotation=30, ha="right")
    ax.set_ylabel("images")
    balanced = all(v.max() <= 1.05 * v.min() for v in counts.values() if v.min() > 0)
    ax.set_title(
        "Images per class in each split" + (": the classes are balanced" if balanced else "")
    )
    ax.margins(y=0.12)
    ax.legend(
        fontsize=8,
        ncols=len(counts),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.22),
        frameon=False,
    )
    return fig


@styled
def sample_grid(images: np.ndarray, labels: np.ndarray, per_class: int = 10) -> Figure:
    """One row per class, its first ``per_class`` images."""
    picks = [i for k in range(len(CLASS_NAMES)) for i in np.flatnonzero(labels == k)[:per_class]]
    fig, axes = image_grid(
        images[picks],
        [""] * len(picks),
        cols=per_class,
        cell=(0.9, 0.95),
        suptitle="Sample training images, one row per class",
    )
    label_rows(fig, axes, CLASS_NAMES, fontsize=9)
    return fig


@styled
def class_means(images: np.ndarray, labels: np.ndarray) -> Figure:
    means = [images[labels == k].mean(0) for k in range(len(CLASS_NAMES))]
    fig, axes = image_grid(
        means,
        CLASS_NAMES,
        cols=5,
        cell=(2.0, 2.3),
        title_size=9,
        suptitle="Mean image of each class (training split; dark = bright pixels on average)",
    )
    for ax, color in zip(axes.flat, CLASS_COLORS):
        ax.title.set_color(color)
    return fig
