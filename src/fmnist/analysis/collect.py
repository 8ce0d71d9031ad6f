"""Read finished runs back from an experiment folder: one record per run, grouped with mean and std.

Reports and tables start here; they read run directories and never train.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fmnist.runs import RunDir


def find_runs(root: str | Path) -> list[RunDir]:
    """Every finished run (a folder with summary.json) under ``root``, ``root`` itself included,
    sorted by path. Search trials are left out: they were scored on validation only, and their
    study's report tests the best of them."""
    return [run for run in RunDir.finished_under(root) if run.is_run and run.read_trial() is None]


def run_record(run: RunDir) -> dict[str, Any]:
    """The flat facts of one finished run that tables and plots use."""
    summary = run.read_summary()
    config = run.read_config()
    return {
        "path": str(run.path),
        "name": summary["name"],
        "model": summary["model"],
        "seed": summary["seed"],
        "fold": config.get("data", {}).get("fold"),
        "test_accuracy": summary["test_accuracy"],
        "test_loss": summary["test_loss"],
        "val_accuracy": summary["val_accuracy"],
        # Runs before 2026-12-02 kept no calibration: None.
        "test_ece": (summary.get("calibration") or {}).get("ece"),
        "test_ece_scaled": (summary.get("calibration") or {}).get("after_scaling", {}).get("ece"),
        "params": summary["params"],
        "macs": summary["macs"],
        "train_seconds": summary["train_seconds"],
        "epochs_run": summary["epochs_run"],
        # Runs before precision was recorded in summary.json had auto mean fp32 on a CPU.
        "precision": summary.get("precision") or config.get("train", {}).get("precision"),
        "best_epoch": summary["best_epoch"],
        "device": run.read_env().get("device", "cpu"),
        "config": config,
        "recipe": run.read_recipe(),
    }


def run_records(root: str | Path) -> list[dict[str, Any]]:
    return [run_record(run) for run in find_runs(root)]


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    values = list(values)
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def plus_minus(mean: float, std: float | None) -> str:
    """'91.92 ± 0.13', or '91.92' where ``std`` is None: one run measures no spread, which is not a
    spread of zero."""
    return f"{mean:.2f}" if std is None else f"{mean:.2f} ± {std:.2f}"


def group_records(
    records: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any] = lambda r: r["name"]
) -> dict[Any, list[dict[str, Any]]]:
    """Records grouped by ``key`` (default: the run name, i.e. one experiment point over
    seeds/folds)."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(key(record), []).append(record)
    return groups
