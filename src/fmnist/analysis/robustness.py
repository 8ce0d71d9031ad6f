"""``fmnist robustness RUN``: the final model on the test set under every corruption and severity.

It writes RUN/robustness/: ``robustness.json`` (the accuracy per corruption x severity, their
mean, the clean accuracy, and the corruption error against a reference run), ``heatmap.png``
and ``corruptions.png`` (one test image under every corruption at every severity). The
corruption error (CE) is ImageNet-C's (Hendrycks & Dietterich 2019): a model's errors on a
corruption, summed over the five severities, divided by the reference model's; below 1 the model
is more robust than the reference, and the mean over corruptions is the mCE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fmnist.data.corruptions import CORRUPTIONS, SEED, SEVERITIES, corrupt
from fmnist.runs import atomic_write

FOLDER = "robustness"


@dataclass
class Robustness:
    """One run's accuracies under corruption (fractions), and the reference run's, which its
    corruption error is measured against (kept in the record, so the CE recounts from it)."""

    run: Path
    images: int
    clean: float
    accuracy: dict[str, list[float]]
    reference: Robustness | None = None

    @property
    def mean(self) -> float:
        return float(np.mean([a for accs in self.accuracy.values() for a in accs]))

    @property
    def corruption_error(self) -> dict[str, float] | None:
        """ImageNet-C's CE per corruption: errors summed over severities over the reference's."""
        if self.reference is None:
            return None
        return {
            name: float(
                np.sum(1 - np.array(accs))
                / max(np.sum(1 - np.array(self.reference.accuracy[name])), 1e-12)
            )
            for name, accs in self.accuracy.items()
        }

    @property
    def mean_corruption_error(self) -> float | None:
        errors = self.corruption_error
        return float(np.mean(list(errors.values()))) if errors else None

    def to_dict(self) -> dict[str, Any]:
        reference = self.reference
        return {
            "seed": SEED,
            "test_images": self.images,
            "severities": {name: list(levels) for name, levels in SEVERITIES.items()},
            "clean_accuracy": self.clean,
            "accuracy": self.accuracy,
            "mean_accuracy": self.mean,
            "reference": None
            if reference is None
            else {
                "run": str(reference.run),
                "clean_accuracy": reference.clean,
                "accuracy": reference.accuracy,
                "mean_accuracy": reference.mean,
            },
            "corruption_error": self.corruption_error,
            "mean_corruption_error": self.mean_corruption_error,
        }


def measure(predict, images: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, list]]:
    """The clean accuracy and the accuracy per corruption and severity of ``predict`` (uint8
    images -> class probabilities) on the test ``images``."""

    def accuracy(batch: np.ndarray) -> float:
        return float((predict(batch).argmax(1) == labels).mean())

    table = {
        name: [accuracy(corrupt(images, name, severity)) for severity in range(1, 6)]
        for name in CORRUPTIONS
    }
    return accuracy(images), table


def measure_run(
    run: Any, images: np.ndarray, labels: np.ndarray, against: Robustness | None = None
) -> Robustness:
    """``run``'s (a ``fmnist.inference.Run``) final model on the test ``images`` under every
    corruption, compared ``against`` a reference run's, written to RUN/robustness/."""
    clean, accuracy = measure(run.predict, images, labels)
    result = Robustness(run.path, len(images), clean, accuracy, against)
    write(result)
    return result


def write(result: Robustness) -> Path:
    """RUN/robustness/robustness.json; returns the folder (where ``fmnist.viz.robustness`` draws
    the heat map and the grid)."""
    out = result.run / FOLDER
    out.mkdir(exist_ok=True)
    atomic_write(out / "robustness.json", json.dumps(result.to_dict(), indent=2))
    return out


def example_grid(image: np.ndarray) -> dict[str, list[np.ndarray]]:
    """One (28, 28) image under every corruption at severities 1-5."""
    return {name: [corrupt(image[None], name, s)[0] for s in range(1, 6)] for name in CORRUPTIONS}


def read(run: Path, images: int | None = None) -> Robustness | None:
    """A run's recorded robustness (on the first ``images`` test images; None: on any number),
    or None if it has not been measured so with today's corruptions (their seed and
    severities)."""
    path = run / FOLDER / "robustness.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    severities = {name: list(levels) for name, levels in SEVERITIES.items()}
    if data.get("seed") != SEED or json.loads(json.dumps(severities)) != data.get("severities"):
        return None
    if images is not None and data.get("test_images") != images:
        return None
    images = data["test_images"]
    reference = data.get("reference")
    if reference is not None:
        reference = Robustness(
            Path(reference["run"]), images, reference["clean_accuracy"], reference["accuracy"]
        )
    return Robustness(run, images, data["clean_accuracy"], data["accuracy"], reference)


def table(root: Path) -> list[dict[str, Any]]:
    """One row per run under ``root`` whose robustness was measured, most robust first: its
    clean and mean corrupted accuracy (%), mCE, the corruption that hurts it most, and its test
    calibration (ECE %, before and after temperature scaling)."""
    from fmnist.analysis.collect import find_runs

    rows = []
    for run in find_runs(root):
        measured = read(run.path)
        if measured is None:
            continue
        summary = run.read_summary()
        worst = min(measured.accuracy, key=lambda name: np.mean(measured.accuracy[name]))
        calibration = summary.get("calibration") or {}
        rows.append(
            {
                "run": run.path.relative_to(root).as_posix(),  # '/' on Windows too: quotes split it
                "model": summary["model"],
                "params": summary["params"],
                "clean": 100 * measured.clean,
                "corrupted": 100 * measured.mean,
                "mce": measured.mean_corruption_error,
                "reference": str(measured.reference.run) if measured.reference else None,
                "worst": worst,
                "worst_accuracy": 100 * float(np.mean(measured.accuracy[worst])),
                "ece": 100 * calibration["ece"] if "ece" in calibration else None,
                "ece_scaled": 100 * calibration["after_scaling"]["ece"]
                if "after_scaling" in calibration
                else None,
            }
        )
    return sorted(rows, key=lambda row: -row["corrupted"])


def to_markdown(rows: list[dict[str, Any]]) -> str:
    header = (
        "| run | model | params | clean % | under corruption % | mCE | hurt most by (%) "
        "| ECE % (T-scaled) |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        mce = f"{row['mce']:.3f}" if row["mce"] is not None else ""
        ece = f"{row['ece']:.2f}" if row["ece"] is not None else ""
        ece += f" ({row['ece_scaled']:.2f})" if row["ece_scaled"] is not None else ""
        lines.append(
            f"| {row['run']} | {row['model']} | {row['params']:,} | {row['clean']:.2f} "
            f"| {row['corrupted']:.2f} | {mce} | {row['worst'].replace('_', ' ')} "
            f"({row['worst_accuracy']:.2f}) | {ece} |"
        )
    return "\n".join(lines) + "\n"
