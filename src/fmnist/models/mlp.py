"""Fully connected nets: softmax regression and multi-layer perceptrons (studies 000-004).

Torch is imported inside the builders: the catalogue imports this module without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fmnist.models.catalog import Activation, ModelOptions, Probability, Widths, register

if TYPE_CHECKING:
    from torch import nn


class SoftmaxOptions(ModelOptions):
    """Softmax (multinomial logistic) regression: one linear layer on the 784 pixels."""


class MlpOptions(ModelOptions):
    """Multi-layer perceptron: any depth and widths, activation, dropout, batch norm."""

    hidden: Widths = (256, 128)
    activation: Activation = "relu"
    dropout: Probability = 0.0
    batch_norm: bool = False


@register("softmax", SoftmaxOptions)
def softmax(o: SoftmaxOptions) -> nn.Module:
    from torch import nn

    from fmnist.models.layers import Classifier

    return Classifier(nn.Flatten(), nn.Linear(784, 10))


@register("mlp", MlpOptions)
def mlp(o: MlpOptions) -> nn.Module:
    from torch import nn

    from fmnist.models.layers import Classifier, dense_stack

    stack, width = dense_stack(
        784, tuple(o.hidden), activation=o.activation, dropout=o.dropout, batch_norm=o.batch_norm
    )
    return Classifier(nn.Sequential(nn.Flatten(), stack), nn.Linear(width, 10))
