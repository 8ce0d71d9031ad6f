"""fastnet: a small VGG-style net shaped for fast training on a laptop CPU (the `fast` recipe).

In the spirit of airbench: few, wide-enough 3x3 conv-BN-ReLU layers, a max-pool after each block
(cheap downsampling keeps the MACs low), and a global max-pool head instead of a big dense layer.
"""

from __future__ import annotations

from typing import Literal

from torch import nn

from fmnist.errors import ConfigError
from fmnist.models._registry import register_model
from fmnist.models.layers import Classifier, conv_bn_act


@register_model
def fastnet(
    widths: tuple[int, ...] = (32, 64, 128),
    convs: tuple[int, ...] = (1, 2, 1),
    head: Literal["max", "avg"] = "max",
    dropout: float = 0.0,
) -> nn.Module:
    """Fast CPU net: blocks of conv-BN-ReLU (widths x convs), max-pool each, global pool, linear."""
    if len(widths) != len(convs):
        raise ConfigError(f"fastnet: widths {tuple(widths)} and convs {tuple(convs)} must have the same length (one count per block)")
    layers: list[nn.Module] = []
    cin = 1
    for width, count in zip(widths, convs):
        for _ in range(count):
            layers.append(conv_bn_act(cin, width))
            cin = width
        layers.append(nn.MaxPool2d(2))
    pool = nn.AdaptiveMaxPool2d(1) if head == "max" else nn.AdaptiveAvgPool2d(1)
    features = nn.Sequential(*layers, pool, nn.Flatten(), nn.Dropout(dropout) if dropout else nn.Identity())
    return Classifier(features, nn.Linear(cin, 10))
