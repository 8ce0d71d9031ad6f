"""Turn user images (photos, PNG/JPEG files, .npy arrays) into Fashion-MNIST-like 28x28 uint8
arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def load_images(paths: list[str | Path]) -> tuple[np.ndarray, list[str]]:
    """(N, 28, 28) uint8 images and a name per image; a .npy file may hold (28, 28) or
    (N, 28, 28)."""
    images, names = [], []
    for path in map(Path, paths):
        if not path.is_file():
            raise DataError(
                f"image {path} does not exist",
                fix="pass PNG/JPEG files or .npy arrays of 28x28 uint8",
            )
        if path.suffix.lower() == ".npy":
            array = _load_npy(path)
            images.extend(array)
            names.extend(
                [str(path)] if len(array) == 1 else [f"{path}[{i}]" for i in range(len(array))]
            )
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            images.append(photo_to_fmnist(path))
            names.append(str(path))
        else:
            raise DataError(
                f"{path} has an unsupported file type",
                allowed=f".npy, {', '.join(IMAGE_SUFFIXES)}",
                got=path.suffix,
                fix="convert it to PNG, or save the pixels with np.save",
            )
    return np.stack(images), names


def _load_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)  # never unpickle a user's file
    except ValueError as exc:
        raise DataError(
            f"{path} is not a plain numeric .npy array ({exc})",
            fix="save the pixels with np.save(path, array.astype(np.uint8))",
        ) from None
    if array.size % 784 or array.ndim not in (2, 3):
        raise DataError(
            f"{path} holds an array of the wrong shape",
            allowed="(28, 28) or (N, 28, 28)",
            got=array.shape,
            fix="reshape the array before saving it",
        )
    array = array.reshape(-1, 28, 28)
    return np.clip(array * 255 if array.max() <= 1 else array, 0, 255).astype(np.uint8)


def photo_to_fmnist(path: Path) -> np.ndarray:
    """Greyscale, pad to square, 28x28, and invert a light background: Fashion-MNIST items are light
    on black."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path).convert("L")
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(
            f"{path} cannot be read as an image ({exc})", fix="pass a PNG or JPEG file"
        ) from None
    side = max(image.size)
    array = np.asarray(image)
    border = np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])
    light_background = border.mean() > 127
    fill = 255 if light_background else 0
    square = Image.new("L", (side, side), fill)
    square.paste(image, ((side - image.size[0]) // 2, (side - image.size[1]) // 2))
    small = np.asarray(square.resize((28, 28), Image.Resampling.LANCZOS), dtype=np.uint8)
    return 255 - small if light_background else small
