"""One results table from run directories: ours (mean ± std over seeds/folds) beside the study's
number.

Tables read run directories; they never train. One row per experiment point: runs made by a recipe
are grouped by recipe, point and quick/full (from each run's recipe.json); other runs by their name.
Where a run keeps test_predictions.txt, its test accuracy is recounted against the official test
labels, and a run whose summary disagrees is refused. A study number measured on validation is
compared with our validation accuracy, never with test.

``fmnist table`` and the experiment report both show these rows, with the cells
``display_cells`` gives.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import numpy as np

from fmnist.analysis.collect import group_records, mean_std, plus_minus, run_records
from fmnist.errors import RunDirError
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
    "test_accuracy_low",
    "test_accuracy_high",
    "interval_over",
    "test_ece_mean",
    "test_ece_scaled_mean",
    "cv_accuracy_mean",
    "cv_accuracy_std",
    "reported",
    "difference",
    "val_accuracy_mean",
    "reported_val",
    "val_difference",
    "recounted",
    "gpu",
    "settings",
]
TEST_IMAGES = 10_000  # every run evaluates the whole official test set
# What a reader sees: results.md and the experiment report's results table.
DISPLAY_COLUMNS = [
    "study",
    "experiment",
    "point",
    "model",
    "params",
    "MACs",
    "train s",
    "test acc % (mean ± std)",
    "n",
    "95 % interval",
    "ECE % (T-scaled)",
    "k-fold acc %",
    "reported %",
    "diff",
    "recounted",
    "settings",
]


def _group_key(record: dict[str, Any]) -> tuple:
    recipe = record["recipe"]
    if recipe:
        return (recipe["study"] or "", recipe["name"], recipe["point"] or "", bool(recipe["quick"]))
    return ("", record["name"], "", False)


def _group_label(study: str, experiment: str, point: str, quick: bool) -> str:
    """What figures call a row: its run name (``recipe:point`` for a recipe's point), marked when
    quick."""
    return experiment + (f":{point}" if point else "") + (" (quick)" if quick else "")


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
    return RunDir(record["path"]).kept_val_accuracy()


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

            # the files the run itself read (its data.data_dir), else the usual sources
            data_dir = record.get("config", {}).get("data", {}).get("data_dir")
            test_labels = load_arrays(data_dir)[0]["test_labels"]
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


def _mean_spread(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample std; std None for one value, which measures no spread."""
    mean, std = mean_std(values)
    return mean, std if len(values) > 1 else None


def table_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per group, in natural order of (study, experiment, point, quick)."""
    groups = group_records(records, _group_key).items()
    return [_row(key, group) for key, group in sorted(groups, key=lambda item: _natural(item[0]))]


def _row(key: tuple, group: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy in percent, mean and sample std over the group's runs; ``runs`` are those runs
    (the report draws them) and ``group`` names the row in figures."""
    study, experiment, point, quick = key
    acc, acc_std = _mean_spread([100 * r["test_accuracy"] for r in group])
    seconds, seconds_std = _mean_spread([r["train_seconds"] for r in group])
    folds = [100 * s for s in map(fold_score, group) if s is not None]
    cv, cv_std = _mean_spread(folds) if folds else (None, None)
    recipe = group[0]["recipe"] or {}
    reported, reported_val = recipe.get("reported"), recipe.get("reported_val")
    val = [100 * r["val_accuracy"] for r in group if r["val_accuracy"] is not None]
    val_mean = mean_std(val)[0] if len(val) == len(group) else None
    low, high, over = accuracy_interval([r["test_accuracy"] for r in group])
    ece, ece_scaled = (_mean_of_all(group, key) for key in ("test_ece", "test_ece_scaled"))
    return {
        "group": _group_label(*key),
        "study": study,
        "experiment": experiment,
        "point": point,
        "model": group[0]["model"],
        "params": group[0]["params"],
        "macs": group[0]["macs"],
        "train_seconds": seconds,
        "train_seconds_std": seconds_std,
        "test_accuracy_mean": acc,
        "test_accuracy_std": acc_std,
        "n": len(group),
        "test_accuracy_low": low,
        "test_accuracy_high": high,
        "interval_over": over,
        "test_ece_mean": ece,
        "test_ece_scaled_mean": ece_scaled,
        "cv_accuracy_mean": cv,
        "cv_accuracy_std": cv_std,
        "reported": reported,
        "difference": acc - reported if reported is not None else None,
        "val_accuracy_mean": val_mean,
        "reported_val": reported_val,
        "val_difference": val_mean - reported_val
        if reported_val is not None and val_mean is not None
        else None,
        "recounted": sum(bool(r.get("recounted")) for r in group),
        "gpu": any(r.get("device") == "cuda" for r in group),
        "settings": ("QUICK" if quick else "full")
        + (", bf16" if group[0]["precision"] == "bf16" else ""),
        "runs": group,
    }


def _mean_of_all(group: list[dict[str, Any]], key: str) -> float | None:
    """The mean of ``key`` (x 100) over the group's runs, None unless every run has it."""
    values = [r.get(key) for r in group]
    return 100 * float(np.mean(values)) if None not in values else None


def accuracy_interval(accuracies: list[float]) -> tuple[float, float, str]:
    """A 95 % interval of the test accuracy (%), so a reader sees which differences are noise.

    Over seeds where there are several (Student's t on their mean: what another set of seeds
    would give), else over the 10,000 test images (Wilson's score interval of the run's count:
    what another test set of the same size would give).
    """
    from scipy import stats

    # Seeds that got the same count of the test images have no spread to draw an interval from
    # (a deterministic baseline; their mean in floating point may still differ in the 15th digit).
    counts = {round(accuracy * TEST_IMAGES) for accuracy in accuracies}
    if len(counts) > 1:
        low, high = stats.t.interval(
            0.95, len(accuracies) - 1, loc=np.mean(accuracies), scale=stats.sem(accuracies)
        )
        over = "seeds"
    else:
        correct = round(float(np.mean(accuracies)) * TEST_IMAGES)
        ci = stats.binomtest(correct, TEST_IMAGES).proportion_ci(0.95, method="wilson")
        low, high, over = ci.low, ci.high, "images"
    return 100 * float(low), 100 * float(high), over


def recounted_records(root: str | Path) -> list[dict[str, Any]]:
    """The records of the finished runs under ``root``, their test accuracy recounted."""
    records = run_records(root)
    recount(records)
    return records


def build_table(root: str | Path) -> list[dict[str, Any]]:
    return table_rows(recounted_records(root))


def _fmt(value: Any, spec: str = "") -> str:
    return "" if value is None else format(value, spec)


def _difference(value: float | None, prefix: str = "") -> str:
    if value is None:
        return ""
    return f"{prefix}{value:+.2f}" + (" below" if value < 0 else "")


def below_study(row: dict[str, Any]) -> bool:
    """Ours below the study's number, on test or on validation (the ``diff`` cell says "below")."""
    return any(d is not None and d < 0 for d in (row["difference"], row["val_difference"]))


def _recounted_cell(row: dict[str, Any]) -> str:
    """How many of the row's runs recount from their predictions; a row trained on a GPU before
    predictions were kept says so: re-making it needs a GPU (the command is in results/README)."""
    cell = f"{row['recounted']}/{row['n']}"
    if row["recounted"] < row["n"] and row["gpu"]:
        cell += " GPU, not yet recounted"
    return cell


def _ece_cell(ece: float | None, scaled: float | None) -> str:
    if ece is None:
        return ""
    return f"{ece:.2f}" + (f" ({scaled:.2f})" if scaled is not None else "")


def display_cells(row: dict[str, Any]) -> list[str]:
    """The text of each of ``DISPLAY_COLUMNS`` for one row."""
    cv = row["cv_accuracy_mean"]
    reported_val = f"val {row['reported_val']:.2f}" if row["reported_val"] is not None else ""
    diff = [_difference(row["difference"]), _difference(row["val_difference"], "val ")]
    return [
        row["study"],
        row["experiment"],
        row["point"],
        row["model"],
        _fmt(row["params"], ","),
        _fmt(row["macs"], ","),
        f"{row['train_seconds']:.1f}",
        plus_minus(row["test_accuracy_mean"], row["test_accuracy_std"]),
        str(row["n"]),
        f"{row['test_accuracy_low']:.2f}-{row['test_accuracy_high']:.2f} {row['interval_over']}",
        _ece_cell(row["test_ece_mean"], row["test_ece_scaled_mean"]),
        plus_minus(cv, row["cv_accuracy_std"]) if cv is not None else "",
        " ".join(filter(None, [_fmt(row["reported"], ".2f"), reported_val])),
        " ".join(filter(None, diff)),
        _recounted_cell(row),
        row["settings"],
    ]


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = [_markdown_line(DISPLAY_COLUMNS), "|" + "---|" * len(DISPLAY_COLUMNS)]
    lines += [_markdown_line(display_cells(row)) for row in rows]
    return "\n".join(lines) + "\n"


def _markdown_line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


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
