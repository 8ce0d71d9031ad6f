"""One results table from run directories: ours (mean ± std over seeds/folds) beside the study's
number.

Tables read run directories; they never train. One row per experiment point: runs made by a recipe
are grouped by recipe, point and quick/full (from each run's recipe.json); other runs by their name.
Where a run keeps test_predictions.txt, its test accuracy is recounted against the official test
labels, and a run whose summary disagrees is refused. A study number measured on validation is
compared with our validation accuracy, never with test.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import numpy as np

from fmnist.errors import RunDirError
from fmnist.experiments.collect import group_records, mean_std, plus_minus, run_records
from fmnist.runs import RunDir

COLUMNS = [
    "study",
    "experiment",
    "point",
    "model",
    "params",
    "macs",
    "train_seconds",
    "test_accuracy_mean",
    "test_accuracy_std",
    "n",
    "cv_accuracy_mean",
    "cv_accuracy_std",
    "reported",
    "difference",
    "val_accuracy_mean",
    "reported_val",
    "val_difference",
    "recounted",
    "settings",
]


def _group_key(record: dict[str, Any]) -> tuple:
    recipe = record["recipe"]
    if recipe:
        return (recipe["study"] or "", recipe["name"], recipe["point"] or "", bool(recipe["quick"]))
    return ("", record["name"], "", False)


def _natural(key: tuple) -> tuple:
    """Sort key that orders 'hidden-5' before 'hidden-10' (numbers by value, not by text)."""
    return tuple(
        tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(item)))
        for item in key
    )


def fold_score(record: dict[str, Any]) -> float | None:
    """Accuracy on the held-out fold of the model that was kept (the k-fold score), or None."""
    if record["fold"] is None:
        return None
    if record["config"].get("train", {}).get("restore_best", True):
        return record["val_accuracy"]
    rows = [r for r in RunDir(record["path"]).read_metrics() if r.get("val_accuracy") is not None]
    return rows[-1]["val_accuracy"] if rows else record["val_accuracy"]


def recount(records: list[dict[str, Any]], test_labels: np.ndarray | None = None) -> None:
    """Mark each record ``recounted`` when its test_predictions.txt, compared with the official test
    labels, gives the test accuracy its summary.json states; refuse a run where it does not."""
    for record in records:
        predicted = RunDir(record["path"]).read_test_predictions()
        record["recounted"] = predicted is not None
        if predicted is None:
            continue
        if test_labels is None:
            from fmnist.data.sources import load_arrays  # the verified official files

            test_labels = load_arrays()[0]["test_labels"]
        fix = "the run's files were changed or mixed up; run it again (delete its folder)"
        if len(predicted) != len(test_labels):
            raise RunDirError(
                f"{record['path']}: test_predictions.txt holds {len(predicted):,} labels, "
                f"the official test set {len(test_labels):,}",
                fix=fix,
            )
        counted = float(np.mean(predicted == test_labels))
        if abs(counted - record["test_accuracy"]) > 0.5 / len(test_labels):
            raise RunDirError(
                f"{record['path']}: summary.json says test accuracy {record['test_accuracy']:.4f} "
                f"but test_predictions.txt recounts {counted:.4f} against the official test labels",
                fix=fix,
            )


def table_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per group: accuracy in percent, mean and sample std over its runs."""
    rows = []
    for key, group in sorted(
        group_records(records, _group_key).items(), key=lambda item: _natural(item[0])
    ):
        study, experiment, point, quick = key
        acc, acc_std = mean_std(100 * r["test_accuracy"] for r in group)
        folds = [s for s in map(fold_score, group) if s is not None]
        cv, cv_std = mean_std(100 * s for s in folds) if folds else (None, None)
        recipe = group[0]["recipe"] or {}
        reported, reported_val = recipe.get("reported"), recipe.get("reported_val")
        val = [100 * r["val_accuracy"] for r in group if r["val_accuracy"] is not None]
        val_mean = mean_std(val)[0] if len(val) == len(group) else None
        rows.append(
            {
                "study": study,
                "experiment": experiment,
                "point": point,
                "model": group[0]["model"],
                "params": group[0]["params"],
                "macs": group[0]["macs"],
                "train_seconds": mean_std(r["train_seconds"] for r in group)[0],
                "test_accuracy_mean": acc,
                "test_accuracy_std": acc_std if len(group) > 1 else None,
                "n": len(group),
                "cv_accuracy_mean": cv,
                "cv_accuracy_std": cv_std if len(folds) > 1 else None,
                "reported": reported,
                "difference": acc - reported if reported is not None else None,
                "val_accuracy_mean": val_mean,
                "reported_val": reported_val,
                "val_difference": val_mean - reported_val
                if reported_val is not None and val_mean is not None
                else None,
                "recounted": sum(bool(r.get("recounted")) for r in group),
                "settings": ("QUICK" if quick else "full")
                + (", bf16" if group[0]["precision"] == "bf16" else ""),
            }
        )
    return rows


def build_table(root: str | Path) -> list[dict[str, Any]]:
    records = run_records(root)
    recount(records)
    return table_rows(records)


def _fmt(value: Any, spec: str = "") -> str:
    return "" if value is None else format(value, spec)


def to_markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| study | experiment | point | model | params | MACs | train s | test acc % (mean ± std) "
        "| n | k-fold acc % | reported % | diff | recounted | settings |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        cv = (
            plus_minus(r["cv_accuracy_mean"], r["cv_accuracy_std"])
            if r["cv_accuracy_mean"] is not None
            else ""
        )
        reported_val = f"val {r['reported_val']:.2f}" if r["reported_val"] is not None else ""
        reported = " ".join(filter(None, [_fmt(r["reported"], ".2f"), reported_val]))
        diff = " ".join(
            filter(None, [_difference(r["difference"]), _difference(r["val_difference"], "val ")])
        )
        cells = [
            r["study"],
            r["experiment"],
            r["point"],
            r["model"],
            _fmt(r["params"], ","),
            _fmt(r["macs"], ","),
            f"{r['train_seconds']:.1f}",
            plus_minus(r["test_accuracy_mean"], r["test_accuracy_std"]),
            str(r["n"]),
            cv,
            reported,
            diff,
            f"{r['recounted']}/{r['n']}" if r["recounted"] else "",
            r["settings"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _difference(value: float | None, prefix: str = "") -> str:
    if value is None:
        return ""
    return f"{prefix}{value:+.2f}" + (" below" if value < 0 else "")


def to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in COLUMNS})
    return buffer.getvalue()


def write_table(
    root: str | Path, output: str | Path | None = None
) -> tuple[list[dict[str, Any]], Path, Path]:
    """Write results.md and results.csv (into ``output``, default ``root``) from the runs under
    ``root``."""
    from fmnist.runs import atomic_write

    rows = build_table(root)
    folder = Path(output or root)
    folder.mkdir(parents=True, exist_ok=True)
    md, csv_path = folder / "results.md", folder / "results.csv"
    atomic_write(md, to_markdown(rows))
    atomic_write(csv_path, to_csv(rows))
    return rows, md, csv_path
