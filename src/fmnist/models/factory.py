"""The one front door that builds models, ``create_model``, and what is measured on a built one.

This side needs torch; the catalogue of names and options (``fmnist.models.catalog``) does not.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fmnist.models.catalog import model_builder, validate_model_options


def create_model(name: str, **options: Any) -> nn.Module:
    """Build a registered model from its options (validated by its options model; ``None``
    options are dropped so the defaults stand)."""
    validated = validate_model_options(name, options)
    return model_builder(name)(validated)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module) -> int:
    """Multiply-accumulates of one forward pass of one 28x28 image, counted by torch's FLOP
    counter."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 1, 28, 28, device=device))
    model.train(was_training)
    return counter.get_total_flops() // 2
