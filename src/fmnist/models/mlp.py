"""Fully connected nets: softmax regression and multi-layer perceptrons (studies 000-004)."""

from __future__ import annotations

from torch import nn

from fmnist.models._registry import register_model
from fmnist.models.layers import Activation, Classifier, dense_stack


@register_model
def softmax() -> nn.Module:
    """Softmax (multinomial logistic) regression: one linear layer on the 784 pixels."""
    return Classifier(nn.Flatten(), nn.Linear(784, 10))


@register_model
def mlp(
    hidden: tuple[int, ...] = (256, 128),
    activation: Activation = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> nn.Module:
    """Multi-layer perceptron: any depth and widths, activation, dropout, batch norm."""
    stack, width = dense_stack(
        784, tuple(hidden), activation=activation, dropout=dropout, batch_norm=batch_norm
    )
    return Classifier(nn.Sequential(nn.Flatten(), stack), nn.Linear(width, 10))
