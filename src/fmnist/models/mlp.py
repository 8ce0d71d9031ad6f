"""Fully connected nets: softmax regression and multi-layer perceptrons (studies 000-004)."""

from __future__ import annotations

from torch import nn

from fmnist.models.catalog import MlpOptions, SoftmaxOptions
from fmnist.models.layers import Classifier, dense_stack


def softmax(o: SoftmaxOptions) -> nn.Module:
    return Classifier(nn.Flatten(), nn.Linear(784, 10))


def mlp(o: MlpOptions) -> nn.Module:
    stack, width = dense_stack(
        784, tuple(o.hidden), activation=o.activation, dropout=o.dropout, batch_norm=o.batch_norm
    )
    return Classifier(nn.Sequential(nn.Flatten(), stack), nn.Linear(width, 10))
