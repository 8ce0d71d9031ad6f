"""Optimisers by name, the Keras-style L1/L2 kernel penalties added to the loss, and learning-rate
schedules as one multiplier per optimiser step (plateau: per epoch, on val loss)."""

from __future__ import annotations

import math

import torch
from torch import nn

from fmnist.config import OptimConfig, ScheduleConfig


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    params, lr, wd = _decay_groups(model, cfg), cfg.lr, cfg.weight_decay
    if cfg.name == "sgd":
        return torch.optim.SGD(
            params,
            lr=lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov and cfg.momentum > 0,
            weight_decay=wd,
        )
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=cfg.momentum, weight_decay=wd)
    optimizer_class = {
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "adagrad": torch.optim.Adagrad,
        "adadelta": torch.optim.Adadelta,
        "adamax": torch.optim.Adamax,
        "nadam": torch.optim.NAdam,
    }[cfg.name]
    return optimizer_class(params, lr=lr, weight_decay=wd)


def _decay_groups(model: nn.Module, cfg: OptimConfig) -> list[dict]:
    """Weight decay on kernels only, unless asked: decaying BN scales and biases only fights the
    normalisation."""
    kernels = [p for p in model.parameters() if p.ndim > 1]
    others = [p for p in model.parameters() if p.ndim <= 1]
    if cfg.decay_bias_and_norm:
        return [{"params": kernels + others}]
    return [
        group
        for group in ({"params": kernels}, {"params": others, "weight_decay": 0.0})
        if group["params"]
    ]


def kernel_penalty(model: nn.Module, cfg: OptimConfig) -> torch.Tensor | float:
    """l1 * sum|w| + l2 * sum w^2 over conv and linear kernels (not biases or norm scales)."""
    if not (cfg.l1 or cfg.l2):
        return 0.0
    kernels = [p for p in model.parameters() if p.ndim > 1]
    penalty = 0.0
    if cfg.l1:
        penalty = penalty + cfg.l1 * sum(p.abs().sum() for p in kernels)
    if cfg.l2:
        penalty = penalty + cfg.l2 * sum(p.pow(2).sum() for p in kernels)
    return penalty


# -- schedules


def lr_factor(cfg: ScheduleConfig, step: int, total_steps: int, steps_per_epoch: int) -> float:
    """Multiplier of the peak LR at ``step`` (0-based) for every schedule but plateau."""
    epoch = step / steps_per_epoch
    if cfg.name in ("constant", "plateau"):
        return 1.0
    if cfg.name == "exponential":
        # Smooth per-step decay like tf.train.exponential_decay, towards a floor of end_factor
        # (study 000: lr = 0.0001 + 0.003 * e^(-step/2000)).
        return cfg.end_factor + (1 - cfg.end_factor) * cfg.gamma**epoch
    if cfg.name == "step":
        return cfg.gamma ** (int(epoch) // cfg.step_size)
    # onecycle / cosine: 1) linear warm-up from start_factor to 1, 2) linear or cosine decay to
    # end_factor.
    warmup_steps = round(cfg.warmup * total_steps)
    if step < warmup_steps:
        return cfg.start_factor + (1 - cfg.start_factor) * step / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    shape = 1 - progress if cfg.name == "onecycle" else 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.end_factor + (1 - cfg.end_factor) * shape


def build_plateau(
    optimizer: torch.optim.Optimizer, cfg: ScheduleConfig
) -> torch.optim.lr_scheduler.ReduceLROnPlateau | None:
    if cfg.name != "plateau":
        return None
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=cfg.factor, patience=cfg.patience
    )
