"""Learning-rate schedules as one multiplier per optimiser step (plateau: per epoch, on val
loss)."""

from __future__ import annotations

import math

import torch

from fmnist.config import ScheduleConfig


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
