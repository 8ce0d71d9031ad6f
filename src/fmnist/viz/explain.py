"""Figures of attribution maps (computed by ``fmnist.explain``): a grid of images with each
method's map over them, and each class's mean map.

A map is drawn over its image, as opaque as it is strong: where the model looked stays readable
against the garment. Used by ``fmnist explain`` and the run report.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np

from fmnist.data import CLASS_NAMES
from fmnist.viz.plot import Figure, new_figure, styled

MAP_TITLES = {
    "integrated_gradients": "Integrated Gradients",
    "saliency": "saliency",
    "grad_cam": "Grad-CAM (last conv)",
    "occlusion": "occlusion (4x4 patch)",
}


@styled
def attribution_grid(
    images: Sequence[np.ndarray],
    captions: Sequence[tuple[str, str]],
    maps: Sequence[dict[str, np.ndarray | None]],
    title: str = "Why the model says what it says",
) -> Figure:
    """One row per image: the input under its (title, text below) caption, e.g. its name and top
    3, then each method's map over it. Integrated Gradients is signed (red: for the class, blue:
    against); the others are magnitudes (bright: matters most). A map is as opaque as it is
    strong, its colours scaled to its 99th percentile so that one extreme pixel does not hide the
    rest."""
    methods = list(MAP_TITLES)
    fig, axes = new_figure(
        len(images), 1 + len(methods), figsize=(2.3 * (1 + len(methods)), 2.9 * len(images) + 0.6),
        squeeze=False,
    )  # fmt: skip
    for row, (image, (name, below), by_method) in enumerate(zip(images, captions, maps)):
        axes[row, 0].imshow(image, cmap="gray", vmin=0, vmax=255)
        axes[row, 0].set_title(name, fontsize=8, fontweight="normal")
        axes[row, 0].set_xlabel(below, fontsize=8)
        for col, method in enumerate(methods, start=1):
            _overlay(axes[row, col], image, by_method.get(method), method == "integrated_gradients")
            if row == 0:
                axes[row, col].set_title(MAP_TITLES[method], fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig


@styled
def class_mean_maps(mean_images: Sequence[np.ndarray], mean_maps: Sequence[np.ndarray]) -> Figure:
    """One panel per class: its mean image under its mean (signed) attribution map."""
    fig, axes = new_figure(2, 5, figsize=(11, 5.2))
    for ax, name, image, attribution in zip(axes.flat, CLASS_NAMES, mean_images, mean_maps):
        _overlay(ax, image, attribution, True)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("What makes each class (mean Integrated Gradients)", fontweight="bold")
    fig.tight_layout()
    return fig


def _overlay(ax, image: np.ndarray, attribution: np.ndarray | None, signed: bool) -> None:
    ax.imshow(image, cmap="gray", vmin=0, vmax=255)
    if attribution is None:
        ax.text(0.5, 0.5, "no convolution", ha="center", va="center", transform=ax.transAxes,
                fontsize=8, color="white")  # fmt: skip
        return
    values = attribution if signed else np.abs(attribution)
    scale = float(np.percentile(np.abs(values), 99)) or float(np.abs(values).max()) or 1.0
    strength = np.clip(np.abs(values) / scale, 0, 1)
    cmap = matplotlib.colormaps.get_cmap("RdBu_r" if signed else "inferno")
    colours = cmap((np.clip(values / scale, -1, 1) + 1) / 2 if signed else strength)
    colours[..., 3] = 0.15 + 0.85 * strength
    ax.imshow(colours)
