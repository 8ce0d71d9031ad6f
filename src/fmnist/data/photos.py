"""A photo of a garment as a Fashion-MNIST image, made the way the dataset was made.

Xiao et al. 2017 (arXiv:1708.07747), section 2, turned each product photo into a 28x28 image by:
trimming the edges close to the corner colour (within 5 % of the largest intensity), resizing the
longest edge to 28 by subsampling, sharpening (Gaussian, radius and sigma 1), extending the shorter
edge to 28 with the object centred, negating the intensities, and converting to 8-bit greyscale.
``prepare_photo`` does the same, with three differences for photos that are not studio shots: a
3x3 median filter before trimming, so that sensor noise does not stretch the box; negating only
when the background is light, so that a garment on a dark background also ends light on black; and
the background set to exactly 0 (the dataset's photos were pure white). Predict, export and serve
all use this function.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

SIDE = 28
CLOSE_TO_CORNER = 0.05 * 255  # the paper's trimming tolerance, per RGB channel
SMALLEST_OBJECT = 8  # pixels: an object smaller than this holds no garment worth classifying
WORKING_SIZE = 1024  # larger photos are reduced to about this before trimming (the result is 28 px)


@dataclass
class PreparedPhoto:
    """The 28x28 uint8 image (light object on black) and what the user should know about it."""

    pixels: np.ndarray
    warnings: list[str] = field(default_factory=list)


def prepare_photo(image: Image.Image) -> PreparedPhoto:
    """``image`` (any mode and size) as the 28x28 input a Fashion-MNIST model expects."""
    image = image.convert("RGB")
    if max(image.size) > WORKING_SIZE:  # a phone photo: box-average it down first, for speed
        image = image.reduce(-(-max(image.size) // WORKING_SIZE))
    rgb = np.asarray(image, dtype=np.float32)
    corner = np.median([rgb[0, 0], rgb[0, -1], rgb[-1, 0], rgb[-1, -1]], axis=0)
    warnings = []
    if max(image.size) < SIDE:
        warnings.append(
            f"the image is only {image.size[0]}x{image.size[1]} pixels, smaller than the 28x28 "
            "input: too small to show a garment"
        )
    # A 3x3 median first: one noisy pixel far from the garment (sensor noise, JPEG) must not
    # stretch the trimmed box to the whole photo.
    denoised = np.asarray(image.filter(ImageFilter.MedianFilter(3)), np.float32)
    box = _object_box(denoised, corner)
    if box is None:
        warnings.append("blank image: no pixel differs from the background; nothing to classify")
        box = (0, 0, rgb.shape[1], rgb.shape[0])
    crop = image.crop(box)
    if max(crop.size) < SMALLEST_OBJECT and max(image.size) >= SIDE:
        warnings.append(
            f"the object is only {crop.size[0]}x{crop.size[1]} pixels: too small to hold a "
            "garment, so the prediction means little"
        )
    light_background = corner.mean() > 127
    small = _fit_longest_edge(crop)
    sharp = small.filter(ImageFilter.UnsharpMask(radius=1.0, percent=100, threshold=0))
    canvas = Image.new("RGB", (SIDE, SIDE), tuple(int(c) for c in corner))
    canvas.paste(sharp, ((SIDE - sharp.size[0]) // 2, (SIDE - sharp.size[1]) // 2))
    grey = np.asarray(canvas.convert("L"), dtype=np.int16)
    light_on_dark = 255 - grey if light_background else grey
    # The background to exactly 0, as in the dataset (its product photos were pure white).
    pixels = np.clip(light_on_dark - light_on_dark[0, 0], 0, 255).astype(np.uint8)
    return PreparedPhoto(pixels, warnings)


def _object_box(rgb: np.ndarray, corner: np.ndarray) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the pixels not close to the corner colour, or None."""
    differs = (np.abs(rgb - corner) > CLOSE_TO_CORNER).any(axis=2)
    rows, cols = np.flatnonzero(differs.any(axis=1)), np.flatnonzero(differs.any(axis=0))
    if not len(rows):
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _fit_longest_edge(image: Image.Image) -> Image.Image:
    """The longest edge to 28 pixels, aspect kept. Larger images are subsampled as the paper did
    (nearest pixel, rows and columns skipped); smaller ones are enlarged smoothly."""
    width, height = image.size
    scale = SIDE / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.NEAREST if scale < 1 else Image.Resampling.BICUBIC
    return image.resize(size, resample)


def _studio_shot(
    pixels: np.ndarray,
    *,
    scale: int,
    light: bool,
    offset: tuple[int, int],
    rng: np.random.Generator,
) -> Image.Image:
    """A 28x28 image made back into a product photo, where real ones cannot be had (tests, and
    ``benchmarks/photos.py``): enlarged ``scale`` times, placed ``offset`` pixels off-centre on a
    light (or dark) background with a margin, its intensities negated on light as the dataset's
    were made, and sensor noise (sd 3 of 255) added."""
    big = Image.fromarray(pixels).resize((SIDE * scale, SIDE * scale), Image.Resampling.BICUBIC)
    garment = np.asarray(big, np.float32)
    side = SIDE * scale + 2 * max(offset) + 40
    canvas = np.full((side, side), 245.0 if light else 10.0, np.float32)
    top, left = 20 + offset[0], 20 + offset[1]
    canvas[top : top + SIDE * scale, left : left + SIDE * scale] = (
        245 - garment * 235 / 255 if light else 10 + garment * 235 / 255
    )
    canvas += rng.normal(0, 3, canvas.shape)
    return Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))


def studio_shots(images: np.ndarray, seed: int = 0) -> list[Image.Image]:
    """Each image as a studio shot (``_studio_shot``) of a varied size (4, 10 or 25 times),
    background (light or dark, alternating) and position: the product-style photos the tests and
    the photo benchmark measure a model on."""
    rng = np.random.default_rng(seed)
    return [
        _studio_shot(
            pixels,
            scale=(4, 10, 25)[k % 3],
            light=k % 2 == 0,
            offset=(k % 7 * 9, k % 5 * 13),
            rng=rng,
        )
        for k, pixels in enumerate(images)
    ]
