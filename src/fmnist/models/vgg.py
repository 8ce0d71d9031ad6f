"""VGG-style nets (Simonyan & Zisserman 2014) adapted to 28x28 grey images.

Torch is imported inside the builder: the catalogue imports this module without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from fmnist.models.catalog import WIDTH_MAX, ModelOptions, Probability, Width, register

if TYPE_CHECKING:
    from torch import nn


class VggSmallOptions(ModelOptions):
    """Small VGG: three blocks of two 3x3 convs (32, 64, 128) with BN and max-pool."""

    width: Annotated[float, Field(gt=0, le=WIDTH_MAX / 512)] = 1.0  # times the layout's widths
    batch_norm: bool = True
    dropout: Probability = 0.5
    hidden: Width = 256


class Vgg16Options(VggSmallOptions):
    """VGG16's 13 convs adapted to 28x28 (four pools), BN, a 512-wide classifier."""

    hidden: Width = 512


# Numbers are conv widths, "M" a 2x2 max-pool. VGG16 loses its last pool: 28 -> 14 -> 7 -> 3 -> 1.
_LAYOUTS = {
    "vgg_small": (32, 32, "M", 64, 64, "M", 128, 128, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512),
}


def _build_vgg(layout: tuple, o: VggSmallOptions) -> nn.Module:
    from torch import nn

    from fmnist.models.layers import Classifier, conv_bn_act

    layers: list[nn.Module] = []
    cin = 1
    for item in layout:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            cout = max(1, round(item * o.width))
            layers.append(conv_bn_act(cin, cout, batch_norm=o.batch_norm))
            cin = cout
    features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
    head = nn.Sequential(
        nn.Linear(cin, o.hidden), nn.ReLU(), nn.Dropout(o.dropout), nn.Linear(o.hidden, 10)
    )
    return Classifier(features, head)


@register("vgg_small", VggSmallOptions)
def vgg_small(o: VggSmallOptions) -> nn.Module:
    return _build_vgg(_LAYOUTS["vgg_small"], o)


@register("vgg16", Vgg16Options)
def vgg16(o: Vgg16Options) -> nn.Module:
    return _build_vgg(_LAYOUTS["vgg16"], o)
