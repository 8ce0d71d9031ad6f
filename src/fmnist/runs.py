"""Run directories: one folder per run holding everything needed to trust, resume and report it.

``RunDir`` is the one place that knows these names and formats; everything else calls its methods.

    RUN_DIR/
      config.yaml           resolved config (re-runs the same experiment)
      env.json              versions, device, threads, git commit, command line
      metrics.jsonl         one JSON line per finished epoch
      ckpt/last.pt          everything to resume (weights_only-loadable)
      ckpt/best.pt          weights of the best validation epoch
      summary.json          written once, after the final test evaluation: the run is complete
      predictions.csv       index,label,predicted,p0..p9 per test image (what reports read)
      test_predictions.txt  the predicted class of each test image, one digit a line in test-set
                            order: anyone can recount the accuracy against the official labels
      recipe.json           the recipe, point and study number of a run made by ``fmnist run``
      trial.json            a search trial's study, number, parameters, state and value (its
                            summary.json holds validation scores only: a trial never sees test)
    recorded on request (``--record``, see ``fmnist.training.record``):
      filters.npz           epochs (E,), filters (E, N, h, w): first-layer weights at init
                            (epoch 0) and after every epoch
      histograms.jsonl      one line per epoch:
                            {"epoch", "params": {name: {"counts", "edges", "mean", "std"}}}
      layers.jsonl          one line per epoch: {"epoch", "layers": {name: {"relative_change",
                            "grad_norm"}}} of every conv and linear weight
      embeddings.npz        features (n, d), labels (n,), index (n,): penultimate features of a
                            stratified test sample
      tensorboard/          TensorBoard event files

Every file is written to ``name.tmp`` and renamed, so a crash never leaves a half-written file; the
JSON-lines files grow a line at a time and their readers ignore a torn last line. Run directories
are shared and downloaded, so readers trust none of them: arrays load without pickle, and no name
(or link) may lead outside the directory.
"""

from __future__ import annotations

