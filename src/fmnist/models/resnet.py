"""Residual nets adapted to 28x28: ResNet-18 (He et al. 2016) and Wide-ResNets (Zagoruyko &
Komodakis 2016)."""

from __future__ import annotations

from torch import nn

from fmnist.errors import ConfigError
from fmnist.models._registry import register_model
from fmnist.models.layers import BasicBlock, Classifier, conv_bn_act


def _stage(cin: int, cout: int, blocks: int, stride: int, **block_kw) -> nn.Sequential:
    return nn.Sequential(
        *(
            BasicBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1, **block_kw)
            for i in range(blocks)
        )
    )


@register_model
def resnet18(width: int = 64) -> nn.Module:
    """ResNet-18 for 28x28: 3x3 stem without max-pool, stages of 2 basic blocks at 1x, 2x, 4x, 8x width."""  # noqa: E501 (first line = `fmnist models` description)
    widths = [width, 2 * width, 4 * width, 8 * width]
    stages = [
        _stage(w_in, w, 2, 1 if i == 0 else 2)
        for i, (w_in, w) in enumerate(zip([width, *widths], widths))
    ]
    features = nn.Sequential(conv_bn_act(1, width), *stages, nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return Classifier(features, nn.Linear(widths[-1], 10))


@register_model
def wrn(depth: int = 16, widen: int = 4, dropout: float = 0.0) -> nn.Module:
    """Wide-ResNet WRN-depth-widen: pre-activation blocks, stages of 16k, 32k, 64k channels."""
    if (depth - 4) % 6:
        raise ConfigError(
            f"model 'wrn' option 'depth' must be 6n+4 (10, 16, 22, 28, 40), got {depth}; "
            "set model.depth=16"
        )
    blocks = (depth - 4) // 6
    widths = [16 * widen, 32 * widen, 64 * widen]
    stages = [
        _stage(w_in, w, blocks, 1 if i == 0 else 2, preact=True, dropout=dropout)
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
