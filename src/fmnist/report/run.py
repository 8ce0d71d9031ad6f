"""The report of one run: read the run directory, draw its figures (``fmnist.viz.run`` and
``fmnist.viz.explain`` draw them), write RUN_DIR/report/report.html.

Everything comes from files the run wrote (metrics, summary, predictions, recorded filters and
histograms, the final weights); nothing is trained. Feature maps need one forward pass of the saved
model on one test image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fmnist.analysis import robustness
from fmnist.data import CLASS_NAMES, load_arrays
from fmnist.data.loader import stratified_sample
from fmnist.errors import ConfigError
from fmnist.metrics import overfitting_start
from fmnist.report.html import Page
from fmnist.runs import RunDir

# what a model computes, not files: the same functions the recorder applies during training
from fmnist.training.record import first_layer_filters, weight_histograms

# as a module: its first_layer_filters and weight_histograms draw what the two above compute
from fmnist.viz import run as figures
from fmnist.viz.explain import attribution_grid, class_mean_maps
from fmnist.viz.plot import save

MAX_FEATURE_LAYERS = 6  # deep nets have 20+ convs: show this many, spread over the depth
# test embeddings in the PCA/t-SNE maps: clusters read as well as with 2,000, t-SNE in half the time
MAP_POINTS = 1000


def build_run_report(
    run_dir: str | Path, *, image: int | None = None, out: str | Path | None = None
) -> Path:
    """Write ``report.html`` and its PNG/GIF files into ``out`` (default RUN_DIR/report); returns
    the HTML path.

    Args:
        run_dir: a finished run directory.
        image: index of the test image whose feature maps are shown (default: the first test image).
        out: folder for the report.
    """
    from fmnist.inference import Run

    run = Run(run_dir)
    summary = run.summary  # a clear error if the run has not finished
    out = Path(out) if out else run.path / "report"
    arrays, _ = load_arrays(run.dir.read_config()["data"].get("data_dir"))
    test_images, test_labels = arrays["test_images"], arrays["test_labels"]
    image = 0 if image is None else image
    if not 0 <= image < len(test_images):
        raise ConfigError(
            "--image is not a test image index",
            allowed=f"0 to {len(test_images) - 1}",
            got=image,
            fix="--image 0",
        )
    _, _, probabilities = run.dir.read_predictions()

    page = Page(
        f"Run report: {summary['name']}",
        f"{run.path}  ·  model {summary['model']}  ·  seed {summary['seed']}",
    )
    _summary_section(page, summary)
    if run.is_baseline:
        page.text(
            "A scikit-learn baseline keeps no model (fmnist never pickles), so this report has no "
            "learning curves, filters or feature maps.",
            "note",
        )
        _errors_section(page, summary, test_images, test_labels, probabilities, out)
        return page.write(out / "report.html")
    _learning_section(page, run.metrics, summary, out)
    mistakes = _errors_section(page, summary, test_images, test_labels, probabilities, out)
    _explanation_section(page, run, test_images, test_labels, probabilities, mistakes, out)
    _filters_section(page, run.model, run.dir, out)
    _feature_map_section(page, run, test_images, test_labels, probabilities, image, out)
    _histogram_section(page, run.model, run.dir, out)
    _layer_section(page, run.dir, out)
    _embedding_section(page, run.dir, out)
    _robustness_section(page, run.path)
    return page.write(out / "report.html")


# -- sections ------------------------------------------------------------------------------------
def summary_cards(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The numbers of the summary card, formatted exactly as the page shows them."""
    val = summary.get("val_accuracy")
    return [
        ("test accuracy", f"{summary['test_accuracy']:.2%}"),
        ("test loss", f"{summary['test_loss']:.4f}"),
        ("best val accuracy", f"{val:.2%}" if val is not None else "no validation split"),
        (
            "best epoch",
            f"{summary['best_epoch']} of {summary['epochs_run']}"
            if summary.get("epochs_run")
            else "not trained in epochs",
        ),
        ("parameters", f"{summary['params']:,}"),
        ("MACs per image", f"{summary['macs']:,}"),
        ("training time", f"{summary['train_seconds']:.1f} s"),
        ("training images", f"{summary['train_images']:,}"),
        ("device", summary["device"]),
    ]


def _summary_section(page: Page, summary: dict[str, Any]) -> None:
    page.section("Summary")
    page.cards(summary_cards(summary))


