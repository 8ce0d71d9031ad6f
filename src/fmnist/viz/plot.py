"""What every figure shares: one plain style, figures made with matplotlib's object API, one way
to save, and grids of images.

fmnist never touches the user's matplotlib state: no backend is chosen and no global rcParams are
changed (a notebook's own figures keep showing inline after a report). Each drawing function is
wrapped in ``styled``, which applies ``STYLE`` only while it draws; its figure is a ``Figure``
that Jupyter shows inline when a cell returns it, and that ``save`` writes to a file.

Images are (h, w) arrays; grey levels 0-255 unless a caller says otherwise.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ParamSpec, TypeVar

import matplotlib
import matplotlib.figure
import numpy as np

STYLE = {
    "figure.dpi": 110,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titleweight": "bold",
    "font.size": 10,
}

CLASS_COLORS = matplotlib.colormaps["tab10"].colors  # one colour per class, the same everywhere

P = ParamSpec("P")
R = TypeVar("R")


class Figure(matplotlib.figure.Figure):
    """A matplotlib figure that shows itself in Jupyter (as PNG) without pyplot: fmnist's figures
    belong to no backend, so nothing shows twice and nothing waits for ``plt.show()``."""

    def _repr_png_(self) -> bytes:
        return png_bytes(self)


def styled(draw: Callable[P, R]) -> Callable[P, R]:
    """Draw with fmnist's ``STYLE`` in a local rc context: the user's rcParams stay as they were."""

    @functools.wraps(draw)
    def drawing(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return drawing


def new_figure(
    rows: int = 1, cols: int = 1, *, figsize: tuple[float, float], **subplots
) -> tuple[Figure, object]:
    """A figure and its axes, as ``plt.subplots`` would give them, owned by no pyplot state."""
    layout = subplots.pop("layout", None)
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(rows, cols, **subplots)


def save(fig: matplotlib.figure.Figure, path: Path) -> Path:
    """Save ``fig`` as PNG (or another format by suffix) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    return path


def png_bytes(fig: matplotlib.figure.Figure, **savefig) -> bytes:
    """``fig`` as PNG bytes (for a notebook, a web page or a live display)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **{"bbox_inches": "tight", **savefig})
    return buffer.getvalue()


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


@styled
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
    fig, axes = new_figure(rows, cols, figsize=(cols * cell[0], rows * cell[1]), squeeze=False)
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