import io
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fmnist.errors import ConfigError, RunDirError
from fmnist.schema import parse_yaml


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
    def make(cls, path: str | Path) -> RunDir:
        """The one place a run folder is created, kept where it exists (an interrupted run is
        resumed in it; a finished one is left as it is). ``--out`` was checked writable before.
        ``ckpt/`` is made by the first checkpoint written into it."""
        Path(path).mkdir(parents=True, exist_ok=True)
        return cls(path)

    @staticmethod
    def fresh_path(root: str | Path, name: str, fingerprint: str) -> Path:
        """A path not yet taken for a run of a config without a recipe:
        ``root/<date-time>-<name>-<config hash>``."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path(root) / f"{stamp}-{name}-{fingerprint}"
        suffix = 1
        while path.exists():
            path = Path(root) / f"{stamp}-{name}-{fingerprint}-{suffix}"
            suffix += 1
        return path

    @property
    def is_run(self) -> bool:
        """The folder holds a run (its config.yaml), finished or not."""
        return self.file("config.yaml").is_file()

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        run = cls(path)
        if not run.is_run:
            raise RunDirError(
                f"{path} is not an fmnist run directory (no config.yaml)",
                fix="pass a folder made by `fmnist train` or `fmnist run`, e.g. runs/fast/seed0",
            )
        return run

    def file(self, relative: str) -> Path:
        """A path inside the run directory; refuses anything that would escape it."""
        target = (self.path / relative).resolve()
        if not target.is_relative_to(self.path.resolve()):
            raise RunDirError(
                f"path {relative!r} leaves the run directory {self.path}",
                fix="use a plain relative name",
            )
        return target

    # -- config and environment -------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write(self.file("config.yaml"), yaml.safe_dump(config, sort_keys=False))

    def read_config(self) -> dict[str, Any]:
        """config.yaml as a dict (validated by its readers); a damaged file is one RunDirError."""
        try:
            data = parse_yaml(self._read_text("config.yaml"), "the file")
        except ConfigError as exc:
            raise self.damaged("config.yaml", str(exc).split("; ")[0]) from None
        if not isinstance(data, dict):
            raise self.damaged("config.yaml", f"it holds a {type(data).__name__}, not sections")
        return data

    def damaged(self, name: str, reason: str) -> RunDirError:
        """The error for a file of this run that cannot be read, saying what can still be saved:
        an unfinished run with a last checkpoint resumes from it; anything else is trained again."""
        resumable = name not in ("config.yaml", "ckpt/last.pt") and self.last_ckpt.is_file()
        fix = (
            f"delete {self.path / name} and finish the run from its last good checkpoint with "
            f"`fmnist train --resume {self.path}`"
            if resumable
            else f"restore the file from where the run came from, or delete {self.path} and "
            "train it again"
        )
        return RunDirError(f"{self.path / name} is damaged ({reason})", fix=fix)

    def read_env(self) -> dict[str, Any]:
        return self._read_json("env.json") or {}

    def write_env(
        self,
        device: str,
        seed: int,
        *,
        hardware: dict[str, Any] | None = None,
        model_source: dict[str, Any] | None = None,
    ) -> None:
        """Versions, device and the command line; ``hardware``: a network's precision, why, and the
        CPU's features or the GPU's name; ``model_source``: where a user's model code is
        (fmnist.models.user)."""
        import torch

        env = {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "numpy": np.__version__,
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "device": device,
            "threads": torch.get_num_threads(),
            **(hardware or {}),
            **({"model_source": model_source} if model_source else {}),
            "seed": seed,
            "git_commit": _git_commit(),
            "command": [redact(arg) for arg in sys.argv],
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        self._write_json("env.json", env)

    # -- metrics ----------------------------------------------------------------------------
    def append_metrics(self, row: dict[str, Any]) -> None:
        self._append_jsonl("metrics.jsonl", row)

    def write_metrics(self, rows: list[dict[str, Any]]) -> None:
        self._write_jsonl("metrics.jsonl", rows)

    def read_metrics(self) -> list[dict[str, Any]]:
        """Finished epochs; a torn last line (crash mid-append) is ignored."""
        return self._read_jsonl("metrics.jsonl")

    # -- checkpoints ------------------------------------------------------------------------
    @property
    def last_ckpt(self) -> Path:
        return self.path / "ckpt" / "last.pt"

    @property
    def best_ckpt(self) -> Path:
        return self.path / "ckpt" / "best.pt"

    @property
    def final_ckpt(self) -> Path:
        return self.path / "ckpt" / "final.pt"

    # -- results ----------------------------------------------------------------------------
    @property
    def is_complete(self) -> bool:
        return self.file("summary.json").is_file()

    @classmethod
    def finished_under(cls, root: str | Path) -> list[RunDir]:
        """Every finished run (its summary.json) under ``root``, ``root`` itself included, sorted
        by path."""
        return [cls(p.parent) for p in sorted(Path(root).rglob("summary.json"))]

    def write_summary(self, summary: dict[str, Any]) -> None:
        self._write_json("summary.json", summary)

    def read_summary(self) -> dict[str, Any]:
        if not self.is_complete:
            raise self._unfinished("summary.json")
        return self._read_json("summary.json")

    def kept_val_accuracy(self) -> float | None:
        """Validation accuracy of the model the run keeps, from its config and metrics so far:
        the best epoch's (the first to reach the highest) when it restores that epoch's weights,
        else the last validated epoch's (the last epoch always validates); None without
        validation."""
        restores_best = self.read_config().get("train", {}).get("restore_best", True)
        scores = [row["val_accuracy"] for row in self.read_metrics() if "val_accuracy" in row]
        if not scores:
            return None
        return max(scores) if restores_best else scores[-1]

    def write_predictions(
        self, labels: np.ndarray, predicted: np.ndarray, probabilities: np.ndarray
    ) -> None:
        """predictions.csv (with the probabilities, for reports) and test_predictions.txt (the
        predicted classes alone, small enough to commit with a results run)."""
        header = "index,label,predicted," + ",".join(f"p{k}" for k in range(probabilities.shape[1]))
        lines = [header]
        for i, (y, p, probs) in enumerate(zip(labels, predicted, probabilities)):
            lines.append(f"{i},{y},{p}," + ",".join(f"{v:.6f}" for v in probs))
        atomic_write(self.file("predictions.csv"), "\n".join(lines) + "\n")
        atomic_write(self.file("test_predictions.txt"), "".join(f"{int(p)}\n" for p in predicted))

    def read_predictions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(labels, predicted, probabilities) of the test images, in test-set order."""
        path = self.file("predictions.csv")
        if not path.is_file():
            raise self._unfinished("predictions.csv")
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
        return table[:, 1].astype(np.int64), table[:, 2].astype(np.int64), table[:, 3:]

    def read_test_predictions(self) -> np.ndarray | None:
        """The predicted class of each test image from test_predictions.txt; None if the run has
        none (older runs keep only predictions.csv)."""
        path = self.file("test_predictions.txt")
        if not path.is_file():
            return None
        try:
            return np.loadtxt(path, dtype=np.int64, ndmin=1)
        except ValueError as exc:
            raise RunDirError(
                f"{path} is not one predicted class a line ({str(exc).splitlines()[0]})",
                fix="run it again (delete the folder), or restore the file from git",
            ) from None

    def write_recipe(self, record: dict[str, Any]) -> None:
        self._write_json("recipe.json", record)

    def read_recipe(self) -> dict[str, Any] | None:
        """Which recipe and point the run belongs to; None for a run not made by a recipe."""
        return self._read_json("recipe.json")

    def write_trial(self, record: dict[str, Any]) -> None:
        """trial.json of a search trial: study, trial number, parameters, state and value."""
        self._write_json("trial.json", record)

    def read_trial(self) -> dict[str, Any] | None:
        return self._read_json("trial.json")

    # -- records (--record) -----------------------------------------------------------------
    def write_filters(self, epochs: np.ndarray, filters: np.ndarray) -> None:
        self._write_arrays("filters.npz", epochs=epochs, filters=filters)

    def read_filters(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(epochs, filters), or None if the run did not record them."""
        arrays = self._read_arrays("filters.npz")
        return None if arrays is None else (arrays["epochs"], arrays["filters"])

    def append_histograms(self, row: dict[str, Any]) -> None:
        self._append_jsonl("histograms.jsonl", row)

    def write_histograms(self, rows: list[dict[str, Any]]) -> None:
        self._write_jsonl("histograms.jsonl", rows)

    def read_histograms(self) -> list[dict[str, Any]]:
        """Recorded epochs; a torn last line (crash mid-append) is ignored."""
        return self._read_jsonl("histograms.jsonl")

    def append_layers(self, row: dict[str, Any]) -> None:
        self._append_jsonl("layers.jsonl", row)

    def write_layers(self, rows: list[dict[str, Any]]) -> None:
        self._write_jsonl("layers.jsonl", rows)

    def read_layers(self) -> list[dict[str, Any]]:
        """Recorded epochs of layer changes; a torn last line is ignored."""
        return self._read_jsonl("layers.jsonl")

    def write_embeddings(self, features: np.ndarray, labels: np.ndarray, index: np.ndarray) -> None:
        self._write_arrays("embeddings.npz", features=features, labels=labels, index=index)

    def read_embeddings(self) -> dict[str, np.ndarray] | None:
        """{"features", "labels", "index"}, or None if the run did not record them."""
        return self._read_arrays("embeddings.npz")

    @property
    def tensorboard_dir(self) -> Path:
        return self.file("tensorboard")

    def _unfinished(self, missing: str) -> RunDirError:
        return RunDirError(
            f"{self.path} has no {missing}: the run has not finished",
            fix=f"finish it with `fmnist train --resume {self.path}`",
        )

    # -- formats ----------------------------------------------------------------------------
    def _write_json(self, name: str, data: dict[str, Any]) -> None:
        atomic_write(self.file(name), json.dumps(data, indent=2))

    def _read_json(self, name: str) -> dict[str, Any] | None:
        if not self.file(name).is_file():
            return None
        try:
            data = json.loads(self._read_text(name))
        except (json.JSONDecodeError, RecursionError) as exc:
            raise self.damaged(name, f"not JSON: {str(exc)[:80]}") from None
        if not isinstance(data, dict):
            raise self.damaged(name, f"it holds a {type(data).__name__}, not an object")
        return data

    def _read_text(self, name: str) -> str:
        try:
            return self.file(name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise self.damaged(name, "not text") from None
        except OSError as exc:
            raise self.damaged(name, exc.strerror or type(exc).__name__) from None

    def _append_jsonl(self, name: str, row: dict[str, Any]) -> None:
        with open(self.file(name), "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _write_jsonl(self, name: str, rows: list[dict[str, Any]]) -> None:
        atomic_write(self.file(name), "".join(json.dumps(r) + "\n" for r in rows))

    def _read_jsonl(self, name: str) -> list[dict[str, Any]]:
        """The lines up to the first that does not parse: a crash mid-append tears only the
        last."""
        path = self.file(name)
        rows = []
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    break
        return rows

    def _write_arrays(self, name: str, **arrays: np.ndarray) -> None:
        buffer = io.BytesIO()  # npz cannot be appended to: the whole file is rewritten atomically
        np.savez_compressed(buffer, **arrays)
        atomic_write(self.file(name), buffer.getvalue())

    def _read_arrays(self, name: str) -> dict[str, np.ndarray] | None:
        path = self.file(name)
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as f:
            return {key: f[key] for key in f.files}


def writable_folder(path: str | Path, option: str = "--out") -> Path:
    """``path`` made (with its parents) and checked writable, before any work is done for it:
    a file in its place or a folder nobody may write in is one RunDirError, not a traceback an
    hour into training."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".fmnist-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except FileExistsError:
        raise RunDirError(
            f"{option} {path} is a file (or lies under one), not a folder",
            fix=f"give {option} a folder, e.g. {option} runs",
        ) from None
    except OSError as exc:
        raise RunDirError(
            f"{option} {path} cannot be written ({exc.strerror or type(exc).__name__})",
            fix=f"choose a folder you may write in, e.g. {option} runs",
        ) from None
    return path


def redact(text: str) -> str:
    """``text`` with the password of any URL in it replaced by ***, e.g. a --storage URL
    (scheme://user:***@host/db, ?password=***): run records and messages never hold one."""
    text = re.sub(r"(?i)([?&]password=)[^&\s]*", r"\1***", text)
    return re.sub(r"(\w[\w+.-]*://[^:/@\s]*:)[^\s]*@", r"\1***@", text)


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