def _learning_section(
    page: Page, metrics: list[dict[str, Any]], summary: dict[str, Any], out: Path
) -> None:
    page.section("Learning curves")
    if not metrics:
        page.text("metrics.jsonl holds no epochs.", "note")
        return
    best = summary["best_epoch"] if summary.get("val_accuracy") is not None else None
    path = save(figures.learning_curves(metrics, best), out / "learning_curves.png")
    overfit = overfitting_start(metrics)
    verdict = (
        (
            f"Overfitting starts after epoch {overfit}: validation loss rises from there while "
            "training loss keeps falling."
        )
        if overfit
        else (
            "No overfitting seen: validation loss did not rise more than 2% above its minimum "
            "by the last epoch."
        )
    )
    page.figure(
        path,
        f"Train vs validation loss and accuracy; dashed line: best validation epoch. {verdict}",
    )


def _errors_section(
    page: Page,
    summary: dict[str, Any],
    images: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    out: Path,
) -> list[int]:
    """The confusion matrix, per-class scores, calibration and the most confidently wrong test
    images; returns the indices of those images, most confident first."""
    page.section("Confusion matrix")
    page.figure(
        save(figures.confusion_matrices(summary["confusion_matrix"]), out / "confusion_matrix.png"),
        "Left: counts of the 10,000 test images; right: each row as a share of its true class "
        "(the diagonal is the recall).",
    )
    page.section("Precision, recall and F1 per class")
    page.figure(
        save(figures.per_class_scores(summary["per_class"]), out / "per_class.png"),
        "From summary.json; the lowest bars are the classes the model confuses most.",
    )
    rows = [
        [name, f"{s['precision']:.2%}", f"{s['recall']:.2%}", f"{s['f1']:.2%}", f"{s['support']:,}"]
        for name, s in summary["per_class"].items()
    ]
    page.table(["class", "precision", "recall", "F1", "test images"], rows, table_id="per-class")
    if summary.get("calibration"):  # runs from before 2026-12-02 kept none
        _calibration_section(page, summary["calibration"], labels, probabilities, out)
    page.section("Most confidently wrong test images")
    figure, shown = figures.confident_mistakes(images, labels, probabilities)
    page.figure(
        save(figure, out / "confident_mistakes.png"),
        "Wrong predictions sorted by the probability the model gave its (wrong) answer; "
        "some are label noise, many are shirts vs T-shirts, pullovers and coats.",
    )
    page.table(
        ["test index", "true class", "predicted", "probability"],
        [[r["index"], r["true"], r["predicted"], f"{r['probability']:.1%}"] for r in shown[:10]],
        table_id="mistakes",
    )
    return [r["index"] for r in shown]


EXPLAINED_MISTAKES = 6
MEAN_MAP_IMAGES = 20  # correctly classified test images per class in its mean map


def _explanation_section(
    page: Page,
    run,
    images: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    mistakes: list[int],
    out: Path,
) -> None:
    from fmnist.explain import explain_images

    page.section("Why it says what it says")
    try:
        _, explained = explain_images(run.predictor, images[mistakes[:EXPLAINED_MISTAKES]])
    except ConfigError as exc:  # captum is an extra: the rest of the report stands without it
        page.text(f"No attribution maps: {exc}", "note")
        return
    predicted = probabilities.argmax(1)
    captions = [
        (
            f"#{i}: {CLASS_NAMES[labels[i]]}",
            f"said {CLASS_NAMES[predicted[i]]} ({probabilities[i].max():.0%})",
        )
        for i in mistakes[:EXPLAINED_MISTAKES]
    ]
    page.figure(
        save(attribution_grid(
            images[mistakes[:EXPLAINED_MISTAKES]], captions, [e.maps for e in explained],
            title="The most confidently wrong: where the model looked",
        ), out / "mistake_maps.png"),
        "For the class the model wrongly chose: Integrated Gradients (black baseline; red for the "
        "class, blue against), saliency, Grad-CAM on the last convolution and occlusion by a 4x4 "
        "patch (fmnist.explain says why these).",
    )  # fmt: skip
    correct = [
        np.flatnonzero((labels == k) & (predicted == k))[:MEAN_MAP_IMAGES] for k in range(10)
    ]
    _, per_class = explain_images(run.predictor, images[np.concatenate(correct)])
    maps = np.array([e.maps["integrated_gradients"] for e in per_class])
    bounds = np.cumsum([0, *map(len, correct)])
    page.figure(
        save(
            class_mean_maps(
                [images[c].mean(0) if len(c) else np.zeros((28, 28)) for c in correct],
                [
                    maps[a:b].mean(0) if b > a else np.zeros((28, 28))
                    for a, b in zip(bounds[:-1], bounds[1:])
                ],
            ),
            out / "class_maps.png",
        ),  # a class the model never gets right shows blank
        f"Each class's mean Integrated Gradients map over {MEAN_MAP_IMAGES} correctly classified "
        "test images, on their mean image: the pixels that make a garment that class.",
    )


