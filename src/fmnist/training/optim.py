"""Optimisers by name, and the Keras-style L1/L2 kernel penalties added to the loss."""

from __future__ import annotations

import torch
from torch import nn

from fmnist.config import OptimConfig


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
