"""User images (photos, PNG/JPEG files, .npy arrays) as Fashion-MNIST-like 28x28 uint8 inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from fmnist.data.photos import prepare_photo
from fmnist.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


@dataclass
class ImageInput:
    """One image as a model will see it (28x28 uint8, light object on black), or why it could not
    be read; ``warnings`` say what makes its prediction doubtful."""

    name: str
    pixels: np.ndarray | None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def read_images(paths: list[str | Path]) -> list[ImageInput]:
    """Each file as model inputs: a photo (prepared as Fashion-MNIST was made, see
    ``fmnist.data.photos``) or a .npy array of (28, 28) or (N, 28, 28) pixels. A file that cannot
    be read gives one input with its ``error``; the others are still read."""
    inputs: list[ImageInput] = []
    for path in map(Path, paths):
        try:
            inputs += _read(path)
        except DataError as exc:
            inputs.append(ImageInput(str(path), None, error=str(exc)))
    return inputs


def save_input(item: ImageInput, path: Path, scale: int = 8) -> Path:
    """The 28x28 input as the model sees it, enlarged ``scale`` times (each pixel a square), as a
    PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(item.pixels).resize((28 * scale, 28 * scale), Image.Resampling.NEAREST)
    image.save(path)
    return path


def _read(path: Path) -> list[ImageInput]:
    if not path.is_file():
        raise DataError(
            f"image {path} does not exist", fix="pass PNG/JPEG files or .npy arrays of 28x28 uint8"
        )
    if path.suffix.lower() == ".npy":
        array = _load_npy(path)
        names = [str(path)] if len(array) == 1 else [f"{path}[{i}]" for i in range(len(array))]
        return [ImageInput(name, pixels) for name, pixels in zip(names, array)]
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise DataError(
            f"{path} has an unsupported file type",
            allowed=f".npy, {', '.join(IMAGE_SUFFIXES)}",
            got=path.suffix,
            fix="convert it to PNG, or save the pixels with np.save",
        )
    prepared = prepare_photo(_open_image(path))
    return [ImageInput(str(path), prepared.pixels, prepared.warnings)]


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


def _open_image(path: Path) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            return image
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise DataError(
            f"{path} cannot be read as an image ({exc})", fix="pass a PNG or JPEG file"
        ) from None
