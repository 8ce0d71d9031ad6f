"""Plain convolutional nets: the configurable CNN family, the TensorFlow-docs CNN and LeNet-5."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from fmnist.models._registry import register_model
from fmnist.models.layers import (
    Activation,
    Classifier,
    Pool,
    dense_stack,
    make_activation,
    make_pool,
)


def flat_width(features: nn.Module) -> int:
    """Width of ``features``' flattened output for one 28x28 image."""
    with torch.no_grad():
        return features(torch.zeros(2, 1, 28, 28)).shape[1]


@register_model
def cnn(
    filters: tuple[int, ...] = (32, 64),
    kernel_size: int = 3,
    stride: int = 1,
    padding: Literal["same", "valid"] = "same",
    convs_per_block: int = 1,
    pool: Pool = "max",
    batch_norm: bool = False,
    conv_dropout: float = 0.0,
    dense: tuple[int, ...] = (128,),
    dropout: float = 0.0,
    activation: Activation = "relu",
) -> nn.Module:
    """CNN family: conv blocks (filters, kernel, stride, pooling, BN, dropout) then dense layers."""
    layers: list[nn.Module] = []
    cin = 1
    for cout in filters:
        for _ in range(convs_per_block):
            pad = (kernel_size // 2 if stride > 1 else "same") if padding == "same" else 0
            layers.append(nn.Conv2d(cin, cout, kernel_size, stride, pad, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(make_activation(activation))
            cin = cout
        layers.append(make_pool(pool))
        if conv_dropout:
            layers.append(nn.Dropout2d(conv_dropout))
    features = nn.Sequential(*layers, nn.Flatten())
    stack, width = dense_stack(
        flat_width(features), tuple(dense), activation=activation, dropout=dropout
    )
    return Classifier(nn.Sequential(features, stack), nn.Linear(width, 10))


@register_model
def tf_cnn(dropout: float = 0.4) -> nn.Module:
    """TensorFlow-docs CNN: conv32 5x5, pool, conv64 5x5, pool, dense 1024, dropout (the peer's model)."""  # noqa: E501 (first line = `fmnist models` description)
    return cnn(filters=(32, 64), kernel_size=5, dense=(1024,), dropout=dropout)


@register_model
def lenet5(activation: Activation = "tanh", pool: Pool = "avg") -> nn.Module:
    """LeNet-5 (LeCun 1998): conv6 5x5 (padded), pool, conv16 5x5, pool, 120, 84."""
    features = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        make_activation(activation),
        make_pool(pool),
        nn.Conv2d(6, 16, 5),
        make_activation(activation),
        make_pool(pool),
        nn.Flatten(),
    )
    stack, width = dense_stack(16 * 5 * 5, (120, 84), activation=activation)
    return Classifier(nn.Sequential(features, stack), nn.Linear(width, 10))
