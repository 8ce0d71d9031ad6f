"""Evaluation, one way for training and inference: a model's logits for a split, as its run
evaluates it (eval mode, its precision and layout, flip TTA), and the loss and accuracy on them.

It needs a model and the data, nothing of training's: no optimiser, no EMA, no progress bar.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fmnist.config import TrainConfig
from fmnist.data import DeviceSplits
from fmnist.data.augment import tta_views
from fmnist.training.hardware import Precision, autocast


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
