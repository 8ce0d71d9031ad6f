"""Photos prepared as Fashion-MNIST was made: synthetic shapes and product-style photos made from
real test images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fmnist.data.photos import prepare_photo, studio_shots
from fmnist.data.sources import load_arrays


def shape_photo(size=(400, 300), box=(100, 50, 180, 250), background=250, colour=(30, 60, 200)):
    image = Image.new("RGB", size, (background,) * 3)
    ImageDraw.Draw(image).rectangle(box, fill=colour)
    return image


def test_the_object_is_trimmed_centred_fitted_to_28_pixels_and_light_on_black():
    prepared = prepare_photo(shape_photo())
    pixels = prepared.pixels
    assert pixels.shape == (28, 28) and pixels.dtype == np.uint8 and not prepared.warnings
    rows, cols = np.flatnonzero(pixels.max(1) > 50), np.flatnonzero(pixels.max(0) > 50)
    assert rows[0] == 0 and rows[-1] == 27  # the longest edge (height) spans the 28 pixels
    assert abs((cols[0] + cols[-1]) / 2 - 13.5) <= 1  # centred across
    assert pixels[14, 14] > 100 and pixels[14, 0] == 0  # light garment, background exactly 0


def test_position_scale_and_background_do_not_change_the_result_much():
    reference = prepare_photo(shape_photo()).pixels.astype(int)
    moved = shape_photo(size=(900, 700), box=(600, 300, 680, 500))
    bigger = shape_photo(size=(2000, 1500), box=(500, 250, 900, 1250))
    dark = shape_photo(background=5, colour=(220, 200, 60))
    for image in (moved, bigger):
        assert np.abs(prepare_photo(image).pixels.astype(int) - reference).mean() < 4
    # On a dark background the garment is not negated: it is still light on black, centred.
    assert np.corrcoef(prepare_photo(dark).pixels.ravel() > 50, reference.ravel() > 50)[0, 1] > 0.9


@pytest.mark.parametrize(
    ("image", "warning"),
    [
        (Image.new("RGB", (40, 40), (255, 255, 255)), "blank image"),
        (Image.new("RGB", (5, 5), (255, 255, 255)), "too small to show a garment"),
        (shape_photo(size=(60, 60), box=(28, 28, 31, 31)), "too small to hold a garment"),
    ],
)
def test_a_blank_or_tiny_object_is_prepared_with_a_warning(image, warning):
    prepared = prepare_photo(image)
    assert prepared.pixels.shape == (28, 28)
    assert any(warning in w for w in prepared.warnings)


def test_product_photos_of_test_images_come_back_close_to_the_originals(real_data_dir):
    images = load_arrays(real_data_dir)[0]["test_images"][:60]
    correlations = []
    for pixels, photo in zip(images, studio_shots(images), strict=True):
        prepared = prepare_photo(photo).pixels.astype(float)
        correlations.append(np.corrcoef(prepared.ravel(), pixels.ravel())[0, 1])
    assert np.median(correlations) > 0.9 and np.mean(correlations) > 0.85
