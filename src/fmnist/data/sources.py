"""Where the data comes from: a directory the user names, the Debian package, a copy another
library downloaded, or a verified download.

A named directory may hold the four IDX files (gzipped or not) itself, or in the layouts other
libraries leave them in: torchvision's ``ROOT/FashionMNIST/raw/`` (name ROOT, as you passed it to
``torchvision.datasets.FashionMNIST``) and Keras' ``~/.keras/datasets/fashion-mnist/``. Every file
is verified against the official checksums, whoever downloaded it: read as the IDX format
(LeCun's MNIST format), its size, magic number, shape, label range and SHA-256 checked.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist.errors import DataError

# -- the four files and how one is read and verified

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


# -- where they are found

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
MIRROR = "https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


# Where other libraries keep the files, relative to the folder a user names: torchvision's root
# (ROOT/FashionMNIST/raw) and the class folder inside it (ROOT/FashionMNIST, which holds raw/).
LAYOUTS = (Path("."), Path("FashionMNIST") / "raw", Path("raw"))


def cache_dir() -> Path:
    return Path(os.environ.get("FMNIST_CACHE", Path.home() / ".cache" / "fmnist"))


def keras_dir() -> Path:
    """Where ``keras.datasets.fashion_mnist.load_data()`` keeps the four .gz files."""
    home = os.environ.get("KERAS_HOME", Path.home() / ".keras")
    return Path(home) / "datasets" / "fashion-mnist"


def load_arrays(data_dir: str | Path | None = None) -> tuple[dict[str, np.ndarray], Path]:
    """The four verified arrays and the directory they came from.

    A directory the user names (argument or FMNIST_DATA) is used or refused, never replaced by
    another source; the files may sit in it or in torchvision's layout under it. Otherwise: the
    Debian package, then fmnist's download cache, then Keras' cache, then a download.
    """
    named = data_dir or os.environ.get("FMNIST_DATA")
    if named:
        directory = _laid_out(Path(named))
        return _read_dir(directory, "--data-dir/FMNIST_DATA"), directory
    for directory in (DEBIAN_DIR, cache_dir(), keras_dir()):
        if _holds_all(directory):
            return _read_dir(directory, "found"), directory
    download(cache_dir())
    return _read_dir(cache_dir(), "downloaded"), cache_dir()


def _holds_all(directory: Path) -> bool:
    return all(find_file(directory, spec) for spec in SPECS.values())


def _laid_out(directory: Path) -> Path:
    """The folder under ``directory`` that holds the files in one of ``LAYOUTS`` (``directory``
    itself when none does, so the error names what the user gave)."""
    for layout in LAYOUTS:
        if _holds_all(directory / layout):
            return directory / layout
    return directory


def _read_dir(directory: Path, how: str) -> dict[str, np.ndarray]:
    if not directory.is_dir():
        raise DataError(
            f"data directory {directory} ({how}) does not exist",
            fix="point --data-dir or FMNIST_DATA at the folder holding the four Fashion-MNIST IDX "
            "files, or unset it",
        )
    arrays = {}
    for key, spec in SPECS.items():
        path = find_file(directory, spec)
        if path is None:
            raise DataError(
                f"{directory / (spec.stem + '.gz')} is missing (neither .gz nor raw found)",
                fix="put the four Fashion-MNIST IDX files there (or name torchvision's root, which "
                "holds FashionMNIST/raw), or unset --data-dir/FMNIST_DATA to use the Debian "
                "package or a download",
            )
        stat = path.stat()
        arrays[key] = _read_cached(path.resolve(), stat.st_size, stat.st_mtime_ns, spec)
    return arrays


@functools.lru_cache(maxsize=8)
def _read_cached(path: Path, size: int, mtime_ns: int, spec) -> np.ndarray:
    """Verified arrays are kept per (file, size, mtime): a sweep in one process decompresses
    once."""
    array = read_verified(path, spec)
    array.flags.writeable = False
    return array


def download(target: Path, mirror: str | None = None) -> None:
    """Fetch the four .gz files into ``target``, verifying each before it is moved into place."""
    mirror = mirror or os.environ.get("FMNIST_MIRROR", MIRROR)
    target.mkdir(parents=True, exist_ok=True)
    for spec in SPECS.values():
        final = target / (spec.stem + ".gz")
        if final.is_file():
            continue
        url = mirror.rstrip("/") + "/" + spec.stem + ".gz"
        with tempfile.NamedTemporaryFile(dir=target, suffix=".part", delete=False) as tmp:
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    shutil.copyfileobj(response, tmp)
            except OSError as exc:
                os.unlink(tmp.name)
                raise DataError(
                    f"could not download {url} ({exc})",
                    fix="install the Debian package dataset-fashion-mnist or pass --data-dir",
                ) from None
        try:
            read_verified(Path(tmp.name), spec)
        except DataError:
            os.unlink(tmp.name)
            raise
        os.replace(tmp.name, final)
