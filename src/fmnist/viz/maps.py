"""2-D maps of many images or feature vectors (PCA, t-SNE), coloured by class; used by data explore
and run reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist.data import CLASS_NAMES
from fmnist.viz.plot import CLASS_COLORS, new_figure, save, styled


def project_2d(x: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """(n, d) -> (n, 2) by PCA or t-SNE; t-SNE starts from a 50-D PCA (the usual speed-up, same
    picture)."""
    from sklearn.decomposition import PCA

    x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    if method == "pca":
        return PCA(2, random_state=seed).fit_transform(x)
    if method == "tsne":
        from sklearn.manifold import TSNE

        reduced = (
            PCA(min(50, x.shape[1], len(x)), random_state=seed).fit_transform(x)
            if x.shape[1] > 50
            else x
        )
        return TSNE(
            2, init="pca", perplexity=min(30.0, (len(x) - 1) / 3), random_state=seed
        ).fit_transform(reduced)
    raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")


@styled
def class_map(
    points: np.ndarray, labels: np.ndarray, path: Path, title: str, xlabel: str, ylabel: str
) -> Path:
    fig, ax = new_figure(figsize=(8, 6.5))
    for k, name in enumerate(CLASS_NAMES):
        mask = labels == k
        ax.scatter(
            points[mask, 0],
            points[mask, 1],
            s=6,
            alpha=0.7,
            color=CLASS_COLORS[k],
            label=name,
            linewidths=0,
        )
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(
        markerscale=3, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False
    )
    return save(fig, path)


def pca_and_tsne(
    x: np.ndarray, labels: np.ndarray, out: Path, what: str, stem: str
) -> list[tuple[Path, str]]:
    """PCA and t-SNE maps of ``x`` as two PNGs; returns (path, caption) pairs."""
    n = len(x)
    pca = class_map(
        project_2d(x, "pca"),
        labels,
        out / f"{stem}_pca.png",
        f"PCA of {what} ({n:,} images)",
        "principal component 1 (a.u.)",
        "principal component 2 (a.u.)",
    )
    tsne = class_map(
        project_2d(x, "tsne"),
        labels,
        out / f"{stem}_tsne.png",
        f"t-SNE of {what} ({n:,} images)",
        "t-SNE dimension 1 (a.u.)",
        "t-SNE dimension 2 (a.u.)",
    )
    return [
        (
            pca,
            f"PCA: the two directions of largest variance of {what}; "
            "a linear view, classes overlap where they look alike.",
        ),
        (
            tsne,
            f"t-SNE: neighbours in {what} stay neighbours on the map; "
            "distances between clusters mean little.",
        ),
    ]
