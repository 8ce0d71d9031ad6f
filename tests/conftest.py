"""Shared fixtures: the real Fashion-MNIST files and small, fast configs on real data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fmnist.data.sources import DEBIAN_DIR, SPECS, find_file

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


def _real_data_dir() -> Path:
    named = os.environ.get("FMNIST_DATA")
    directory = Path(named) if named else DEBIAN_DIR
    if not all(find_file(directory, spec) for spec in SPECS.values()):
        pytest.exit(
            f"the tests need the real Fashion-MNIST files in {directory}: "
            "apt-get install dataset-fashion-mnist (or set FMNIST_DATA)",
            returncode=2,
        )
    return directory


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    return _real_data_dir()


@pytest.fixture
def data_copy(tmp_path, real_data_dir) -> Path:
    """A private copy of the four .gz files that a test may corrupt."""
    target = tmp_path / "data"
    target.mkdir()
    for spec in SPECS.values():
        shutil.copy(find_file(real_data_dir, spec), target)
    return target


def fmnist_cli(*args, **kwargs) -> subprocess.CompletedProcess:
    """The ``fmnist`` command in a fresh process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "fmnist", *map(str, args)], capture_output=True, text=True, **kwargs
    )


def tiny(**sections) -> dict:
    """A config that trains in about a second on real data: 1,000 training and 500 validation
    images."""
    base = {
        "data": {"train_subset": 1000, "val_size": 500},
        "model": {"name": "mlp", "hidden": [64]},
        "train": {"epochs": 2, "batch_size": 100},
    }
    for key, value in sections.items():
        merge = isinstance(value, dict) and key != "model"  # a new model brings its own options
        base[key] = {**base.get(key, {}), **value} if merge else value
    return base


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright's Python package (never `playwright install`: no
    downloads here)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), (
        f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    )
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
            ],
        )
        yield context
        context.close()
