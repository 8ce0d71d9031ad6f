"""Corrupted copies of the test images, after MNIST-C (Mu & Gilmer 2019) and Fashion-MNIST-C.

A model that scores 93 % on clean catalogue shots may fail on a photo that is noisy, blurred,
tilted or badly lit. Each corruption below takes the (N, 28, 28) uint8 test images to a corrupted
copy at a severity from 1 (mild) to 5 (harsh), deterministically: its random draws come from one
generator seeded by (seed, corruption, severity), so every run of every model sees the same
images. ``SEVERITIES`` holds each corruption's parameter per severity, as data; one line each:

    shot_noise      Poisson photon noise: photons per unit of brightness (fewer: noisier)
    impulse_noise   salt and pepper: share of pixels set to black or white
    glass_blur      Gaussian blur (sigma), then each pixel taken from one up to reach px away,
                    repeated (sigma, reach, times), as ImageNet-C's glass blur
    motion_blur     a line kernel of this many pixels at a random angle (a shaken camera)
    shear           horizontal shear by this factor, either way (a garment photographed askew)
    scale           shrunk about the centre to this share of its size
    rotate          turned by this many degrees, either way (a tilted photo)
    turn            turned far: by this many degrees, either way (90: on its side)
    translate       moved this many pixels in a random direction (a badly centred crop)
    brightness      this much added to every pixel (0-1 scale): a washed-out photo
    contrast        the spread about the image's mean kept to this share
    inverse         blended this far towards the negative (1: dark garment on white)
    haze            this much of a smooth random grey veil mixed in (fog-like)
    spatter         this many small grey dots splashed over the image (spatter-like)

Left-right flips are left out: fmnist trains with them as augmentation and averages over them at
test time (flip-TTA), so they would measure nothing; a vertical flip is the mirror of a 180-degree
turn, which overlaps the upright garment more than a 90-degree one (trousers, dresses), so turns
stop at 90 degrees to stay graded.

Everything is numpy and scipy.ndimage on float images in [0, 1], rounded back to uint8, so the
corrupted images go through a model's usual input path.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

SEED = 2019  # Mu & Gilmer's year: any fixed number would do; this one is recorded
SEVERITIES: dict[str, tuple] = {
    "shot_noise": (60, 25, 12, 6, 3),
    "impulse_noise": (0.01, 0.03, 0.06, 0.1, 0.15),
    "glass_blur": ((0.5, 1, 1), (0.6, 1, 2), (0.7, 2, 1), (0.8, 2, 2), (1.0, 3, 2)),
    "motion_blur": (3, 5, 7, 9, 11),
    "shear": (0.15, 0.3, 0.45, 0.6, 0.8),
    "scale": (0.9, 0.8, 0.7, 0.6, 0.5),
    "rotate": (10, 20, 30, 40, 50),
    "turn": (50, 60, 70, 80, 90),
    "translate": (1, 2, 3, 4, 6),
    "brightness": (0.1, 0.2, 0.3, 0.45, 0.6),
    "contrast": (0.7, 0.5, 0.35, 0.2, 0.1),
    "inverse": (0.2, 0.4, 0.6, 0.8, 1.0),
    "haze": (0.15, 0.3, 0.45, 0.6, 0.75),
    "spatter": (4, 8, 12, 18, 25),
}
CORRUPTIONS = tuple(SEVERITIES)


def corrupt(images: np.ndarray, corruption: str, severity: int, seed: int = SEED) -> np.ndarray:
    """``images`` (N, 28, 28) uint8 under ``corruption`` at ``severity`` (1-5), as uint8."""
    if corruption not in SEVERITIES:
        raise ValueError(f"unknown corruption {corruption!r}")  # the callers check names first
    order = CORRUPTIONS.index(corruption)
    rng = np.random.default_rng([seed, order, severity])
    level = SEVERITIES[corruption][severity - 1]
    x = images.astype(np.float64) / 255
    out = _FUNCTIONS[corruption](x, level, rng)
    return np.clip(np.round(np.clip(out, 0, 1) * 255), 0, 255).astype(np.uint8)


# -- the corruptions: (images in [0, 1], the severity's parameter, a generator) -> images ---------
def _shot_noise(x, photons, rng):
    return rng.poisson(x * photons) / photons


def _impulse_noise(x, share, rng):
    hit = rng.uniform(size=x.shape) < share
    return np.where(hit, rng.integers(0, 2, x.shape).astype(float), x)


def _glass_blur(x, sigma_reach_times, rng):
    sigma, reach, times = sigma_reach_times
    out = ndimage.gaussian_filter(x, (0, sigma, sigma))
    n, h, w = x.shape
    for _ in range(times):
        rows = np.arange(h)[None, :, None] + rng.integers(-reach, reach + 1, x.shape)
        cols = np.arange(w)[None, None, :] + rng.integers(-reach, reach + 1, x.shape)
        out = out[np.arange(n)[:, None, None], np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)]
    return out


def _motion_blur(x, length, rng):
    out = np.empty_like(x)
    for i, angle in enumerate(rng.uniform(0, 180, len(x))):
        kernel = np.zeros((int(length), int(length)))
        kernel[int(length) // 2, :] = 1
        kernel = ndimage.rotate(kernel, angle, reshape=False, order=1)
        out[i] = ndimage.convolve(x[i], kernel / kernel.sum(), mode="constant")
    return out


def _affine(x, matrices):
    """Each image through its own 2x2 matrix about the image centre (zeros outside)."""
    centre = (np.array(x.shape[1:]) - 1) / 2
    out = np.empty_like(x)
    for i, matrix in enumerate(matrices):
        offset = centre - matrix @ centre
        out[i] = ndimage.affine_transform(x[i], matrix, offset=offset, order=1, cval=0.0)
    return out


def _signs(rng, n):
    return rng.choice((-1.0, 1.0), n)


def _shear(x, factor, rng):
    return _affine(x, [np.array([[1.0, 0.0], [s * factor, 1.0]]) for s in _signs(rng, len(x))])


def _scale(x, share, rng):
    return _affine(x, [np.eye(2) / share] * len(x))


def _rotate(x, degrees, rng):
    angles = np.radians(degrees * _signs(rng, len(x)))
    return _affine(x, [np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) for a in angles])


def _translate(x, pixels, rng):
    angles = rng.uniform(0, 2 * np.pi, len(x))
    out = np.empty_like(x)
    for i, angle in enumerate(angles):
        out[i] = ndimage.shift(x[i], (pixels * np.sin(angle), pixels * np.cos(angle)), order=1)
    return out


def _brightness(x, amount, rng):
    return x + amount


def _contrast(x, share, rng):
    mean = x.mean(axis=(1, 2), keepdims=True)
    return mean + (x - mean) * share


def _inverse(x, amount, rng):
    return (1 - amount) * x + amount * (1 - x)


def _haze(x, amount, rng):
    veil = ndimage.gaussian_filter(rng.uniform(size=x.shape), (0, 4, 4))
    veil = (veil - veil.min(axis=(1, 2), keepdims=True)) / np.ptp(veil, axis=(1, 2), keepdims=True)
    return (1 - amount) * x + amount * (0.5 + 0.5 * veil)


def _spatter(x, dots, rng):
    n, h, w = x.shape
    out = x.copy()
    yy, xx = np.mgrid[:h, :w]
    for i in range(n):
        for row, col, radius, grey in zip(
            rng.uniform(0, h, int(dots)),
            rng.uniform(0, w, int(dots)),
            rng.uniform(0.7, 1.8, int(dots)),
            rng.uniform(0.3, 0.9, int(dots)),
        ):
            out[i][(yy - row) ** 2 + (xx - col) ** 2 <= radius**2] = grey
    return out


_FUNCTIONS: dict[str, Callable[[np.ndarray, float, np.random.Generator], np.ndarray]] = {
    "shot_noise": _shot_noise,
    "impulse_noise": _impulse_noise,
    "glass_blur": _glass_blur,
    "motion_blur": _motion_blur,
    "shear": _shear,
    "scale": _scale,
    "rotate": _rotate,
    "turn": _rotate,
    "translate": _translate,
    "brightness": _brightness,
    "contrast": _contrast,
    "inverse": _inverse,
    "haze": _haze,
    "spatter": _spatter,
}
