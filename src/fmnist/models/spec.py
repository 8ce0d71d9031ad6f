"""A CNN written as a short layer string, for the studies' hand-made nets that no family covers.

    create_model("spec_cnn", spec="c8k3,c16k5,m,c16k3,c32k14,m,c32k3,c32k7v", dense=(84,))  # 004

Tokens, comma separated, applied in order to a 1x28x28 image:
    c<F>k<K>[s<S>][v]   conv with F filters, KxK kernel, stride S (default 1); TensorFlow
                        'SAME' padding (output = ceil(input / S), asymmetric where needed), or
                        'VALID' with v
    m / a               2x2 max / average pooling
"""

from __future__ import annotations

import math
import re

from torch import nn

from fmnist.errors import UnknownModelError
from fmnist.models.catalog import Activation, SpecCnnOptions
from fmnist.models.layers import Classifier, dense_stack, make_activation

_CONV = re.compile(r"^c(\d+)k(\d+)(?:s(\d+))?(v?)$")


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME': total padding so that output = ceil(size / stride); the extra pixel goes
    right/bottom."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _parse(token: str) -> tuple[str, tuple[int, int, int, bool]]:
    if token in ("m", "a"):
        return token, (0, 0, 0, False)
    match = _CONV.match(token)
    if not match:
        raise UnknownModelError(
            "model 'spec_cnn' option 'spec' has an unknown token",
            allowed="c<filters>k<kernel>[s<stride>][v], m, a",
            got=token,
            fix="write e.g. spec='c32k3,m,c64k3s2'",
        )
    filters, kernel, stride, valid = match.groups()
    return "c", (int(filters), int(kernel), int(stride or 1), bool(valid))


def _conv(
    cin: int,
    size: int,
    args: tuple[int, int, int, bool],
    *,
    batch_norm: bool,
    activation: Activation,
    conv_dropout: float,
) -> tuple[list[nn.Module], int]:
    """Layers of one conv token and the output side length."""
    filters, kernel, stride, valid = args
    left, right = (0, 0) if valid else _same_padding(size, kernel, stride)
    out = (size + left + right - kernel) // stride + 1
    if out < 1:
        raise UnknownModelError(
            f"model 'spec_cnn' option 'spec': a {kernel}x{kernel} 'valid' conv does not fit "
            f"a {size}x{size} input",
            fix="use a smaller kernel or 'same' padding (no v)",
        )
    layers: list[nn.Module] = [nn.ZeroPad2d((left, right, left, right))] if left or right else []
    layers.append(nn.Conv2d(cin, filters, kernel, stride, bias=not batch_norm))
    layers += [nn.BatchNorm2d(filters)] if batch_norm else []
    layers.append(make_activation(activation))
    layers += [nn.Dropout2d(conv_dropout)] if conv_dropout else []
    return layers, out


def spec_cnn(o: SpecCnnOptions) -> nn.Module:
    layers: list[nn.Module] = []
    cin, size = 1, 28
    for token in (t.strip() for t in o.spec.split(",") if t.strip()):
        kind, args = _parse(token)
        if kind == "c":
            block, size = _conv(
                cin,
                size,
                args,
                batch_norm=o.batch_norm,
                activation=o.activation,
                conv_dropout=o.conv_dropout,
            )
            layers += block
            cin = args[0]
        else:
            layers.append(nn.MaxPool2d(2) if kind == "m" else nn.AvgPool2d(2))
            size //= 2
    features = nn.Sequential(*layers, nn.Flatten())
    stack, width = dense_stack(
        cin * size * size, tuple(o.dense), activation=o.activation, dropout=o.dropout
    )
    return Classifier(nn.Sequential(features, stack), nn.Linear(width, 10))
