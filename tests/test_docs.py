"""The docs site builds with `mkdocs build --strict` (a broken link, a missing page or anchor, or a
docstring griffe cannot read fails it), and everything its API reference renders has a docstring:
mkdocstrings renders an undocumented function as a bare signature without a warning."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import griffe

ROOT = Path(__file__).resolve().parents[1]


def test_site_builds_strictly(tmp_path):
    site = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # material's notice, not a build warning
    )
    assert build.returncode == 0, build.stdout + build.stderr
    # The home page is the README, and the reference holds what the docstrings say.
    assert "Two commands" in (site / "index.html").read_text()
    api = (site / "docs" / "api.html").read_text()
    assert 'id="fmnist.api.runs.fit"' in api
    assert "Train one model and record it in a run directory" in api


def _undocumented(obj: griffe.Object) -> list[str]:
    """The paths of ``obj`` and of its public functions, classes and properties, recursively,
    that have no docstring. Imported names are skipped: they are documented where they live."""
    missing = [] if obj.docstring else [obj.path]
    if obj.is_module or obj.is_class:
        for name, member in obj.members.items():
            if member.is_alias or name.startswith("_"):
                continue
            if member.is_function or member.is_class or "property" in member.labels:
                missing += _undocumented(member)
    return missing


def test_api_reference_is_documented():
    rendered = re.findall(r"^::: (\S+)", (ROOT / "docs" / "api.md").read_text(), re.M)
    assert "fmnist.api.runs" in rendered and "fmnist.inference.Run" in rendered
    package = griffe.load("fmnist", search_paths=[ROOT / "src"])
    missing = [
        path for name in rendered for path in _undocumented(package[name.removeprefix("fmnist.")])
    ]
    assert not missing, f"no docstring (docs/api.md renders them): {', '.join(missing)}"
