"""``fmnist data explore``: look at the data set before training on it.

Class counts per split, a labelled sample grid, the mean image of each class (``fmnist.viz.explore``
draws them), and PCA and t-SNE maps of a stratified sample of training images; PNG files and one
self-contained HTML page.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist.config import DataConfig
from fmnist.data import CLASS_NAMES, DeviceSplits
from fmnist.data.loader import stratified_sample
from fmnist.report.html import Page
from fmnist.viz.explore import class_counts, class_means, sample_grid
from fmnist.viz.plot import save


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
