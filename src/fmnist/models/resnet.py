"""Residual nets adapted to 28x28: ResNet-18 (He et al. 2016) and Wide-ResNets (Zagoruyko &
Komodakis 2016).

Torch is imported inside the builders: the catalogue imports this module without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field, field_validator

from fmnist.models.catalog import ModelOptions, Probability, Width, register

if TYPE_CHECKING:
    from torch import nn


class Resnet18Options(ModelOptions):
    """ResNet-18 for 28x28: 3x3 stem without max-pool, stages of 2 basic blocks at 1x, 2x, 4x, 8x width."""  # noqa: E501 (first line = `fmnist models` description)

    width: Width = 64


class WrnOptions(ModelOptions):
    """Wide-ResNet WRN-depth-widen: pre-activation blocks, stages of 16k, 32k, 64k channels."""

    depth: Annotated[int, Field(ge=10, le=1000)] = 16
    widen: Width = 4
    dropout: Probability = 0.0

    @field_validator("depth")
    @classmethod
    def _six_n_plus_four(cls, depth: int) -> int:
        if (depth - 4) % 6:
            raise ValueError("depth must be 6n+4 (10, 16, 22, 28, 40)")
        return depth


def _stage(cin: int, cout: int, blocks: int, stride: int, **block_kw) -> nn.Sequential:
    from torch import nn

    from fmnist.models.layers import BasicBlock

    return nn.Sequential(
        *(
            BasicBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1, **block_kw)
            for i in range(blocks)
        )
    )


@register("resnet18", Resnet18Options)
def resnet18(o: Resnet18Options) -> nn.Module:
    from torch import nn

    from fmnist.models.layers import Classifier, conv_bn_act

    width = o.width
    widths = [width, 2 * width, 4 * width, 8 * width]
    stages = [
        _stage(w_in, w, 2, 1 if i == 0 else 2)
        for i, (w_in, w) in enumerate(zip([width, *widths], widths))
    ]
    features = nn.Sequential(conv_bn_act(1, width), *stages, nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return Classifier(features, nn.Linear(widths[-1], 10))


@register("wrn", WrnOptions)
def wrn(o: WrnOptions) -> nn.Module:
    from torch import nn

    from fmnist.models.layers import Classifier

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
