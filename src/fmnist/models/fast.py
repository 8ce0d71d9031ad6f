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
"""

from __future__ import annotations

from torch import nn

from fmnist.models.catalog import FastnetOptions
from fmnist.models.layers import Classifier, PatchWhitening


def _block(cin: int, width: int, convs: int, pool_early: bool) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers.append(nn.Conv2d(cin if i == 0 else width, width, 3, padding=1, bias=False))
        if i == 0 and pool_early:
            layers.append(nn.MaxPool2d(2))
        layers += [nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
    if not pool_early:
        layers.append(nn.MaxPool2d(2))
    return layers


def fastnet(o: FastnetOptions) -> nn.Module:
    head = o.head
    layers: list[nn.Module] = []
    cin = 1
    if o.whiten:
        whitening = PatchWhitening(o.whiten)
        layers += [whitening, nn.ReLU()]
        cin = whitening.out_channels
    for width, count in zip(o.widths, o.convs):  # as many as widths (checked by FastnetOptions)
        layers += _block(cin, width, count, o.pool_early)
        cin = width
    side = 28 >> len(o.widths)
    pool = {"flat": nn.Identity(), "max": nn.AdaptiveMaxPool2d(1), "avg": nn.AdaptiveAvgPool2d(1)}[
        head
    ]
    width_out = cin * side * side if head == "flat" else cin
    features = nn.Sequential(
        *layers, pool, nn.Flatten(), nn.Dropout(o.dropout) if o.dropout else nn.Identity()
    )
    return Classifier(features, nn.Linear(width_out, 10))
