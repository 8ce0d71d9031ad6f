"""VGG-style nets (Simonyan & Zisserman 2014) adapted to 28x28 grey images."""

from __future__ import annotations

from torch import nn

from fmnist.models._registry import register_model
from fmnist.models.layers import Classifier, conv_bn_act

# Numbers are conv widths, "M" a 2x2 max-pool. VGG16 loses its last pool: 28 -> 14 -> 7 -> 3 -> 1.
_LAYOUTS = {
    "vgg_small": (32, 32, "M", 64, 64, "M", 128, 128, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512),
}


def _build_vgg(
    layout: tuple, *, width: float, batch_norm: bool, dropout: float, hidden: int
) -> nn.Module:
    layers: list[nn.Module] = []
    cin = 1
    for item in layout:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            cout = max(1, round(item * width))
            layers.append(conv_bn_act(cin, cout, batch_norm=batch_norm))
            cin = cout
    features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
    head = nn.Sequential(
        nn.Linear(cin, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 10)
    )
    return Classifier(features, head)


@register_model
def vgg_small(
    width: float = 1.0, batch_norm: bool = True, dropout: float = 0.5, hidden: int = 256
) -> nn.Module:
    """Small VGG: three blocks of two 3x3 convs (32, 64, 128) with BN and max-pool."""
    return _build_vgg(
        _LAYOUTS["vgg_small"], width=width, batch_norm=batch_norm, dropout=dropout, hidden=hidden
    )


@register_model
def vgg16(
    width: float = 1.0, batch_norm: bool = True, dropout: float = 0.5, hidden: int = 512
) -> nn.Module:
    """VGG16's 13 convs adapted to 28x28 (four pools), BN, a 512-wide classifier."""
    return _build_vgg(
        _LAYOUTS["vgg16"], width=width, batch_norm=batch_norm, dropout=dropout, hidden=hidden
    )
