"""The IDX file format (LeCun's MNIST format) and its verification against the known Fashion-MNIST
files."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist.errors import DataError

_FIX = (
    "re-install with `apt-get install --reinstall dataset-fashion-mnist`, "
    "or delete it so fmnist downloads a verified copy"
)


@dataclass(frozen=True)
class IdxSpec:
    """What one of the four Fashion-MNIST files must be, after decompression."""

    stem: str
    magic: int  # 0x0801: uint8 vector (labels), 0x0803: uint8 3-D array (images)
    shape: tuple[int, ...]
    sha256: str  # of the decompressed content; the Debian package's .gz bytes differ from the
    # official ones

    @property
    def size(self) -> int:
        return 4 + 4 * len(self.shape) + int(np.prod(self.shape))


SPECS = {
    "train_images": IdxSpec(
        "train-images-idx3-ubyte",
        0x0803,
        (60000, 28, 28),
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    "train_labels": IdxSpec(
        "train-labels-idx1-ubyte",
        0x0801,
        (60000,),
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    "test_images": IdxSpec(
        "t10k-images-idx3-ubyte",
        0x0803,
        (10000, 28, 28),
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    "test_labels": IdxSpec(
        "t10k-labels-idx1-ubyte",
        0x0801,
        (10000,),
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
}


def find_file(directory: Path, spec: IdxSpec) -> Path | None:
    """The file for ``spec`` in ``directory``, gzipped or raw, or None."""
    for name in (spec.stem + ".gz", spec.stem):
        if (directory / name).is_file():
            return directory / name
    return None


def read_verified(path: Path, spec: IdxSpec) -> np.ndarray:
    """Decompress, check size, magic, shape, label range and SHA-256; return the uint8 array."""
    raw = _decompress(path)
    if len(raw) < spec.size:
        raise DataError(
            f"{path} is truncated", allowed=f"{spec.size:,} bytes", got=len(raw), fix=_FIX
        )
    magic = int.from_bytes(raw[:4], "big")
    if magic != spec.magic:
        raise DataError(
            f"{path} is not an IDX file of {spec.stem}: wrong magic number",
            allowed=f"0x{spec.magic:08x}",
            got=f"0x{magic:08x}",
            fix=_FIX,
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(len(spec.shape)))
    if shape != spec.shape or len(raw) != spec.size:
        raise DataError(
            f"{path} has the wrong shape or size",
            allowed=f"shape {spec.shape}, {spec.size:,} bytes",
            got=f"shape {shape}, {len(raw):,} bytes",
            fix=_FIX,
        )
    array = np.frombuffer(raw, np.uint8, offset=4 + 4 * len(shape)).reshape(shape)
    if spec.magic == 0x0801 and array.max() > 9:
        raise DataError(
            f"{path} holds labels out of range", allowed="0-9", got=int(array.max()), fix=_FIX
        )
    digest = hashlib.sha256(raw).hexdigest()
    if digest != spec.sha256:
        raise DataError(
            f"{path} has the wrong checksum: not the official {spec.stem} (MNIST, perhaps?)",
            allowed=f"SHA-256 {spec.sha256[:12]}...",
            got=f"SHA-256 {digest[:12]}...",
            fix=_FIX,
        )
    return array


def _decompress(path: Path) -> bytes:
    data = path.read_bytes()
    if not data.startswith(b"\x1f\x8b"):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path} is a truncated or corrupt gzip ({exc})", fix=_FIX) from None
