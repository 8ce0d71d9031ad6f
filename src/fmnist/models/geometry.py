"""Side lengths through convolutions and pools, without torch: the model options use them to refuse
a kernel, stride or pooling that does not fit a 28x28 image before anything is built, and the
``spec_cnn`` builder lays out its layers with the same arithmetic.

Every function raises ``ValueError`` with a sentence a user can act on; the options' validators
turn it into the project's one error line.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

IMAGE_SIDE = 28
_CONV = re.compile(r"^c(\d+)k(\d+)(?:s(\d+))?(v?)$")
SPEC_TOKENS = "c<filters>k<kernel>[s<stride>][v], m, a (comma separated)"


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME': total padding so that output = ceil(size / stride); the extra pixel goes
    right/bottom."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_side(size: int, kernel: int, stride: int, *, valid: bool, where: str) -> int:
    """Side length after a conv ('valid': no padding; else 'same' as TensorFlow pads)."""
    left, right = (0, 0) if valid else same_padding(size, kernel, stride)
    out = (size + left + right - kernel) // stride + 1
    if out < 1:
        raise ValueError(
            f"{where}: a {kernel}x{kernel} 'valid' conv does not fit its {size}x{size} input; "
            "use a smaller kernel, fewer layers or 'same' padding"
        )
    return out


def pool_side(size: int, *, where: str) -> int:
    """Side length after a 2x2 pool, which needs at least a 2x2 input."""
    if size < 2:
        raise ValueError(
            f"{where}: a 2x2 pool has only a {size}x{size} map left to pool; "
            "use fewer blocks, pool 'none', or a stride of 1"
        )
    return size // 2


class SpecLayer(NamedTuple):
    """One token of a ``spec_cnn`` layer string with the side length of its output."""

    kind: str  # "c" (conv), "m" (max pool), "a" (average pool)
    filters: int
    kernel: int
    stride: int
    valid: bool
    side_in: int
    side_out: int


def parse_spec(spec: str) -> list[SpecLayer]:
    """The layers of a ``spec_cnn`` string applied to a 28x28 image, checked to fit."""
    tokens = [t.strip() for t in spec.split(",") if t.strip()]
    if not tokens:
        raise ValueError(f"the layer string is empty; write tokens: {SPEC_TOKENS}")
    layers, side = [], IMAGE_SIDE
    for i, token in enumerate(tokens):
        where = f"layer {i + 1} ({token!r})"
        if token in ("m", "a"):
            out = pool_side(side, where=where)
            layers.append(SpecLayer(token, 0, 0, 0, False, side, out))
        else:
            layers.append(_conv_token(token, side, where))
        side = layers[-1].side_out
    return layers


def _conv_token(token: str, side: int, where: str) -> SpecLayer:
    match = _CONV.match(token)
    if not match:
        raise ValueError(f"{where} is not a token; write tokens: {SPEC_TOKENS}")
    filters, kernel, stride = (int(g) for g in match.groups(default="1")[:3])
    if min(filters, kernel, stride) < 1:
        raise ValueError(f"{where}: filters, kernel and stride must each be at least 1")
    valid = bool(match.group(4))
    return SpecLayer(
        "c",
        filters,
        kernel,
        stride,
        valid,
        side,
        conv_side(side, kernel, stride, valid=valid, where=where),
    )
