"""Matplotlib set-up shared by every figure: the Agg backend (no screen), one plain style, one way
to save."""

from __future__ import annotations

from pathlib import Path

import matplotlib

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
