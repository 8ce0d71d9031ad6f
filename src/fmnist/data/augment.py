"""Batched augmentation on device tensors: one call per batch, no per-sample Python.

Images are (N, 1, 28, 28) floats in [0, 1]. Every random draw uses the caller's generator, so a
seeded run sees the same augmented batches again, also after a resume.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fmnist.config import AugmentConfig


def augment(
    x: torch.Tensor,
    cfg: AugmentConfig,
    gen: torch.Generator,
    *,
    index: torch.Tensor | None = None,
    epoch: int = 0,
) -> torch.Tensor:
    """Augmented copies of the batch ``x``; ``index`` (each image's place in its split) and
    ``epoch`` are what ``hflip="alternate"`` needs."""
    if cfg.hflip == "alternate":
        x = torch.where(alternating_flip(index, epoch)[:, None, None, None], x.flip(-1), x)
    elif cfg.hflip:
        x = torch.where(_coin(x, 0.5, gen), x.flip(-1), x)
    if cfg.rotate or cfg.shear or cfg.zoom:
        x = _affine(x, cfg, gen)
    if cfg.shift:
        x = _shift(x, cfg.shift, gen)
    if cfg.brightness or cfg.contrast:
        c = 1 + cfg.contrast * _uniform(x, gen)
        b = cfg.brightness * _uniform(x, gen)
        x = ((x - 0.5) * c + 0.5 + b).clamp(0, 1)
    if cfg.noise:
        x = (
            x + cfg.noise * torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
        ).clamp(0, 1)
    if cfg.erase:
        x = _erase(x, cfg.erase, gen)
    return x


def alternating_flip(index: torch.Tensor, epoch: int) -> torch.Tensor:
    """Which images to mirror in ``epoch``: a fixed pseudo-random half in even epochs, the other
    half in odd ones. Random flips leave a quarter of the images unmirrored (or mirrored) two
    epochs running; alternating shows every image both ways every two epochs, which airbench
    measured as worth about an eighth of the epochs on CIFAR-10. The half is a hash of the index
    (Knuth's multiplicative constant), so a resumed run flips the same images again."""
    if index is None:
        raise ValueError("hflip='alternate' needs each image's index in its split")
    first_half = ((index * 2654435761) % 2**32) >= 2**31
    return first_half ^ bool(epoch % 2)


def tta_views(x: torch.Tensor, flip: bool, shift: int) -> list[torch.Tensor]:
    """The views test-time augmentation averages: the batch, moved ``shift`` pixels down-right and
    up-left, and with ``flip`` each of those mirrored. The border pixels are repeated into the gap
    (``x`` is normalised, so a zero would not be black; Fashion-MNIST's borders are background)."""
    views = [x]
    if shift:
        padded = F.pad(x, (shift, shift, shift, shift), mode="replicate")
        h, w = x.shape[-2:]
        views += [padded[..., :h, :w], padded[..., 2 * shift :, 2 * shift :]]
    return views + [view.flip(-1) for view in views] if flip else views


def _uniform(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One value per image in [-1, 1), shaped to broadcast over (C, H, W)."""
    return torch.rand((x.shape[0], 1, 1, 1), generator=gen, device=x.device) * 2 - 1


def _coin(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    return torch.rand((x.shape[0], 1, 1, 1), generator=gen, device=x.device) < p


def _shift(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Random crop of the zero-padded image: an exact integer translation of up to ``pad``
    pixels."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    return padded[batch, torch.zeros_like(batch), rows, cols]


def _affine(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Rotation, shear and zoom as one sampled affine grid per image (bilinear, zero fill)."""
    angle = _uniform(x, gen).view(-1) * math.radians(cfg.rotate)
    shear = _uniform(x, gen).view(-1) * math.radians(cfg.shear)
    scale = 1 + _uniform(x, gen).view(-1) * cfg.zoom
    cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
    # theta maps output coords to input coords: rotate, then shear along x, divided by the zoom.
    theta = (
        torch.stack(
            [
                torch.stack([cos, cos * tan - sin, torch.zeros_like(cos)], -1),
                torch.stack([sin, sin * tan + cos, torch.zeros_like(cos)], -1),
            ],
            1,
        )
        / scale[:, None, None]
    )
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _erase(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """Random erasing: with probability p, one rectangle (2-50 % of the area) set to noise."""
    n, _, h, w = x.shape
    area = (0.02 + 0.48 * torch.rand(n, generator=gen, device=x.device)) * h * w
    ratio = torch.exp((torch.rand(n, generator=gen, device=x.device) * 2 - 1) * math.log(3))
    eh = (area * ratio).sqrt().clamp(1, h).long()
    ew = (area / ratio).sqrt().clamp(1, w).long()
    top = (torch.rand(n, generator=gen, device=x.device) * (h - eh + 1)).long()
    left = (torch.rand(n, generator=gen, device=x.device) * (w - ew + 1)).long()
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    box = (
        (ys >= top[:, None, None])
        & (ys < (top + eh)[:, None, None])
        & (xs >= left[:, None, None])
        & (xs < (left + ew)[:, None, None])
    )
    box = box[:, None] & _coin(x, p, gen)
    return torch.where(box, torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype), x)
