"""A model of your own, benchmarked with fmnist's protocol (docs/your-model.md).

    fmnist train --model examples/tiny.py:TinyNet --set model.width=32 --epochs 10

Any callable works: it takes the model's options as keyword arguments (here ``width`` and
``dropout``: its signature declares them, so ``--set model.width=...`` is checked) and returns a
module that maps (N, 1, 28, 28) normalised images to (N, 10) logits.
"""

from torch import nn


def TinyNet(width: int = 32, dropout: float = 0.1) -> nn.Module:
    """Two 3x3 conv blocks with batch norm and max-pool, then a linear head."""

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(1, width), nn.MaxPool2d(2),               # 28 -> 14
        *block(width, 2 * width), nn.MaxPool2d(2),       # 14 -> 7
        nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * width * 7 * 7, 10),
    )  # fmt: skip
