"""``fmnist data explore``: look at the data set before training on it.

Class counts per split, a labelled sample grid, the mean image of each class, and PCA and t-SNE
maps of a stratified sample of training images; PNG files and one self-contained HTML page.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist.config import DataConfig
from fmnist.data import CLASS_NAMES, DeviceSplits
from fmnist.data.splits import stratified_sample
from fmnist.viz.html import Page
from fmnist.viz.plot import (
    CLASS_COLORS,
    Figure,
    image_grid,
    label_rows,
    new_figure,
    save,
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


def explore(
    out: str | Path = "explore", *, data_dir: Path | None = None, sample: int = 2000
) -> Path:
    """Write the EDA figures and ``index.html`` into ``out``; returns the HTML path.

    Args:
        out: output folder.
        data_dir: the IDX files (default: FMNIST_DATA, the Debian package, or a download).
        sample: stratified training images in the PCA and t-SNE maps (t-SNE time grows ~n log n).
    """
    from fmnist.viz.maps import pca_and_tsne

    out = Path(out)
    data = DeviceSplits(
        DataConfig(data_dir=data_dir), "cpu"
    )  # the default holdout split, as training sees it
    images = {split: data.images[split][:, 0].numpy() for split in ("train", "val", "test")}
    labels = {split: data.labels[split].numpy() for split in ("train", "val", "test")}
    counts = {split: np.bincount(labels[split], minlength=len(CLASS_NAMES)) for split in labels}

    page = Page(
        "Fashion-MNIST: a first look",
        f"{data.source}  ·  {sum(len(v) for v in labels.values()):,} images of 28x28 grey pixels "
        f"in {len(CLASS_NAMES)} classes",
    )
    page.section("Class counts")
    page.figure(
        save(class_counts(counts), out / "class_counts.png"),
        "Train and validation: the default stratified holdout split (5,000 validation images); "
        "test: the official 10,000.",
    )
    page.table(
        ["class", *counts],
        [[name, *(f"{counts[s][k]:,}" for s in counts)] for k, name in enumerate(CLASS_NAMES)],
        table_id="counts",
    )
    page.section("Sample images")
    page.figure(
        save(sample_grid(images["train"], labels["train"]), out / "samples.png"),
        "The first ten training images of each class, dark = bright pixel.",
    )
    page.section("Mean image per class")
    page.figure(
        save(class_means(images["train"], labels["train"]), out / "class_means.png"),
        "Average of all training images of a class: shirts, T-shirts, pullovers and coats look "
        "alike on average too.",
    )
    page.section("PCA and t-SNE maps")
    pick = stratified_sample(labels["train"], sample)
    for path, caption in pca_and_tsne(
        images["train"][pick].astype(np.float32) / 255,
        labels["train"][pick],
        out,
        "raw pixels",
        "pixels",
    ):
        page.figure(
            path, f"{caption} Stratified sample of {len(pick):,} training images.", half=True
        )
    return page.write(out / "index.html")
