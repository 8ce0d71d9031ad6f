"""fmnist as a user gets it: the wheel and sdist built as a release builds them (``python -m
build``, ``twine check``), the wheel installed without constraints into a fresh venv outside the
repository that already holds torch, which pip must leave as it was; then the venv's ``fmnist``
trains ``fast --quick`` and reports on it from a folder outside the repository.

The slowest test (about two minutes: it builds, makes a venv, installs torch and fmnist's
dependencies). The wheel goes in without extras: training and the report must work without them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.install

# The user's torch: the one constraints.txt pins (the CPU wheel that lies on the machines here).
TORCH = next(
    line.strip()
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    if line.startswith("torch==")
)
TORCH_FACTS = (
    "import importlib.metadata as m, json, torch; "
    "print(json.dumps({'version': m.version('torch'), 'file': torch.__file__}))"
)


def _run(*cmd, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}:\n{done.stdout}\n{done.stderr}"
    return done


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without this venv or repository in it, as a user's shell has."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    _run(sys.executable, "-m", "twine", "check", "--strict", *sorted(out.iterdir()))
    return out


def test_the_wheel_holds_every_module_recipe_and_search_space(dist):
    (wheel,) = dist.glob("fmnist-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    src = ROOT / "src"
    needed = {
        p.relative_to(src).as_posix()
        for p in (src / "fmnist").rglob("*")
        if p.suffix in (".py", ".yaml") and "__pycache__" not in p.parts
    }
    assert needed - packaged == set()
    assert any(name.startswith("fmnist/recipes/") and name.endswith(".yaml") for name in packaged)
    assert any(name.startswith("fmnist/search/spaces/") for name in packaged)
    assert list(dist.glob("fmnist-*.tar.gz"))


def test_the_wheel_asks_for_ranges_never_exact_versions(dist):
    """An exact pin makes pip replace a user's torch (Colab's CUDA build) or fail where that
    version has no wheel. Only the test extra, a developer's, pins ruff (formatting differs)."""
    (wheel,) = dist.glob("fmnist-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("fmnist-0.1.0.dist-info/METADATA").decode()
    needs = [
        line.removeprefix("Requires-Dist:").strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    assert any(n.startswith("torch>=") for n in needs), needs
    pinned = [n for n in needs if "==" in n.split(";")[0] and 'extra == "test"' not in n]
    assert pinned == []


def test_the_wheel_installs_beside_the_users_torch_and_trains_outside_the_repo(
    dist, tmp_path, real_data_dir
):
    assert ROOT not in tmp_path.parents
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python, env = bin_dir / "python", _clean_env(FMNIST_DATA=str(real_data_dir))
    started = time.monotonic()
    # --no-compile: the .pyc files of every module would take most of the time, and change nothing
    _run(python, "-m", "pip", "install", "--quiet", "--no-compile", TORCH, env=env)
    print(f"pip install {TORCH} into a fresh venv: {time.monotonic() - started:.0f} s")
    before = json.loads(_run(python, "-c", TORCH_FACTS, env=env).stdout)

    (wheel,) = dist.glob("fmnist-*.whl")
    started = time.monotonic()
    installed = _run(python, "-m", "pip", "install", "--no-compile", wheel, env=env)  # no -c
    print(f"pip install the wheel (and its dependencies): {time.monotonic() - started:.0f} s")
    lines = installed.stdout.splitlines()
    newly = [p for line in lines if line.startswith("Successfully installed") for p in line.split()]
    assert not [p for p in newly if p.startswith("torch-")], installed.stdout
    assert "Uninstalling torch" not in installed.stdout
    assert json.loads(_run(python, "-c", TORCH_FACTS, env=env).stdout) == before

    user = tmp_path / "somewhere"  # a folder of the user's, far from the repository
    user.mkdir()
    where = _run(python, "-c", "import fmnist; print(fmnist.__file__)", env=env, cwd=user)
    assert Path(where.stdout.strip()).is_relative_to(venv)
    fmnist = bin_dir / "fmnist"
    started = time.monotonic()
    trained = _run(fmnist, "train", "--recipe", "fast", "--quick", "--quiet", env=env, cwd=user)
    assert "test accuracy" in trained.stdout
    print(f"fmnist train --recipe fast --quick: {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    _run(fmnist, "report", "runs/fast-quick/seed0", env=env, cwd=user)
    print(f"fmnist report: {time.monotonic() - started:.0f} s")
    assert (user / "runs" / "fast-quick" / "seed0" / "report" / "report.html").is_file()
