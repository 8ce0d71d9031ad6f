"""Training: the loop, optimisers, schedules and checkpoints."""

from fmnist.train.trainer import Trainer, resolve_device

__all__ = ["Trainer", "resolve_device"]
