"""What is measured of a model while it trains: its evaluation, and optional records for reports
and TensorBoard (``--record filters,histograms,layers,embeddings,tensorboard``).

Evaluation is one way for training and inference: a model's logits for a split as its run
evaluates it (eval mode, its precision and layout, flip TTA), and the loss and accuracy on them.
It needs a model and the data, nothing of training's: no optimiser, no EMA, no progress bar.

What each record holds, and the files it is kept in, is ``fmnist.runs``'s to say: the recorder
computes and ``RunDir`` writes. TensorBoard gets scalars, weight histograms, the first layer's
filters as an image and the test features for its embedding projector.

The recorder only reads weights and gradients (``layers``: a hook adds each weight's gradient norm
to a running sum) and runs forward passes in eval mode without gradients, and never draws from
torch's random generators, so a run gives the same metrics with and without it.

Resume: records are written *before* the epoch's checkpoint. A crash between the two leaves a record
of an epoch the checkpoint does not hold; ``begin`` drops every record after the checkpoint's epoch
(and TensorBoard's ``purge_step`` hides those events), so the resumed run rewrites them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fmnist.config import RecordConfig, TrainConfig
from fmnist.data import DeviceSplits
from fmnist.data.loader import stratified_sample, tta_views
from fmnist.errors import ConfigError
from fmnist.runs import RunDir
from fmnist.training.hardware import Precision, autocast

# an MLP's first layer has hundreds of 784-pixel units; 64 show the pattern at a fraction of the
# bytes
MAX_FILTERS = 64
HIST_BINS = 40
# stratified test images in the recorded embeddings and the projector: enough for t-SNE, small
# on disk
EMBED_SAMPLES = 2000
EMBED_SEED = 0  # a numpy generator of its own: sampling must not touch torch's RNG


# -- what to record (pure functions of a model, reused by reports) -----------------------------
def first_layer(model: nn.Module) -> nn.Module | None:
    """The first Conv2d or Linear layer in module order: the one that looks at pixels."""
    return next((m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))), None)


def first_layer_filters(model: nn.Module, limit: int = MAX_FILTERS) -> np.ndarray | None:
    """(N, h, w) images of the first layer's weights: conv kernels (input channels averaged), or a
    Linear layer's 784 weights per unit seen as a 28x28 template. None if it takes neither shape."""
    layer = first_layer(model)
    if layer is None:
        return None
    w = layer.weight.detach().float().cpu()
    if isinstance(layer, nn.Conv2d):
        w = w.mean(1)
    elif w.shape[1] == 28 * 28:
        w = w.reshape(-1, 28, 28)
    else:
        return None
    return w[:limit].numpy().copy()


def weight_histograms(model: nn.Module, bins: int = HIST_BINS) -> dict[str, dict[str, Any]]:
    """Histogram and moments of every weight and bias of conv/linear layers (BN scales are left
    out)."""
    out = {}
    for module_name, module in model.named_modules():
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        for kind in ("weight", "bias"):
            param = getattr(module, kind, None)
            if param is None:
                continue
            values = param.detach().float().cpu().numpy().ravel()
            # ~sqrt(n) bins: 8 biases get 5 bins, not 40 mostly-empty ones
            counts, edges = np.histogram(values, bins=int(np.clip(np.sqrt(values.size), 5, bins)))
            out[f"{module_name}.{kind}"] = {
                "counts": counts.tolist(),
                "edges": edges.round(6).tolist(),
                "mean": float(values.mean()),
                "std": float(values.std()),
            }
    return out


@torch.no_grad()
def learning_layers(model: nn.Module) -> dict[str, nn.Parameter]:
    """The weight of every conv and linear layer, by module name: the layers whose learning
    ``record.layers`` follows (biases and BN scales are left out)."""
    return {
        name: module.weight
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear))
    }


class LayerChanges:
    """Per epoch and layer: ||W_t - W_(t-1)|| / ||W_(t-1)||, and the mean over the epoch's steps
    of the weight's gradient norm (summed by a backward hook, read once an epoch)."""

    def __init__(self, model: nn.Module) -> None:
        self.weights = learning_layers(model)
        self.before = {name: w.detach().float().clone() for name, w in self.weights.items()}
        self.sums = {name: torch.zeros((), device=w.device) for name, w in self.weights.items()}
        self.steps = 0
        self.hooks = [w.register_hook(self._hook(name)) for name, w in self.weights.items()]

    def _hook(self, name: str):
        def add(grad: torch.Tensor) -> None:
            self.sums[name] += grad.detach().float().norm()
            if name == next(iter(self.weights)):
                self.steps += 1  # one backward pass reaches every weight once

        return add

    def epoch_row(self, epoch: int) -> dict[str, Any]:
        layers = {}
        for name, weight in self.weights.items():
            now = weight.detach().float()
            change = (now - self.before[name]).norm() / self.before[name].norm().clamp_min(1e-12)
            layers[name] = {
                "relative_change": change.item(),
                "grad_norm": self.sums[name].item() / max(self.steps, 1),
            }
            self.before[name] = now.clone()
            self.sums[name].zero_()
        self.steps = 0
        return {"epoch": epoch, "layers": layers}

    def close(self) -> None:
        for hook in self.hooks:
            hook.remove()


