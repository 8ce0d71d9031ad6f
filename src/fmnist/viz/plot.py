"""What every figure shares: the Agg backend (no screen), one plain style, one way to save, and
grids of images.

Images are (h, w) arrays; grey levels 0-255 unless a caller says otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only: reports run on servers and in CI without a display
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update(
    {
        "figure.dpi": 110,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titleweight": "bold",
        "font.size": 10,
    }
)

CLASS_COLORS = plt.get_cmap("tab10").colors  # one colour per class, the same in every figure


def save(fig, path: Path) -> Path:
    """Save ``fig`` as PNG (or GIF by suffix elsewhere), close it so long reports don't leak
    memory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def no_ticks(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def tile(
    images: np.ndarray, *, pad: int = 1, fill: float = np.nan, cols: int | None = None
) -> np.ndarray:
    """Tile (N, h, w) images into one (H, W) image with ``pad`` pixels of ``fill`` between them.

    One imshow of the tiled image is far faster than a subplot per image (filters by the hundred).
    """
    n, h, w = images.shape
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), fill, dtype=np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        grid[
            pad + r * (h + pad) : pad + r * (h + pad) + h,
            pad + c * (w + pad) : pad + c * (w + pad) + w,
        ] = image
    return grid


def image_grid(
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    *,
    cols: int,
    cell: tuple[float, float] = (2.0, 2.4),
    cmap: str = "gray_r",
    vmax: float = 255,
    title_size: float = 8,
    suptitle: str = "",
):
    """Images in rows of ``cols``, each under its title, without axes; returns (figure, axes) so
    a caller can label rows or colour titles before ``save``.

    ``titles``: one per image ("" for none). ``cell``: inches per image (width, height, title
    included); cells past the last image stay blank. ``gray_r`` draws bright pixels dark, as the
    garments look on paper.
    """
    rows = max(1, int(np.ceil(len(images) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * cell[0], rows * cell[1]), squeeze=False)
    for ax in axes.flat:
        no_ticks(ax)
    for ax, image, title in zip(axes.flat, images, titles):
        ax.imshow(image, cmap=cmap, vmin=0, vmax=vmax)
        ax.set_title(title, fontsize=title_size, fontweight="normal")
    if suptitle:
        fig.suptitle(suptitle, fontweight="bold")
    fig.tight_layout()
    return fig, axes


def label_rows(fig, axes, names: Sequence[str], fontsize: float = 8) -> None:
    """Name each row of an ``image_grid`` at its left, e.g. by class."""
    for name, row in zip(names, axes):
        row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=fontsize)
    fig.tight_layout()  # again: the names widen the left margin
