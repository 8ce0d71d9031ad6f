"""fastnet: a small VGG-style net shaped for fast training (the `fast` recipes).

In the spirit of airbench: few 3x3 conv-BN-ReLU layers, a max-pool per block (cheap downsampling
keeps the MACs low) and a light head. Two knobs matter for speed on a CPU, where batch norm,
ReLU and pooling are memory-bound and cost more than the convolutions:

- ``pool_early``: pool right after each block's first conv, so BN, ReLU and the block's other
  convs see a quarter of the pixels (max-pool commutes with ReLU; about 1.4x faster per epoch).
- ``head="flat"``: flatten the last 3x3 maps into the linear layer (keeps where things are);
  ``"max"``/``"avg"``: global pooling, fewer parameters.
"""

from __future__ import annotations

from typing import Literal

from torch import nn

from fmnist.errors import ConfigError
from fmnist.models._registry import register_model
from fmnist.models.layers import Classifier


def _block(cin: int, width: int, convs: int, pool_early: bool) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers.append(nn.Conv2d(cin if i == 0 else width, width, 3, padding=1, bias=False))
        if i == 0 and pool_early:
            layers.append(nn.MaxPool2d(2))
        layers += [nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
    if not pool_early:
        layers.append(nn.MaxPool2d(2))
    return layers


@register_model
def fastnet(
    widths: tuple[int, ...] = (32, 64, 128),
    convs: tuple[int, ...] = (1, 1, 1),
    pool_early: bool = False,
    head: Literal["flat", "max", "avg"] = "flat",
    dropout: float = 0.0,
) -> nn.Module:
    """Fast net: blocks of 3x3 conv-BN-ReLU (widths x convs) with a max-pool each, then a linear head."""  # noqa: E501 (first line = `fmnist models` description)
    if len(widths) != len(convs):
        raise ConfigError(
            f"fastnet: widths {tuple(widths)} and convs {tuple(convs)} must have the same length "
            "(one count per block)"
        )
    layers: list[nn.Module] = []
    cin = 1
    for width, count in zip(widths, convs):
        layers += _block(cin, width, count, pool_early)
        cin = width
    side = 28 >> len(widths)
    pool = {"flat": nn.Identity(), "max": nn.AdaptiveMaxPool2d(1), "avg": nn.AdaptiveAvgPool2d(1)}[
        head
    ]
    width_out = cin * side * side if head == "flat" else cin
    features = nn.Sequential(
        *layers, pool, nn.Flatten(), nn.Dropout(dropout) if dropout else nn.Identity()
    )
    return Classifier(features, nn.Linear(width_out, 10))
