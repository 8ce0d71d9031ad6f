"""Residual nets adapted to 28x28: ResNet-18 (He et al. 2016) and Wide-ResNets (Zagoruyko &
Komodakis 2016)."""

from __future__ import annotations

from torch import nn

from fmnist.models.catalog import Resnet18Options, WrnOptions
from fmnist.models.layers import BasicBlock, Classifier, conv_bn_act


def _stage(cin: int, cout: int, blocks: int, stride: int, **block_kw) -> nn.Sequential:
    return nn.Sequential(
        *(
            BasicBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1, **block_kw)
            for i in range(blocks)
        )
    )


def resnet18(o: Resnet18Options) -> nn.Module:
    width = o.width
    widths = [width, 2 * width, 4 * width, 8 * width]
    stages = [
        _stage(w_in, w, 2, 1 if i == 0 else 2)
        for i, (w_in, w) in enumerate(zip([width, *widths], widths))
    ]
    features = nn.Sequential(conv_bn_act(1, width), *stages, nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return Classifier(features, nn.Linear(widths[-1], 10))


def wrn(o: WrnOptions) -> nn.Module:
    blocks = (o.depth - 4) // 6  # o.depth is 6n+4 (checked by WrnOptions)
    widths = [16 * o.widen, 32 * o.widen, 64 * o.widen]
    stages = [
        _stage(w_in, w, blocks, 1 if i == 0 else 2, preact=True, dropout=o.dropout)
        for i, (w_in, w) in enumerate(zip([16, *widths], widths))
    ]
    features = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False),
        *stages,
        nn.BatchNorm2d(widths[-1]),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    return Classifier(features, nn.Linear(widths[-1], 10))