def _calibration_section(
    page: Page, calibration: dict[str, Any], labels: np.ndarray, probabilities: np.ndarray, out
) -> None:
    page.section("Calibration: can its confidence be trusted?")
    path = save(
        figures.reliability_diagram(labels, probabilities, calibration), out / "reliability.png"
    )
    page.figure(
        path,
        "Of the test images predicted with a given confidence, the share that is right. The "
        "temperature T is fitted on the validation split and divides the logits (predict, serve "
        "and the ONNX export use it); it changes no predicted class.",
    )
    rows = [["as trained", *_calibration_cells(calibration)]]
    if calibration.get("after_scaling"):
        rows.append(
            [
                f"T = {calibration['temperature']:.3f}",
                *_calibration_cells(calibration["after_scaling"]),
            ]
        )
    page.table(["test set", "ECE", "NLL", "Brier"], rows, table_id="calibration")


def _calibration_cells(scores: dict[str, float]) -> list[str]:
    return [f"{scores['ece']:.2%}", f"{scores['nll']:.4f}", f"{scores['brier']:.4f}"]


def _robustness_section(page: Page, run_path: Path) -> None:
    """The heat map of ``fmnist robustness RUN``, where it was measured (it is not re-measured
    here: a report reads the run folder)."""
    measured = robustness.read(run_path)
    if measured is None:
        return
    page.section("Robustness to corruptions")
    errors = measured.mean_corruption_error
    against = f"; mCE {errors:.3f} against {measured.reference.run}" if errors is not None else ""
    page.figure(
        run_path / robustness.FOLDER / "heatmap.png",
        f"The final model on {measured.images:,} test images under 14 corruptions (after "
        f"MNIST-C) at 5 severities: {100 * measured.mean:.2f} % on average, "
        f"{100 * measured.clean:.2f} % clean{against}. From fmnist robustness.",
    )
    page.figure(run_path / robustness.FOLDER / "corruptions.png", "One test image under each.")


def _filters_section(page: Page, model: nn.Module, run_dir: RunDir, out: Path) -> None:
    page.section("First-layer filters")
    filters = first_layer_filters(model)
    if filters is None:
        page.text(
            "The first layer takes neither image patches nor the 784 pixels, so it has no picture.",
            "note",
        )
        return
    kind = (
        "convolution kernels"
        if filters.shape[-1] < 28
        else "weights of the first units, as 28x28 templates"
    )
    page.figure(
        save(
            figures.first_layer_filters(filters, f"First-layer {kind} (final model)"),
            out / "filters.png",
        ),
        f"Red: positive weights, blue: negative, each filter on its own scale; "
        f"{len(filters)} shown.",
    )
    recorded = run_dir.read_filters()
    if recorded is None:
        page.text(
            "No filter history: train with --record filters to get a GIF of the filters evolving "
            "over the epochs.",
            "note",
        )
        return
    epochs, history = recorded
    gif = figures.filter_evolution_gif(epochs, history, out / "filters_evolution.gif")
    page.figure(
        gif,
        f"The same filters from their random initial values (epoch 0) to epoch {int(epochs[-1])}, "
        "one frame per epoch.",
        half=True,
    )


