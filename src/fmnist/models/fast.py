"""fastnet: a small VGG-style net shaped for fast training (the `fast` recipes).

In the spirit of airbench: few 3x3 conv-BN-ReLU layers, a max-pool per block (cheap downsampling
keeps the MACs low) and a light head. Two knobs matter for speed on a CPU, where batch norm,
ReLU and pooling are memory-bound and cost more than the convolutions:

- ``pool_early``: pool right after each block's first conv, so BN, ReLU and the block's other
  convs see a quarter of the pixels (max-pool commutes with ReLU; about 1.4x faster per epoch).
- ``head="flat"``: flatten the last 3x3 maps into the linear layer (keeps where things are);
  ``"max"``/``"avg"``: global pooling, fewer parameters.
- ``whiten=k``: a frozen patch-whitening convolution before the first block
  (``layers.PatchWhitening``), fitted on training images before the first step.
- ``whiten_pool``: max-pool right after the whitening, which then does the first block's job
  (airbench's first layer): no learned conv runs at 28x28, and the frozen one needs no gradient
  of its own. Measured on a real AVX2 CPU (benchmarks/README.md): the same validation accuracy
  as a learned first block in about half the epoch time.

Torch is imported inside the builder: the catalogue imports this module without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator, model_validator

from fmnist.models.catalog import LayerCount, ModelOptions, Probability, Width, register

if TYPE_CHECKING:
    from torch import nn


class FastnetOptions(ModelOptions):
    """Fast net: blocks of 3x3 conv-BN-ReLU (widths x convs) with a max-pool each, then a linear head."""  # noqa: E501 (first line = `fmnist models` description)

    # Each block halves the side (28, 14, 7, 3, 1): at most four blocks.
    widths: Annotated[tuple[Width, ...], Field(min_length=1, max_length=4)] = (32, 64, 128)
    convs: Annotated[tuple[LayerCount, ...], Field(min_length=1, max_length=4)] = (1, 1, 1)
    pool_early: bool = False
    head: Literal["flat", "max", "avg"] = "flat"
    dropout: Probability = 0.0
    # A frozen first convolution that whitens the image's k x k patches (0: none).
    whiten: Literal[0, 2, 3] = 0
    # Max-pool after the whitening: it takes the place of a block (one more halving of the side).
    whiten_pool: bool = False

    @field_validator("convs")
    @classmethod
    def _one_count_per_block(cls, convs: tuple[int, ...], info) -> tuple[int, ...]:
        widths = info.data.get("widths")
        if widths is not None and len(widths) != len(convs):
            raise ValueError(f"convs needs one count per block, as many as widths {tuple(widths)}")
        return convs

    @model_validator(mode="after")
    def _whiten_pool_needs_whitening_and_room(self) -> FastnetOptions:
        if self.whiten_pool and not self.whiten:
            raise ValueError("whiten_pool pools the whitening layer's output: set whiten to 2 or 3")
        if self.whiten_pool and len(self.widths) > 3:
            raise ValueError("with whiten_pool at most three blocks fit 28x28 (28, 14, 7, 3)")
        return self


def _block(cin: int, width: int, convs: int, pool_early: bool) -> list[nn.Module]:
    from torch import nn

    layers: list[nn.Module] = []
    for i in range(convs):
        layers.append(nn.Conv2d(cin if i == 0 else width, width, 3, padding=1, bias=False))
        if i == 0 and pool_early:
            layers.append(nn.MaxPool2d(2))
        layers += [nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
    if not pool_early:
        layers.append(nn.MaxPool2d(2))
    return layers


@register("fastnet", FastnetOptions)
def fastnet(o: FastnetOptions) -> nn.Module:
    from torch import nn

    from fmnist.models.layers import Classifier, PatchWhitening

    head = o.head
    layers: list[nn.Module] = []
    cin = 1
    if o.whiten:
        whitening = PatchWhitening(o.whiten)
        layers += [whitening, nn.ReLU()] + ([nn.MaxPool2d(2)] if o.whiten_pool else [])
        cin = whitening.out_channels
    for width, count in zip(o.widths, o.convs):  # as many as widths (checked by FastnetOptions)
        layers += _block(cin, width, count, o.pool_early)
        cin = width
    side = 28 >> (len(o.widths) + o.whiten_pool)
    pool = {"flat": nn.Identity(), "max": nn.AdaptiveMaxPool2d(1), "avg": nn.AdaptiveAvgPool2d(1)}[
        head
    ]
    width_out = cin * side * side if head == "flat" else cin
    features = nn.Sequential(
        *layers, pool, nn.Flatten(), nn.Dropout(o.dropout) if o.dropout else nn.Identity()
    )
    return Classifier(features, nn.Linear(width_out, 10))
