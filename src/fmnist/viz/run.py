"""Figures of one run: learning curves, confusion matrix, per-class scores, calibration, the most
confident mistakes, first-layer filters (and their evolution as a GIF), feature maps, how each layer
learns, and weight histograms.

Plain arrays in, one ``Figure`` out (``fmnist.viz.plot.save`` writes it; a notebook shows it), so
the run report, ``Run.plot_*`` and the live curves of a notebook's training draw the same figures.
Reading the run directory is theirs to do (``fmnist.report.run``, ``fmnist.inference.Run``).

Every figure has a title, axis labels with units, and class names instead of class numbers.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.cm
import matplotlib.colors
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from fmnist.data import CLASS_NAMES
from fmnist.metrics import overfitting_start, softmax
from fmnist.viz.plot import (
    Figure,
    image_grid,
    new_figure,
    no_ticks,
    png_bytes,
    styled,
    tile,
)


# -- learning curves -------------------------------------------------------------------------
@styled
def learning_curves(metrics: list[dict[str, Any]], best_epoch: int | None) -> Figure:
    epochs = [m["epoch"] for m in metrics]
    has_val = all(m.get("val_loss") is not None for m in metrics)
    overfit = overfitting_start(metrics)
    fig, axes = new_figure(1, 2, figsize=(11, 4))
    for ax, metric, unit in ((axes[0], "loss", "cross-entropy"), (axes[1], "accuracy", "%")):
        scale = 100 if metric == "accuracy" else 1
        ax.plot(epochs, [m[f"train_{metric}"] * scale for m in metrics], "o-", ms=3, label="train")
        if has_val:
            ax.plot(
                epochs,
                [m[f"val_{metric}"] * scale for m in metrics],
                "s-",
                ms=3,
                label="validation",
            )
        if best_epoch:
            ax.axvline(
                best_epoch, color="green", ls="--", lw=1.2, label=f"best epoch ({best_epoch})"
            )
        if overfit:
            ax.axvspan(
                overfit,
                epochs[-1],
                color="red",
                alpha=0.08,
                label=f"overfitting (after epoch {overfit})",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{metric} ({unit})")
        ax.set_title(f"{metric.capitalize()} per epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8)
    return fig


# -- confusion matrix and per-class scores -----------------------------------------------------
@styled
def confusion_matrices(cm: Sequence[Sequence[int]]) -> Figure:
    cm = np.asarray(cm)
    rows = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, axes = new_figure(1, 2, figsize=(13, 5.9))
    for ax, values, title, fmt in (
        (axes[0], cm, "Counts (test images)", "{:d}"),
        (axes[1], rows * 100, "Row-normalised (% of each true class)", "{:.0f}"),
    ):
        image = ax.imshow(values, cmap="Blues")
        ax.grid(False)
        ax.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=45, ha="right")
        ax.set_yticks(range(len(CLASS_NAMES)), CLASS_NAMES)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(title)
        threshold = values.max() / 2
        for (i, j), v in np.ndenumerate(values):
            if v:
                ax.text(
                    j,
                    i,
                    fmt.format(int(v) if fmt == "{:d}" else v),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if v > threshold else "black",
                )
        fig.colorbar(
            image,
            ax=ax,
            fraction=0.046,
            pad=0.04,
            label="images" if fmt == "{:d}" else "% of true class",
        )
    fig.suptitle(
        "Confusion matrix: rows are the true class, columns what the model predicted",
        fontweight="bold",
    )
    fig.tight_layout()
    return fig


@styled
def per_class_scores(per_class: dict[str, dict[str, float]]) -> Figure:
    names = list(per_class)
    y = np.arange(len(names))
    fig, ax = new_figure(figsize=(9, 5.5))
    for k, (metric, color) in enumerate(
        (("precision", "#4c72b0"), ("recall", "#dd8452"), ("f1", "#55a868"))
    ):
        ax.barh(
            y + (k - 1) * 0.27,
            [per_class[n][metric] * 100 for n in names],
            height=0.27,
            color=color,
            label=metric if metric != "f1" else "F1",
        )
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("score on the test set (%)")
    ax.set_title("Precision, recall and F1 per class")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    return fig


# -- calibration ---------------------------------------------------------------------------------
@styled
def reliability_diagram(
    labels: np.ndarray,
    probabilities: np.ndarray,
    calibration: dict[str, Any],
) -> Figure:
    """Accuracy against top-class confidence in equal-width bins (scikit-learn's
    ``calibration_curve`` on right-or-wrong), before and after temperature scaling, beside how
    many test images fall in each bin."""
    from sklearn.calibration import calibration_curve

    bins = calibration["bins"]
    fig, (curve, counts) = new_figure(1, 2, figsize=(11, 4.6), width_ratios=(1.2, 1))
    curve.plot([0, 100], [0, 100], color="#999999", lw=1, ls="--", label="calibrated")
    shown = [("model", probabilities, "#4c72b0", calibration["ece"])]
    if calibration.get("temperature"):
        scaled = softmax(np.log(np.clip(probabilities, 1e-12, 1)), calibration["temperature"])
        after = calibration["after_scaling"]["ece"]
        shown.append((f"T = {calibration['temperature']:.2f}", scaled, "#dd8452", after))
    for name, probs, color, ece in shown:
        confidence, correct = probs.max(1), probs.argmax(1) == labels
        accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=bins)
        curve.plot(
            100 * mean_confidence, 100 * accuracy, "o-", color=color, ms=4,
            label=f"{name} (ECE {100 * ece:.2f} %)",
        )  # fmt: skip
        edges = np.linspace(0, 100, bins + 1)
        counts.hist(100 * confidence, bins=edges, color=color, histtype="step", lw=2)
    curve.set_xlabel("confidence in the predicted class (%)")
    curve.set_ylabel("accuracy of those predictions (%)")
    curve.set_title("Reliability: below the diagonal is over-confident")
    curve.legend(loc="upper left", fontsize=9, frameon=False)
    counts.set_yscale("log")
    counts.set_xlabel("confidence in the predicted class (%)")
    counts.set_ylabel("test images (log scale)")
    counts.set_title(f"How confident: {bins} equal-width bins")
    return fig


# -- misclassified images ------------------------------------------------------------------------
@styled
def confident_mistakes(
    images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, count: int = 18
) -> tuple[Figure, list[dict[str, Any]]]:
    """The ``count`` wrong test predictions with the highest predicted probability, as a grid.

    Returns the figure and the rows it shows (index, true, predicted, probability) for the page's
    table.
    """
    predicted = probabilities.argmax(1)
    wrong = np.flatnonzero(predicted != labels)
    order = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")][:count]
    rows = [
        {
            "index": int(i),
            "true": CLASS_NAMES[labels[i]],
            "predicted": CLASS_NAMES[predicted[i]],
            "probability": float(probabilities[i, predicted[i]]),
        }
        for i in order
    ]
    fig, _ = image_grid(
        [images[row["index"]] for row in rows],
        [
            f"#{row['index']}  true: {row['true']}\n"
            f"pred: {row['predicted']} ({row['probability']:.0%})"
            for row in rows
        ],
        cols=6,
        cell=(2.0, 2.5),
        title_size=8.5,
        suptitle=f"The {len(rows)} most confidently wrong test images (of {len(wrong):,} mistakes)",
    )
    return fig, rows


# -- filters -----------------------------------------------------------------------------------
def _filter_image(ax, filters: np.ndarray, scale: np.ndarray) -> None:
    """All filters tiled into one image.

    Diverging map centred on 0: red weights excite, blue inhibit; each filter is divided by its own
    ``scale`` so small and large filters both show their pattern; gaps (NaN) stay white.
    """
    cols = min(len(filters), 8 if filters.shape[-1] >= 20 else 16)
    grid = tile(filters / scale[:, None, None], cols=cols)
    ax.imshow(np.ma.masked_invalid(grid), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    no_ticks(ax)


def _filter_figure(filters: np.ndarray, width: float):
    cols = min(len(filters), 8 if filters.shape[-1] >= 20 else 16)
    rows = int(np.ceil(len(filters) / cols))
    return new_figure(figsize=(width, width * rows / cols + 0.7))


@styled
def first_layer_filters(filters: np.ndarray, title: str) -> Figure:
    """(N, h, w) first-layer weights, each on its own symmetric colour scale around 0."""
    fig, ax = _filter_figure(filters, 9)
    _filter_image(ax, filters, np.abs(filters).reshape(len(filters), -1).max(1) + 1e-12)
    ax.set_title(title)
    return fig


@styled
def filter_evolution_gif(
    epochs: np.ndarray, filters: np.ndarray, path: Path, *, seconds_per_frame: float = 0.6
) -> Path:
    """One frame per recorded epoch; each filter keeps one colour scale over all frames, so growth
    shows."""
    from PIL import Image

    scale = np.abs(filters).reshape(filters.shape[0], filters.shape[1], -1).max(axis=(0, 2)) + 1e-12
    frames = []
    for epoch, frame in zip(epochs, filters):
        fig, ax = _filter_figure(frame, 6)
        _filter_image(ax, frame, scale)
        ax.set_title(
            f"First-layer filters, epoch {int(epoch)}"
            + (" (initial weights)" if epoch == 0 else "")
        )
        frames.append(Image.open(io.BytesIO(png_bytes(fig, dpi=100))).convert("RGB"))
    frames = [f.resize(frames[0].size) for f in frames]  # tight bboxes may differ by a pixel
    frames = [f.quantize(colors=128) for f in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    durations = [int(seconds_per_frame * 1000)] * (len(frames) - 1) + [
        2000
    ]  # linger on the trained filters
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return path


# -- feature maps ----------------------------------------------------------------------------------
@styled
def feature_maps(
    image: np.ndarray,
    maps: list[tuple[str, np.ndarray]],
    title: str,
    per_layer: int = 8,
) -> Figure:
    """The input and the first ``per_layer`` channels of each layer's output (C, H, W), one row per
    layer."""
    rows = len(maps)
    fig, axes = new_figure(
        rows, per_layer + 1, figsize=(1.45 * (per_layer + 1), 1.6 * rows + 0.5), squeeze=False
    )
    for ax in axes.flat:
        no_ticks(ax)
    for r, (name, fmap) in enumerate(maps):
        if r == 0:
            axes[0, 0].imshow(image, cmap="gray_r")
            axes[0, 0].set_title("input", fontsize=8, fontweight="normal")
        for c in range(min(per_layer, len(fmap))):
            axes[r, c + 1].imshow(fmap[c], cmap="viridis")
        axes[r, 1].set_title(
            f"{name}: {fmap.shape[0]} maps of {fmap.shape[1]}x{fmap.shape[2]} px",
            fontsize=8,
            loc="left",
            fontweight="normal",
        )
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig


# -- weight histograms -----------------------------------------------------------------------------
@styled
def layer_learning(rows: list[dict[str, Any]]) -> Figure:
    """Each layer's relative weight change per epoch (left) and mean gradient norm (right), one
    line per layer coloured from the first layer (dark) to the last (yellow).

    ``rows`` are layers.jsonl lines: {"epoch", "layers": {name: {"relative_change", "grad_norm"}}}.
    """
    names = list(rows[-1]["layers"])
    epochs = [r["epoch"] for r in rows]
    cmap = matplotlib.colormaps.get_cmap("viridis")
    fig, axes = new_figure(1, 2, figsize=(12, 4.6), layout="constrained")
    for k, name in enumerate(names):
        color = cmap(k / max(1, len(names) - 1))
        for ax, key in zip(axes, ("relative_change", "grad_norm")):
            values = [
                r["layers"][name][key] * (100 if key == "relative_change" else 1) for r in rows
            ]
            ax.plot(epochs, values, color=color, lw=1.5, marker="o", ms=3, label=name)
    axes[0].set_ylabel("change of the weights in the epoch (% of their norm)")
    axes[0].set_title("How far each layer moves")
    axes[1].set_ylabel("gradient norm (mean over the epoch's steps)")
    axes[1].set_title("How hard it is pushed")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))  # 50, not 5e1
        ax.yaxis.set_minor_formatter(NullFormatter())
    if len(names) <= 12:
        axes[1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    else:
        scale = matplotlib.cm.ScalarMappable(
            cmap=cmap, norm=matplotlib.colors.Normalize(1, len(names))
        )
        fig.colorbar(scale, ax=axes[1], label="layer (1 = first)")
    return fig


@styled
def weight_histograms(rows: list[dict[str, Any]], max_layers: int = 6) -> Figure:
    """Weight and bias distributions per layer, one line per recorded epoch coloured from early to
    late.

    ``rows`` are histograms.jsonl lines: {"epoch", "params": {name: {"counts", "edges", ...}}}.
    """
    layers = [
        name.removesuffix(".weight") for name in rows[-1]["params"] if name.endswith(".weight")
    ][:max_layers]
    epochs = [r["epoch"] for r in rows]
    cmap = matplotlib.colormaps.get_cmap("viridis")
    fig, axes = new_figure(
        len(layers), 2, figsize=(11, 2.3 * len(layers) + 0.6), squeeze=False, layout="constrained"
    )
    for i, layer in enumerate(layers):
        for j, kind in enumerate(("weight", "bias")):
            ax = axes[i, j]
            key = f"{layer}.{kind}"
            if key not in rows[-1]["params"]:
                ax.set_axis_off()
                ax.text(
                    0.5,
                    0.5,
                    f"{layer}: no bias (batch norm follows)",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    fontsize=8,
                    color="gray",
                )
                continue
            for k, row in enumerate(rows):
                h = row["params"].get(key)
                if h:
                    color = cmap(k / max(1, len(rows) - 1))
                    centres = (np.array(h["edges"][:-1]) + np.array(h["edges"][1:])) / 2
                    density = np.array(h["counts"]) / max(1, sum(h["counts"]))
                    ax.plot(centres, density * 100, color=color, lw=1.2)
            ax.set_title(f"{key}", fontsize=9)
            ax.set_ylim(bottom=0)
            ax.set_ylabel("% of values")
            if i == len(layers) - 1:
                ax.set_xlabel("value")
    if len(rows) > 1:
        mappable = matplotlib.cm.ScalarMappable(
            cmap=cmap, norm=matplotlib.colors.Normalize(min(epochs), max(epochs))
        )
        bar = fig.colorbar(mappable, ax=axes, fraction=0.02, pad=0.02, label="epoch")
        bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.suptitle(
            f"Weight and bias histograms over epochs {min(epochs)}-{max(epochs)}", fontweight="bold"
        )
    else:
        fig.suptitle("Weight and bias histograms of the final model", fontweight="bold")
    return fig
