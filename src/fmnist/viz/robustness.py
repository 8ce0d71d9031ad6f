"""Figures of ``fmnist robustness`` (measured by ``fmnist.analysis.robustness``): test accuracy
per corruption and severity as a heat map, and one test image under every corruption."""

from __future__ import annotations

import numpy as np

from fmnist.analysis.robustness import FOLDER, Robustness, example_grid
from fmnist.viz.plot import Figure, image_grid, label_rows, new_figure, save, styled


def save_robustness_figures(result: Robustness, example: np.ndarray) -> None:
    """The heat map and one ``example`` test image under every corruption, in RUN/robustness/."""
    out = result.run / FOLDER
    save(robustness_heatmap(result.accuracy, result.clean), out / "heatmap.png")
    save(corruption_grid(example, example_grid(example)), out / "corruptions.png")


@styled
def robustness_heatmap(accuracy: dict[str, list[float]], clean: float) -> Figure:
    """Test accuracy (%) per corruption (rows, most harmful first) and severity (columns)."""
    names = sorted(accuracy, key=lambda name: np.mean(accuracy[name]))
    grid = 100 * np.array([accuracy[name] for name in names])
    fig, ax = new_figure(figsize=(7.5, 0.42 * len(names) + 1.6))
    shown = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    for (row, col), value in np.ndenumerate(grid):
        ax.text(col, row, f"{value:.1f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(grid.shape[1]), [f"severity {s}" for s in range(1, grid.shape[1] + 1)])
    ax.set_yticks(range(len(names)), [name.replace("_", " ") for name in names])
    ax.set_title(f"Test accuracy (%) under corruption; clean: {100 * clean:.2f} %")
    ax.grid(False)
    fig.colorbar(shown, ax=ax, label="test accuracy (%)", fraction=0.04)
    return fig


@styled
def corruption_grid(clean: np.ndarray, corrupted: dict[str, list[np.ndarray]]) -> Figure:
    """One test image, clean and under every corruption (rows) at every severity (columns)."""
    names = list(corrupted)
    images = [image for name in names for image in [clean, *corrupted[name]]]
    header = ["clean", *(f"severity {s}" for s in range(1, 6))]
    titles = header + [""] * (len(images) - len(header))
    fig, axes = image_grid(images, titles, cols=6, cell=(1.3, 1.45), title_size=7)
    label_rows(fig, axes, [name.replace("_", " ") for name in names])
    return fig
