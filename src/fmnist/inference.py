"""Use what a run trained: ``fmnist.load("runs/<run>/ckpt/final.pt")`` gives a ``Predictor``;
``Run(path)`` is a finished run directory with its config, metrics, summary and model.

final.pt carries all that inference needs: the weights, the resolved config (the model, and how the
run evaluated it: precision, layout, flip TTA), the normalisation and the class names. So a
checkpoint file is usable without its run directory, and it is still loaded with
``weights_only=True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fmnist.config import RunConfig, build_config
from fmnist.data import CLASS_NAMES, SPLITS, DeviceSplits, load_arrays
from fmnist.errors import ConfigError, RunDirError
from fmnist.models import create_model
from fmnist.models.user import restore as restore_model
from fmnist.runner.make import recorded_config
from fmnist.runs import RunDir
from fmnist.training.hardware import choose_precision, native_bf16, pin_precision, resolve_device
from fmnist.training.record import predict_logits, scores, split_logits
from fmnist.training.trainer import load_checkpoint, require_keys

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class Predictor:
    """A trained model ready to predict: (N, 28, 28) uint8 images -> (N, 10) class probabilities.

    Args:
        state: the model's weights.
        config: the run's resolved config (an ``auto`` precision is resolved for ``device``).
        mean: the training split's pixel mean (the normalisation).
        std: the training split's pixel standard deviation (the normalisation).
        class_names: the label of each output.
        temperature: the logits are divided by it before the softmax (temperature scaling,
            fitted on the run's validation split: ``fmnist.metrics``); 1 leaves them.
        device: where to compute (default: a GPU when there is one, else the CPU).
    """

    def __init__(
        self,
        state: dict[str, torch.Tensor],
        config: RunConfig,
        *,
        mean: float,
        std: float,
        class_names: tuple[str, ...] | list[str] = CLASS_NAMES,
        temperature: float = 1.0,
        device: torch.device | str | None = None,
    ) -> None:
        self.config, self.mean, self.std, self.class_names = config, mean, std, tuple(class_names)
        self.temperature = temperature
        self.device = torch.device(device) if device is not None else resolve_device("auto")
        self.precision = choose_precision(
            config.train.precision, self.device.type, native_bf16(self.device)
        ).precision
        module = create_model(config.model.name, **config.model.options)
        try:
            module.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as exc:  # torch's words for a misfit
            raise RunDirError(
                f"the checkpoint's weights do not fit model '{config.model.name}' of its config "
                f"({str(exc).splitlines()[0][:120]})",
                fix="the checkpoint or the config was replaced: restore both from the same run, "
                "or train the run again",
            ) from None
        if config.train.channels_last:
            module = module.to(memory_format=torch.channels_last)  # the layout the run evaluated in
        self.module = module.to(self.device).eval()

    def inputs(self, images: np.ndarray) -> torch.Tensor:
        """(N, 28, 28) uint8 images -> the (N, 1, 28, 28) normalised tensor the model takes, on its
        device."""
        x = (
            torch.from_numpy(np.array(images, dtype=np.float32))
            .reshape(-1, 1, 28, 28)
            .to(self.device)
            / 255
        )
        return (x - self.mean) / self.std

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 10) for (N, 28, 28) uint8 images (0-255), light object on
        black, at the run's fitted temperature."""
        train = self.config.train
        batches = self.inputs(images).split(train.eval_batch_size)
        logits = torch.cat([predict_logits(self.module, x, train, self.precision) for x in batches])
        return torch.softmax(logits / self.temperature, 1).cpu().numpy()


def load(path: str | Path, *, device: torch.device | str | None = None) -> Predictor:
    """The model in a final.pt checkpoint, with the precision, layout and TTA its run evaluated it
    with."""
    state = load_checkpoint(Path(path), required=("model",))
    if "config" not in state:
        raise RunDirError(
            f"{path} holds weights without their config (made before checkpoints carried it); "
            "load its run instead: fmnist.load_run(RUN_DIR)"
        )
    require_keys(state, ("precision", "mean", "std"), Path(path))
    name = str(state["config"].get("model", {}).get("name", ""))
    restore_model(name, state.get("model_source"), f"checkpoint {path}")
    config = pin_precision(build_config(state["config"]), state["precision"])
    return _predictor(state, config, device)


def _predictor(final: dict[str, Any], config: RunConfig, device=None) -> Predictor:
    """The Predictor of a final.pt's contents, evaluated with ``config``."""
    return Predictor(
        final["model"],
        config,
        mean=final["mean"],
        std=final["std"],
        class_names=final.get("class_names", CLASS_NAMES),
        temperature=final.get("temperature") or 1.0,  # none before 2026-12-02, or no val split
        device=device,
    )


class Run:
    """A finished run directory: its config, metrics and summary, and its model for
    evaluate/predict (on a GPU when there is one)."""

    def __init__(self, path: str | Path) -> None:
        self.dir = RunDir.open(path)
        self.path = self.dir.path

    def __repr__(self) -> str:
        acc = self.summary.get("test_accuracy") if self.dir.is_complete else None
        return f"Run({str(self.path)!r}, test_accuracy={acc})"

    @property
    def is_baseline(self) -> bool:
        """A scikit-learn baseline run: summary, predictions and config, but no model."""
        return "baseline" in self.dir.read_config()

    @cached_property
    def config(self) -> RunConfig:
        """The config the run trained with, as its folder records it (a baseline run keeps none)."""
        if self.is_baseline:
            # Fitted scikit-learn estimators could only be kept as pickles, which fmnist never
            # loads.
            raise RunDirError(
                f"{self.path} is a scikit-learn baseline run: it keeps no fitted model",
                fix="read its test scores in summary.json (fmnist table, fmnist report)",
            )
        return recorded_config(self.dir)

    @property
    def summary(self) -> dict[str, Any]:
        """summary.json of the finished run: test accuracy and loss, per-class scores, confusion
        matrix, calibration, best epoch, training time, parameters and device."""
        return self.dir.read_summary()

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """One dict per finished epoch (metrics.jsonl): its losses, accuracies and learning rate."""
        return self.dir.read_metrics()

    @property
    def history(self) -> dict[str, list[Any]]:
        """The per-epoch metrics as Keras' ``History.history`` holds them: one list per metric
        (``history["val_accuracy"][-1]`` is the last epoch's)."""
        metrics = self.metrics
        names = dict.fromkeys(name for row in metrics for name in row)
        return {name: [row.get(name) for row in metrics] for name in names}

    # -- figures: each returns a matplotlib Figure (a notebook shows it; .savefig writes it) ------
    def plot_curves(self) -> Figure:
        """Train and validation loss and accuracy per epoch, the best epoch marked."""
        from fmnist.viz.run import learning_curves

        best = self.summary.get("best_epoch") if self.summary.get("val_accuracy") else None
        return learning_curves(self.metrics, best)

    def plot_confusion(self) -> Figure:
        """The test confusion matrix, as counts and as shares of each true class."""
        from fmnist.viz.run import confusion_matrices

        return confusion_matrices(self.summary["confusion_matrix"])

    def plot_per_class(self) -> Figure:
        """Test precision, recall and F1 of each class."""
        from fmnist.viz.run import per_class_scores

        return per_class_scores(self.summary["per_class"])

    def plot_mistakes(self, count: int = 18) -> Figure:
        """The ``count`` test images the model got wrong with the highest confidence, from the
        run's kept test predictions."""
        from fmnist.viz.run import confident_mistakes

        arrays, _ = load_arrays(self.dir.read_config()["data"].get("data_dir"))
        _, _, probabilities = self.dir.read_predictions()
        figure, _ = confident_mistakes(
            arrays["test_images"], arrays["test_labels"], probabilities, count=count
        )
        return figure

    def plot_reliability(self) -> Figure:
        """Accuracy against confidence on the test set, before and after the temperature scaling
        fitted on the validation split (from the run's kept predictions)."""
        from fmnist.viz.run import reliability_diagram

        calibration = self.summary.get("calibration")
        if not calibration:
            raise RunDirError(
                f"{self.path} kept no calibration (runs from before 2026-12-02)",
                fix="train it again, or look at another run's",
            )
        labels, _, probabilities = self.dir.read_predictions()
        return reliability_diagram(labels, probabilities, calibration)

    def plot_filters(self) -> Figure:
        """The first layer's filters (conv kernels, or an MLP's first units as 28x28 templates)."""
        from fmnist.training.record import first_layer_filters
        from fmnist.viz.run import first_layer_filters as draw_filters

        filters = first_layer_filters(self.model)
        if filters is None:
            raise ConfigError(
                f"the first layer of {self.summary['model']} takes neither image patches nor "
                "the 784 pixels, so it has no picture",
                fix="plot another run's filters, or look at run.plot_curves()",
            )
        return draw_filters(filters, f"First-layer filters of {self.summary['name']}")

    @cached_property
    def predictor(self) -> Predictor:
        """The final model, ready for ``predict``."""
        config = self.config  # a clear error for a baseline run, which keeps no model
        self.dir.read_summary()  # and for a run that never finished
        final = load_checkpoint(RunDir(self.path).final_ckpt, required=("model", "mean", "std"))
        return _predictor(final, config)

    @property
    def model(self) -> torch.nn.Module:
        """The final model (a ``torch.nn.Module`` in eval mode, on the predictor's device)."""
        return self.predictor.module

    def evaluate(self, split: str = "test") -> dict[str, float]:
        """Loss and accuracy of the final model on ``split`` ('train', 'val' or 'test'),
        recomputed in batches on the predictor's device."""
        if split not in SPLITS:
            raise ConfigError(
                f"unknown split {split!r}",
                allowed=", ".join(SPLITS),
                fix="--split val, or run.evaluate('val')",
            )
        predictor = self.predictor
        data = DeviceSplits(self.config.data, predictor.device)
        logits = split_logits(predictor.module, data, split, self.config.train, predictor.precision)
        return scores(logits, data.labels[split])

    def inputs(self, images: np.ndarray) -> torch.Tensor:
        """(N, 28, 28) uint8 images -> the (N, 1, 28, 28) normalised tensor the model takes."""
        return self.predictor.inputs(images)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 10) for (N, 28, 28) uint8 images (0-255), light object on
        black."""
        return self.predictor.predict(images)


@dataclass
class Classified:
    """One image's prediction: its ``top`` (class name, probability) pairs, or the ``error`` that
    kept it from being read; ``warnings`` say what makes the prediction doubtful."""

    name: str
    top: list[tuple[str, float]]
    warnings: list[str]
    error: str | None = None
    shown: Path | None = None


def classify_files(
    run: Run, images: Sequence[str | Path], *, top: int = 3, show: str | Path | None = None
) -> list[Classified]:
    """The ``top`` classes and probabilities of each image file by ``run``'s model (photos,
    prepared as Fashion-MNIST was made; .npy arrays of 28x28 uint8). A file that cannot be read
    gets its error and the others are still classified. ``show``: a folder where each input is
    saved as the model saw it."""
    if not 1 <= top <= 10:
        raise ConfigError("--top is out of range", allowed="1 to 10", got=top)
    from fmnist.data.images import read_images, save_input

    inputs = read_images(list(images))
    readable = [i.pixels for i in inputs if i.error is None]
    predictor = run.predictor
    probabilities = iter(predictor.predict(np.stack(readable)) if readable else [])
    results = []
    for k, item in enumerate(inputs):
        if item.error is not None:
            results.append(Classified(item.name, [], [], item.error))
            continue
        probs = next(probabilities)
        best = [(predictor.class_names[c], float(probs[c])) for c in probs.argsort()[::-1][:top]]
        where = Path(show) / f"{k:03d}-{Path(item.name).stem}.png" if show else None
        shown = save_input(item, where) if where else None
        results.append(Classified(item.name, best, item.warnings, shown=shown))
    return results