@torch.no_grad()
def penultimate_features(model: nn.Module, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """``forward_features`` of normalised images in eval mode (no dropout, BN running stats)."""
    was_training = model.training
    model.eval()
    out = torch.cat(
        [
            model.forward_features(x[i : i + batch]).float().flatten(1)
            for i in range(0, len(x), batch)
        ]
    )
    model.train(was_training)
    return out.cpu()


def filter_images(filters: np.ndarray) -> np.ndarray:
    """(N, 1, h + 2, w + 2): each filter scaled to [0, 1] in a white frame, so that TensorBoard's
    grid of them shows where one filter ends and the next begins."""
    lo = filters.min(axis=(1, 2), keepdims=True)
    hi = filters.max(axis=(1, 2), keepdims=True)
    scaled = (filters - lo) / (hi - lo + 1e-12)
    return np.pad(scaled, ((0, 0), (1, 1), (1, 1)), constant_values=1.0)[:, None]


# -- the recorder the trainer calls ------------------------------------------------------------
class Recorder:
    """Writes what ``cfg`` asks for into ``run``; every hook is a no-op when nothing is asked.

    The trainer calls ``begin`` at the start of ``fit`` (fresh or resumed), ``epoch_end`` after each
    epoch (before its checkpoint) and ``end`` after training with the final weights in place.
    """

    def __init__(self, cfg: RecordConfig, run: RunDir | None) -> None:
        self.cfg, self.run = cfg, run
        self.enabled = run is not None and cfg != RecordConfig()
        self.writer = None
        self.layers: LayerChanges | None = None
        self._filters: list[np.ndarray] = []
        self._filter_epochs: list[int] = []

    def begin(self, trainer) -> None:
        if not self.enabled:
            return
        epoch = trainer.epoch
        if self.cfg.filters:
            self._restore_filters(epoch)
            if epoch == 0:
                self._add_filters(trainer.eval_model, 0)
        if self.cfg.histograms:
            self.run.write_histograms(
                [r for r in self.run.read_histograms() if r["epoch"] <= epoch]
            )
            if epoch == 0:
                self._append_histograms(trainer.eval_model, 0)
        if self.cfg.layers:
            self.run.write_layers([r for r in self.run.read_layers() if r["epoch"] <= epoch])
            self.layers = LayerChanges(trainer.model)  # the trained weights, not an EMA of them
        if self.cfg.tensorboard:
            self.writer = _summary_writer(
                self.run.tensorboard_dir, purge_step=epoch + 1 if epoch else None
            )
            if epoch == 0:
                self._tensorboard_weights(trainer.eval_model, 0)

    def epoch_end(self, trainer, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        model, epoch = trainer.eval_model, trainer.epoch
        if self.cfg.filters:
            self._add_filters(model, epoch)
        if self.cfg.histograms:
            self._append_histograms(model, epoch)
        if self.layers is not None:
            changes = self.layers.epoch_row(epoch)
            self.run.append_layers(changes)
            if self.writer is not None:
                self._tensorboard_layers(changes)
        if self.writer is not None:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self.writer.add_scalar(_scalar_tag(key), value, epoch)
            self._tensorboard_weights(model, epoch)
            self.writer.flush()

    def end(self, trainer) -> None:
        if not self.enabled:
            return
        if self.cfg.embeddings or self.writer is not None:
            self._embeddings(trainer, trainer.eval_model)
        self.close()

    def close(self) -> None:
        """Close the TensorBoard writer and remove the gradient hooks (also when training stopped
        early: pruned, diverged)."""
        if self.layers is not None:
            self.layers.close()
            self.layers = None
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    # -- filters -------------------------------------------------------------------------------
    def _restore_filters(self, epoch: int) -> None:
        old = self.run.read_filters()
        self._filters, self._filter_epochs = [], []
        if old is not None:
            keep = old[0] <= epoch
            self._filter_epochs, self._filters = old[0][keep].tolist(), list(old[1][keep])

    def _add_filters(self, model: nn.Module, epoch: int) -> None:
        filters = first_layer_filters(model)
        if filters is None:
            return
        self._filters.append(filters)
        self._filter_epochs.append(epoch)
        # The whole history is rewritten each epoch: a few hundred kB per rewrite is nothing next
        # to the checkpoint.
        self.run.write_filters(np.array(self._filter_epochs), np.stack(self._filters))

    # -- histograms ----------------------------------------------------------------------------
    def _append_histograms(self, model: nn.Module, epoch: int) -> None:
        self.run.append_histograms({"epoch": epoch, "params": weight_histograms(model)})

    # -- TensorBoard ---------------------------------------------------------------------------
    def _tensorboard_weights(self, model: nn.Module, epoch: int) -> None:
        for name, param in model.named_parameters():
            self.writer.add_histogram(f"weights/{name}", param.detach().float().cpu(), epoch)
        filters = first_layer_filters(model)
        if filters is not None:
            self.writer.add_images("first_layer_filters", filter_images(filters), epoch)

    def _tensorboard_layers(self, changes: dict[str, Any]) -> None:
        for name, row in changes["layers"].items():
            self.writer.add_scalar(
                f"layers/relative_change/{name}", row["relative_change"], changes["epoch"]
            )
            self.writer.add_scalar(f"layers/grad_norm/{name}", row["grad_norm"], changes["epoch"])

    # -- embeddings ----------------------------------------------------------------------------
    def _embeddings(self, trainer, model: nn.Module) -> None:
        labels = trainer.data.labels["test"].cpu().numpy()
        index = stratified_sample(labels, EMBED_SAMPLES, EMBED_SEED)
        x = trainer.data.normalize(
            trainer.data.images["test"][torch.from_numpy(index).to(trainer.device)].float() / 255
        )
        features = penultimate_features(model, in_layout(x, trainer.cfg.train))
        if self.cfg.embeddings:
            self.run.write_embeddings(features.numpy(), labels[index], index)
        if self.writer is not None:
            from fmnist.data import CLASS_NAMES

            thumbs = (
                trainer.data.images["test"][torch.from_numpy(index).to(trainer.device)]
                .float()
                .cpu()
                / 255
            )
            self.writer.add_embedding(
                features,
                metadata=[CLASS_NAMES[k] for k in labels[index]],
                label_img=thumbs,
                global_step=trainer.epoch,
                tag="test_features",
            )


def _scalar_tag(key: str) -> str:
    """train_loss -> loss/train, val_accuracy -> accuracy/val: TensorBoard puts train and val on one
    chart."""
    split, _, metric = key.partition("_")
    return f"{metric}/{split}" if split in ("train", "val") and metric else key


def _summary_writer(logdir: Path, purge_step: int | None):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError(
            "record.tensorboard needs the tensorboard package",
            fix="pip install 'fmnist[tensorboard]' (or --set record.tensorboard=false)",
        ) from None
    return SummaryWriter(str(logdir), purge_step=purge_step)


# -- evaluation, one way for training and inference


@torch.no_grad()
def predict_logits(
    model: nn.Module, x: torch.Tensor, cfg: TrainConfig, precision: Precision
) -> torch.Tensor:
    """Float logits of normalised images as a run evaluates them: eval mode, its precision and
    layout; with ``tta_flip``/``tta_shift``, the mean over the views ``tta_views`` makes (clothes
    are left-right symmetric, and a garment a pixel off-centre is the same garment)."""
    model.eval()
    views = tta_views(x, cfg.tta_flip, cfg.tta_shift)
    with autocast(x.device, precision):
        return torch.stack([model(in_layout(view, cfg)).float() for view in views]).mean(0)


def in_layout(x: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """``x`` in the memory layout the run's model takes (NHWC with ``channels_last``)."""
    return x.contiguous(memory_format=torch.channels_last) if cfg.channels_last else x


def split_logits(
    model: nn.Module, data: DeviceSplits, split: str, cfg: TrainConfig, precision: Precision
) -> torch.Tensor:
    """Logits for every image of ``split``, in order, in batches of ``cfg.eval_batch_size``."""
    batches = data.batches(split, cfg.eval_batch_size)
    return torch.cat([predict_logits(model, x, cfg, precision) for x, _ in batches])


def scores(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Mean cross-entropy loss and accuracy of ``logits`` against ``labels``."""
    return {
        "loss": F.cross_entropy(logits, labels).item(),
        "accuracy": (logits.argmax(1) == labels).float().mean().item(),
    }
