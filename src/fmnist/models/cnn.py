"""Plain convolutional nets: the configurable CNN family, the TensorFlow-docs CNN and LeNet-5."""

from __future__ import annotations

import torch
from torch import nn

from fmnist.models.catalog import CnnOptions, Lenet5Options, TfCnnOptions
from fmnist.models.layers import Classifier, dense_stack, make_activation, make_pool


def flat_width(features: nn.Module) -> int:
    """Width of ``features``' flattened output for one 28x28 image."""
    with torch.no_grad():
        return features(torch.zeros(2, 1, 28, 28)).shape[1]


def cnn(o: CnnOptions) -> nn.Module:
    layers: list[nn.Module] = []
    cin = 1
    for cout in o.filters:
        for _ in range(o.convs_per_block):
            pad = (o.kernel_size // 2 if o.stride > 1 else "same") if o.padding == "same" else 0
            layers.append(nn.Conv2d(cin, cout, o.kernel_size, o.stride, pad, bias=not o.batch_norm))
            if o.batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(make_activation(o.activation))
            cin = cout
        layers.append(make_pool(o.pool))
        if o.conv_dropout:
            layers.append(nn.Dropout2d(o.conv_dropout))
    features = nn.Sequential(*layers, nn.Flatten())
    stack, width = dense_stack(
        flat_width(features), tuple(o.dense), activation=o.activation, dropout=o.dropout
    )
    return Classifier(nn.Sequential(features, stack), nn.Linear(width, 10))


def tf_cnn(o: TfCnnOptions) -> nn.Module:
    return cnn(CnnOptions(filters=(32, 64), kernel_size=5, dense=(1024,), dropout=o.dropout))


def lenet5(o: Lenet5Options) -> nn.Module:
    activation, pool = o.activation, o.pool
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
