"""Where the data comes from: a directory the user names, the Debian package, a copy another
library downloaded, or a verified download.

A named directory may hold the four IDX files (gzipped or not) itself, or in the layouts other
libraries leave them in: torchvision's ``ROOT/FashionMNIST/raw/`` (name ROOT, as you passed it to
``torchvision.datasets.FashionMNIST``) and Keras' ``~/.keras/datasets/fashion-mnist/``. Every file
is verified against the official checksums, whoever downloaded it.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from fmnist.data.idx import SPECS, find_file, read_verified
from fmnist.errors import DataError

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
