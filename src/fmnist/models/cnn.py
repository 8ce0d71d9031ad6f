"""Plain convolutional nets: the configurable CNN family, the TensorFlow-docs CNN and LeNet-5.

Torch is imported inside the builders: the catalogue imports this module without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import model_validator

from fmnist.models import geometry
from fmnist.models.catalog import (
    Activation,
    DenseWidths,
    Kernel,
    LayerCount,
    ModelOptions,
    Pool,
    Probability,
    Stride,
    Widths,
    register,
)

if TYPE_CHECKING:
    from torch import nn


class CnnOptions(ModelOptions):
    """CNN family: conv blocks (filters, kernel, stride, pooling, BN, dropout) then dense layers."""

    filters: Widths = (32, 64)
    kernel_size: Kernel = 3
    stride: Stride = 1
    padding: Literal["same", "valid"] = "same"
    convs_per_block: LayerCount = 1
    pool: Pool = "max"
    batch_norm: bool = False
    conv_dropout: Probability = 0.0
    dense: DenseWidths = (128,)
    dropout: Probability = 0.0
    activation: Activation = "relu"

    @model_validator(mode="after")
    def _fits_28x28(self) -> CnnOptions:
        side = geometry.IMAGE_SIDE
        for block in range(1, len(self.filters) + 1):
            for _ in range(self.convs_per_block):
                side = geometry.conv_side(
                    side,
                    self.kernel_size,
                    self.stride,
                    valid=self.padding == "valid",
                    where=f"conv block {block}",
                )
            if self.pool != "none":
                side = geometry.pool_side(side, where=f"conv block {block}")
        return self


class TfCnnOptions(ModelOptions):
    """TensorFlow-docs CNN: conv32 5x5, pool, conv64 5x5, pool, dense 1024, dropout (the peer's model)."""  # noqa: E501 (first line = `fmnist models` description)

    dropout: Probability = 0.4


class Lenet5Options(ModelOptions):
    """LeNet-5 (LeCun 1998): conv6 5x5 (padded), pool, conv16 5x5, pool, 120, 84."""

    activation: Activation = "tanh"
    pool: Pool = "avg"


def flat_width(features: nn.Module) -> int:
    """Width of ``features``' flattened output for one 28x28 image."""
    import torch

    with torch.no_grad():
        return features(torch.zeros(2, 1, 28, 28)).shape[1]


@register("cnn", CnnOptions)
def cnn(o: CnnOptions) -> nn.Module:
    from torch import nn

    from fmnist.models.layers import Classifier, dense_stack, make_activation, make_pool

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


@register("tf_cnn", TfCnnOptions)
def tf_cnn(o: TfCnnOptions) -> nn.Module:
    return cnn(CnnOptions(filters=(32, 64), kernel_size=5, dense=(1024,), dropout=o.dropout))


@register("lenet5", Lenet5Options)
def lenet5(o: Lenet5Options) -> nn.Module:
    from torch import nn

    from fmnist.models.layers import Classifier, dense_stack, make_activation, make_pool

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
