"""Training: the loop, optimisers, schedules and checkpoints."""

from fmnist.training.hardware import resolve_device
from fmnist.training.trainer import Trainer

__all__ = ["Trainer", "resolve_device"]
