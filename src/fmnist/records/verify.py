"""``fmnist verify``: recount every committed number that keeps its predictions.

- Runs (any folder of run directories, e.g. results/runs): each run's test_predictions.txt against
  the official test labels must give the test accuracy its summary.json states (the table's
  recount); runs that keep no predictions are counted and listed, not passed.
- Benchmark records (benchmarks/results/*.json): each run entry that names its predictions
  (``"predictions": "<stem>.predictions.npz:<key>"``, one byte a test image) must recount to the
  ``accuracy`` it states; an entry of ``"test_images": N`` was measured on the first N of them.
- Pages (README.md and the like): every number a marked block quotes from a record is a value of
  it, and a marked table is what ``fmnist table`` prints today (``fmnist.records.quotes``).

A disagreement is one RunDirError naming the record, or the page and line. Nothing is trained;
the labels are the verified official files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fmnist.analysis.table import recounted_records, table_rows
from fmnist.errors import RunDirError
from fmnist.records import quotes
from fmnist.records.quotes import Quotes
from fmnist.runs import RunDir

HALF_AN_IMAGE = 0.5 / 10_000  # accuracies are stated to at least four digits
BENCHMARK_RECORDS = (
    "speed-*.json",
    "frontier-*.json",
    "gpu-*.json",
    "photos-*.json",
    "*-trials-*.json",
)


@dataclass
class Verified:
    runs: int = 0
    runs_recounted: int = 0
    runs_without_predictions: list[str] = field(default_factory=list)
    rows: int = 0  # results-table rows (a recipe's point over its seeds)
    rows_recounted: int = 0  # every run of the row recounted
    rows_waiting_for_a_gpu: int = 0  # trained on a GPU before predictions were kept
    rows_with_three_seeds: int = 0  # 3 or more seeds or folds
    benchmark_files: int = 0
    benchmark_runs_recounted: int = 0
    benchmark_runs_without_predictions: int = 0
    quotes: Quotes | None = None

    def lines(self) -> list[str]:
        quotes = self.quotes
        checked = (
            [
                f"pages: {quotes.numbers} quoted numbers in {quotes.blocks} blocks and "
                f"{quotes.tables} tables of {quotes.files} pages match their records"
            ]
            if quotes
            else []
        )
        return [
            f"runs: {self.runs_recounted} of {self.runs} recounted from their test predictions "
            f"({len(self.runs_without_predictions)} keep none)",
            f"rows: {self.rows_recounted} of {self.rows} recount every run, "
            f"{self.rows_waiting_for_a_gpu} more wait for a GPU (GPU, not yet recounted); "
            f"{self.rows_with_three_seeds} have 3 or more seeds or folds",
            f"benchmarks: {self.benchmark_runs_recounted} runs recounted in "
            f"{self.benchmark_files} records ({self.benchmark_runs_without_predictions} runs "
            "from before predictions were kept)",
            *checked,
        ]


def verify(
    roots: list[str | Path], test_labels: np.ndarray | None = None, pages: list[Path] = ()
) -> Verified:
    """Recount every run folder and benchmark record under ``roots``, then check the numbers
    ``pages`` quote from records (their paths relative to the current folder)."""
    if test_labels is None:
        from fmnist.data.sources import load_arrays

        test_labels = load_arrays()[0]["test_labels"]
    result = Verified()
    for root in map(Path, roots):
        if not root.exists():
            raise RunDirError(f"{root} does not exist", fix="name folders of runs or records")
        _verify_runs(root, test_labels, result)
        for pattern in BENCHMARK_RECORDS:
            for record in sorted(root.rglob(pattern)):
                _verify_benchmark(record, test_labels, result)
    if pages:
        result.quotes = quotes.check(list(pages), Path.cwd())
        if result.quotes.mismatches:
            first, *more = result.quotes.mismatches
            raise RunDirError(
                f"{first}" + (f" (and {len(more)} more)" if more else ""),
                fix="quote what the record holds (a marked table: paste what `fmnist table` "
                "prints), or mark the block with the record the number comes from",
            )
    return result


def _verify_runs(root: Path, test_labels: np.ndarray, result: Verified) -> None:
    if not RunDir.finished_under(root):
        return
    records = recounted_records(root)  # raises where a recount disagrees
    for record in records:
        result.runs += 1
        if record["recounted"]:
            result.runs_recounted += 1
        else:
            result.runs_without_predictions.append(record["path"])
    for row in table_rows(records):
        result.rows += 1
        result.rows_recounted += row["recounted"] == row["n"]
        result.rows_waiting_for_a_gpu += row["recounted"] < row["n"] and row["gpu"]
        result.rows_with_three_seeds += row["n"] >= 3


def _verify_benchmark(path: Path, test_labels: np.ndarray, result: Verified) -> None:
    result.benchmark_files += 1
    record = json.loads(path.read_text(encoding="utf-8"))
    archive = None
    for run in _runs(record):
        reference = run.get("predictions")
        if not isinstance(reference, str):
            result.benchmark_runs_without_predictions += 1
            continue
        name, _, key = reference.partition(":")
        if archive is None:
            archive = np.load(path.with_name(name))
        predicted = archive[key]
        labels = test_labels[: run.get("test_images", len(test_labels))]
        counted = float(np.mean(predicted == labels)) if len(predicted) == len(labels) else None
        if counted is None or abs(counted - run["accuracy"]) > HALF_AN_IMAGE:
            recounted = (
                f"recount {counted:.4f}"
                if counted is not None
                else f"hold {len(predicted)} labels for {len(labels)} test images"
            )
            raise RunDirError(
                f"{path}: a run states test accuracy {run['accuracy']:.4f} but its predictions "
                f"({reference}) {recounted} against the official test labels",
                fix="the record or its predictions were edited or mixed up: measure it again",
            )
        result.benchmark_runs_recounted += 1


def _runs(record: dict) -> Iterator[dict]:
    """Every run entry of a benchmark record: a dict with an ``accuracy`` and its predictions, or
    (from before predictions were kept) a ``wall`` time and a seed."""
    return (
        node
        for node in record_dicts(record)
        if "accuracy" in node and ("predictions" in node or {"wall", "seed"} <= node.keys())
    )


def record_dicts(node: Any) -> Iterator[dict]:
    """Every dict in a JSON record (nested in dicts and lists), outermost first."""
    if isinstance(node, dict):
        yield node
        values = node.values()
    else:
        values = node if isinstance(node, list) else ()
    for value in values:
        yield from record_dicts(value)