def _feature_map_section(
    page: Page,
    run,
    images: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    index: int,
    out: Path,
) -> None:
    page.section("Feature maps")
    maps = conv_feature_maps(run.model, run.inputs(images[index : index + 1]))
    if not maps:
        page.text(
            "This model has no convolution layers, so there are no feature maps; "
            "see the first-layer templates above.",
            "note",
        )
        return
    predicted = int(probabilities[index].argmax())
    title = (
        f"Feature maps of test image #{index} (true: {CLASS_NAMES[labels[index]]}, "
        f"predicted: {CLASS_NAMES[predicted]} {probabilities[index, predicted]:.0%})"
    )
    path = save(figures.feature_maps(images[index], maps, title), out / f"feature_maps_{index}.png")
    page.figure(
        path,
        f"{title}. Each row is one convolution layer's output after its normalisation and "
        "activation (first 8 channels); bright: strong response. "
        "Choose another image with --image INDEX.",
    )


def _histogram_section(page: Page, model: nn.Module, run_dir: RunDir, out: Path) -> None:
    page.section("Weight histograms")
    rows = run_dir.read_histograms()
    caption = (
        "Distribution of each layer's weights and biases, one line per recorded epoch "
        "(dark: early, yellow: late)."
    )
    if not rows:
        rows = [{"epoch": None, "params": weight_histograms(model)}]
        caption = (
            "Distribution of each layer's weights and biases in the final model "
            "(train with --record histograms to see them change over the epochs)."
        )
    page.figure(save(figures.weight_histograms(rows), out / "weight_histograms.png"), caption)


def _layer_section(page: Page, run_dir: RunDir, out: Path) -> None:
    rows = run_dir.read_layers()
    if not rows:  # recorded on request only: --record layers
        return
    page.section("Does every layer learn?")
    last = rows[-1]["layers"]
    least = min(last, key=lambda name: last[name]["relative_change"])
    most = max(last, key=lambda name: last[name]["relative_change"])
    page.figure(
        save(figures.layer_learning(rows), out / "layer_learning.png"),
        "Each conv and linear layer's weight change per epoch as a share of its weights' norm, "
        "and its mean gradient norm, from layers.jsonl. In the last epoch "
        f"{least} moved least ({last[least]['relative_change']:.2%}) and {most} most "
        f"({last[most]['relative_change']:.2%}).",
    )


def _embedding_section(page: Page, run_dir: RunDir, out: Path) -> None:
    embeddings = run_dir.read_embeddings()
    if embeddings is None:
        return
    from fmnist.viz.maps import pca_and_tsne

    page.section("Learned features of test images")
    pick = stratified_sample(embeddings["labels"], MAP_POINTS)
    for path, caption in pca_and_tsne(
        embeddings["features"][pick],
        embeddings["labels"][pick],
        out,
        "the penultimate-layer features",
        "embedding",
    ):
        page.figure(path, caption, half=True)


# -- feature maps ------------------------------------------------------------------------------
_AFTER_CONV = (
    nn.BatchNorm2d,
    nn.ReLU,
    nn.LeakyReLU,
    nn.ELU,
    nn.SELU,
    nn.GELU,
    nn.Tanh,
    nn.Sigmoid,
    nn.Identity,
)


@torch.no_grad()
def conv_feature_maps(
    model: nn.Module, x: torch.Tensor, max_layers: int = MAX_FEATURE_LAYERS
) -> list[tuple[str, np.ndarray]]:
    """(label, (C, H, W) output) per convolution, taken after the BN/activation that directly
    follows it.

    Forward hooks on every leaf module record outputs in call order; a conv's map is the last output
    of the unbroken run of BN/activation modules after it (what the next layer actually sees).
    """
    calls: list[tuple[nn.Module, torch.Tensor]] = []
    hooks = [
        m.register_forward_hook(lambda mod, _inp, output: calls.append((mod, output)))
        for m in model.modules()
        if not list(m.children())
    ]
    try:
        model.eval()
        model(x)
    finally:
        for h in hooks:
            h.remove()
    maps = []
    for i, (module, output) in enumerate(calls):
        if not isinstance(module, nn.Conv2d):
            continue
        j = i
        while (
            j + 1 < len(calls)
            and isinstance(calls[j + 1][0], _AFTER_CONV)
            and calls[j + 1][1].shape == output.shape
        ):
            j += 1
        maps.append(output if j == i else calls[j][1])
    names = [f"conv {k + 1}" for k in range(len(maps))]
    keep = (
        np.unique(np.linspace(0, len(maps) - 1, min(max_layers, len(maps))).round().astype(int))
        if maps
        else []
    )
    return [(names[k], maps[k][0].float().cpu().numpy()) for k in keep]
