"""Run directories: one folder per run holding everything needed to trust, resume and report it.

    RUN_DIR/
      config.yaml       resolved config (re-runs the same experiment)
      env.json          versions, device, threads, git commit, command line
      metrics.jsonl     one JSON line per finished epoch
      ckpt/last.pt      everything to resume (weights_only-loadable)
      ckpt/best.pt      weights of the best validation epoch
      summary.json      written once, after the final test evaluation: the run is complete
      predictions.csv   index,label,predicted,p0..p9 per test image

Every file is written to ``name.tmp`` and renamed, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from fmnist.errors import RunDirError


def atomic_write(path: Path, data: bytes | str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class RunDir:
    """Paths and atomic I/O of one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, root: str | Path, name: str, fingerprint: str) -> RunDir:
        """A fresh directory ``root/<date-time>-<name>-<config hash>``."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path(root) / f"{stamp}-{name}-{fingerprint}"
        suffix = 1
        while path.exists():
            path = Path(root) / f"{stamp}-{name}-{fingerprint}-{suffix}"
            suffix += 1
        (path / "ckpt").mkdir(parents=True)
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        run = cls(path)
        if not (run.path / "config.yaml").is_file():
            raise RunDirError(
                f"{path} is not an fmnist run directory (no config.yaml); "
                "pass a folder made by `fmnist train`, e.g. runs/<date>-<model>-<hash>"
            )
        return run

    def file(self, relative: str) -> Path:
        """A path inside the run directory; refuses anything that would escape it."""
        target = (self.path / relative).resolve()
        if not target.is_relative_to(self.path.resolve()):
            raise RunDirError(
                f"path {relative!r} leaves the run directory {self.path}; use a plain relative name"
            )
        return target

    # -- config and environment -------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write(self.path / "config.yaml", yaml.safe_dump(config, sort_keys=False))

    def read_config(self) -> dict[str, Any]:
        return yaml.safe_load((self.path / "config.yaml").read_text())

    def read_env(self) -> dict[str, Any]:
        path = self.path / "env.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def write_env(self, device: str, seed: int, *, hardware: dict[str, Any] | None = None) -> None:
        """Versions, device and the command line; ``hardware``: a network's precision, why, and the
        CPU's features."""
        import numpy
        import torch

        env = {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "numpy": numpy.__version__,
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "device": device,
            "cuda_device": torch.cuda.get_device_name() if device.startswith("cuda") else None,
            "threads": torch.get_num_threads(),
            **(hardware or {}),
            "seed": seed,
            "git_commit": _git_commit(),
            "command": sys.argv,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        atomic_write(self.path / "env.json", json.dumps(env, indent=2))

    # -- metrics ----------------------------------------------------------------------------
    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    def append_metrics(self, row: dict[str, Any]) -> None:
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def write_metrics(self, rows: list[dict[str, Any]]) -> None:
        atomic_write(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows))

    def read_metrics(self) -> list[dict[str, Any]]:
        """Finished epochs; a torn last line (crash mid-append) is ignored."""
        if not self.metrics_path.is_file():
            return []
        rows = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return rows

    # -- checkpoints ------------------------------------------------------------------------
    @property
    def last_ckpt(self) -> Path:
        return self.path / "ckpt" / "last.pt"

    @property
    def best_ckpt(self) -> Path:
        return self.path / "ckpt" / "best.pt"

    # -- results ----------------------------------------------------------------------------
    @property
    def is_complete(self) -> bool:
        return (self.path / "summary.json").is_file()

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write(self.path / "summary.json", json.dumps(summary, indent=2))

    def read_summary(self) -> dict[str, Any]:
        if not self.is_complete:
            raise RunDirError(
                f"{self.path} has no summary.json: the run has not finished; "
                f"finish it with `fmnist train --resume {self.path}`"
            )
        return json.loads((self.path / "summary.json").read_text())

    def write_predictions(self, labels, predicted, probabilities) -> None:
        header = "index,label,predicted," + ",".join(f"p{k}" for k in range(probabilities.shape[1]))
        lines = [header]
        for i, (y, p, probs) in enumerate(zip(labels, predicted, probabilities)):
            lines.append(f"{i},{y},{p}," + ",".join(f"{v:.6f}" for v in probs))
        atomic_write(self.path / "predictions.csv", "\n".join(lines) + "\n")


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
