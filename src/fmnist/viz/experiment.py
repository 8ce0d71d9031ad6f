"""Figures of an experiment report: test accuracy against training time (one point per group of
runs), a sweep of one option as a curve, a grid of two options as a heat map, and k-fold box plots
(one point per fold).

They draw the rows and cells they are given; ``fmnist.report.experiment`` finds the groups, sweeps
and grids, and writes the page.
"""

from __future__ import annotations

from typing import Any

import matplotlib.patches
import numpy as np

from fmnist.analysis.collect import plus_minus
from fmnist.viz.plot import Figure, new_figure, styled


@styled
def accuracy_vs_time(rows: list[dict[str, Any]]) -> Figure:
    """One point per table row, with ± std bars where the group has several runs."""
    fig, ax = new_figure(figsize=(9, 5.5))
    for row in rows:
        ax.errorbar(
            row["train_seconds"],
            row["test_accuracy_mean"],
            xerr=row["train_seconds_std"],
            yerr=row["test_accuracy_std"],
            fmt="o",
            capsize=3,
            ms=6,
        )
        ax.annotate(
            row["group"],
            (row["train_seconds"], row["test_accuracy_mean"]),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=8,
        )
    seconds = [row["train_seconds"] for row in rows]
    if min(seconds) > 0 and max(seconds) / min(seconds) > 20:
        ax.set_xscale(
            "log"
        )  # recipe sets span softmax to VGG16: seconds differ by orders of magnitude
    else:
        ax.set_xlim(left=0)  # a wide error bar must not suggest negative seconds
    ax.set_xlabel("training time (s, mean ± std over runs)")
    ax.set_ylabel("test accuracy (%, mean ± std)")
    ax.set_title("Test accuracy vs training time")
    return fig


@styled
def sweep_curve(
    key: str, points: list[tuple[float, float, float | None, int]], label: str
) -> Figure:
    """``points``: (option value, accuracy mean, accuracy std, n) in percent, sorted by value; a
    single run (std None) gets no bar."""
    x = np.array([p[0] for p in points], dtype=float)
    fig, ax = new_figure(figsize=(8, 4.8))
    ax.errorbar(x, [p[1] for p in points], yerr=[p[2] or 0.0 for p in points], fmt="o-", capsize=4)
    if x.min() > 0 and x.max() / x.min() >= 10:
        ax.set_xscale("log")
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.minorticks_off()
    ax.set_xlabel(key)
    ax.set_ylabel("test accuracy (%, mean ± std)")
    ax.set_title(f"Test accuracy vs {key} ({label})")
    return fig


@styled
def heat_map(
    row_key: str, col_key: str, cells: dict[tuple[Any, Any], tuple[float, float | None]]
) -> Figure:
    """``cells[(row value, column value)] = (mean, std)`` accuracy in percent (std None: one run);
    missing cells stay blank."""
    rows = sorted({r for r, _ in cells}, key=str)
    cols = sorted({c for _, c in cells}, key=str)
    values = np.full((len(rows), len(cols)), np.nan)
    for (r, c), (mean, _) in cells.items():
        values[rows.index(r), cols.index(c)] = mean
    fig, ax = new_figure(figsize=(1.6 * len(cols) + 3, 0.8 * len(rows) + 2))
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", aspect="auto")
    ax.grid(False)
    ax.set_xticks(range(len(cols)), [str(c) for c in cols])
    ax.set_yticks(range(len(rows)), [str(r) for r in rows])
    ax.set_xlabel(col_key)
    ax.set_ylabel(row_key)
    lo, hi = np.nanmin(values), np.nanmax(values)
    for (r, c), (mean, std) in cells.items():
        i, j = rows.index(r), cols.index(c)
        light = hi > lo and (mean - lo) / (hi - lo) > 0.6
        ax.text(
            j,
            i,
            plus_minus(mean, std).replace(" ± ", "\n± "),
            ha="center",
            va="center",
            fontsize=9,
            color="black" if light else "white",
        )
    fig.colorbar(image, ax=ax, label="test accuracy (%)")
    ax.set_title(f"Test accuracy: {row_key} x {col_key}")
    return fig


@styled
def kfold_boxes(groups: dict[str, list[dict[str, Any]]]) -> Figure:
    """Per k-fold group: the held-out fold's validation accuracy and the test accuracy of each
    fold's model."""
    names = list(groups)
    fig, ax = new_figure(figsize=(max(6, 2.2 * len(names) + 2), 5))
    positions, data, colors = [], [], []
    for i, name in enumerate(names):
        for offset, metric, color in (
            (-0.18, "val_accuracy", "#4c72b0"),
            (0.18, "test_accuracy", "#dd8452"),
        ):
            values = [r[metric] * 100 for r in groups[name] if r[metric] is not None]
            positions.append(i + offset)
            data.append(values)
            colors.append(color)
            ax.scatter([i + offset] * len(values), values, color=color, s=14, zorder=3)
    boxes = ax.boxplot(data, positions=positions, widths=0.3, patch_artist=True, showfliers=False)
    for patch, color in zip(boxes["boxes"], colors):
        patch.set(facecolor=color, alpha=0.35)
    ax.set_xticks(range(len(names)), [f"{n}\n({len(groups[n])} folds)" for n in names])
    ax.set_ylabel("accuracy (%)")
    ax.set_title("k-fold cross-validation: one point per fold")
    handles = [
        matplotlib.patches.Rectangle((0, 0), 1, 1, color=c, alpha=0.5)
        for c in ("#4c72b0", "#dd8452")
    ]
    ax.legend(handles, ["held-out fold (validation)", "test set"], fontsize=8)
    return fig
