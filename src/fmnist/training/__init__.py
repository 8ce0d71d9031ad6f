"""Training: the loop, optimisers, schedules and checkpoints."""

from fmnist.training.trainer import Trainer, resolve_device

__all__ = ["Trainer", "resolve_device"]
