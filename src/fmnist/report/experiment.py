"""The report of an experiment folder: many finished runs at any depth, grouped as ``fmnist table``
groups them.

A group is one row of ``fmnist.analysis.table``: one experiment point (a recipe's point, else a
run name) repeated over seeds (or folds); its numbers are mean ± std over the group, recounted from
the runs' test predictions. The page shows (``fmnist.viz.experiment`` draws the figures):

- results table: the cells of ``fmnist table`` (the study's number, ours minus theirs, recounts);
- test accuracy vs training time, one point per group with mean ± std error bars;
- sweep curves and heat maps, found (by ``fmnist.report.groups``) with one simple rule: compare the
  groups' options (``model.*`` with the builder's defaults filled in, and ``optim.*``). Groups that
  agree on every option but one form a *sweep* of that option: with >= 3 numeric values it is drawn
  as a curve (e.g. accuracy vs hidden size; a one-element list such as ``hidden: [64]`` counts as
  the number 64). Groups that agree on every option but two categorical ones (strings/booleans),
  e.g. activation x optimiser, each with >= 2 values and one group per cell, form a grid drawn as a
  heat map (numeric ``optim.*`` options may differ between cells, since studies tune the learning
  rate per optimiser);
- k-fold box plots for groups whose runs have a ``data.fold``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fmnist.analysis.table import (
    DISPLAY_COLUMNS,
    below_study,
    display_cells,
    recounted_records,
    table_rows,
)
from fmnist.errors import RunDirError
from fmnist.report.groups import (
    find_grids,
    find_sweeps,
    grid_cells,
    kfold_groups,
    options_by_group,
    sweep_points,
)
from fmnist.report.html import Page
from fmnist.viz.experiment import accuracy_vs_time, heat_map, kfold_boxes, sweep_curve
from fmnist.viz.plot import save


def build_experiment_report(root: str | Path, *, out: str | Path | None = None) -> Path:
    """Write ``report.html`` and PNGs for every finished run under ``root`` (default out:
    ROOT/report)."""
    root = Path(root)
    records = recounted_records(root)
    if not records:
        raise RunDirError(
            f"{root} holds no finished run (no config.yaml + summary.json below it)",
            fix="pass a run directory or a folder of runs made by `fmnist train`/`fmnist run`",
        )
    out = Path(out) if out else root / "report"
    rows = table_rows(records)
    page = Page(
        f"Experiment report: {root.resolve().name}",
        f"{root}  ·  {len(records)} finished runs in {len(rows)} groups "
        "(a group = one experiment point over seeds/folds, a row of `fmnist table`)",
    )
    _results_section(page, rows, out)
    _sweeps_section(page, options_by_group(rows), {row["group"]: row for row in rows}, out)
    _kfold_section(page, kfold_groups(rows), out)
    _runs_section(page, records, root)
    return page.write(out / "report.html")


def _results_section(page: Page, rows: list[dict[str, Any]], out: Path) -> None:
    page.section("Results")
    diff = DISPLAY_COLUMNS.index("diff")
    below = {(i, diff): "below" for i, row in enumerate(rows) if below_study(row)}  # orange
    cells = [display_cells(row) for row in rows]
    page.table(DISPLAY_COLUMNS, cells, cell_class=below, table_id="results")
    if any(row["reported"] is not None or row["reported_val"] is not None for row in rows):
        page.text(
            "reported: the study's test accuracy (val: its validation accuracy, compared with "
            "ours); diff: ours minus theirs in percentage points (orange: below the study)."
        )

    page.section("Accuracy vs training time")
    page.figure(
        save(accuracy_vs_time(rows), out / "accuracy_vs_time.png"),
        "One point per group: mean test accuracy and training seconds, "
        "bars are ± one standard deviation over its runs.",
    )


def _sweeps_section(
    page: Page, options: dict[str, dict[str, Any]], by_group: dict[str, dict], out: Path
) -> None:
    sweeps, grids = find_sweeps(options), find_grids(options)
    if sweeps or grids:
        page.section("Sweeps")
        page.text(
            "Groups that differ in exactly one numeric option are drawn as a curve; "
            "in exactly two categorical options, as a heat map."
        )
    for k, (key, family) in enumerate(sweeps):
        points = sweep_points(key, family, options, by_group)
        path = save(
            sweep_curve(key, points, options[family[0]]["model.name"]), out / f"sweep_{k + 1}.png"
        )
        page.figure(
            path,
            f"{key} from {points[0][0]:g} to {points[-1][0]:g}: groups {', '.join(family)}.",
            half=True,
        )
    for k, (a, b, family) in enumerate(grids):
        page.figure(
            save(
                heat_map(a, b, grid_cells(a, b, family, options, by_group)),
                out / f"grid_{k + 1}.png",
            ),
            f"Mean ± std test accuracy (%) of groups {', '.join(family)}.",
            half=True,
        )


def _kfold_section(page: Page, kfold: dict[str, list[dict[str, Any]]], out: Path) -> None:
    if kfold:
        page.section("k-fold cross-validation")
        page.figure(
            save(kfold_boxes(kfold), out / "kfold.png"),
            "Blue: accuracy on the fold held out from training; "
            "orange: the same models on the test set.",
            half=True,
        )


def _runs_section(page: Page, records: list[dict[str, Any]], root: Path) -> None:
    page.section("All runs")
    run_rows = [
        [
            r["name"],
            r["seed"],
            "-" if r["fold"] is None else r["fold"],
            f"{r['test_accuracy'] * 100:.2f}",
            "-" if r["val_accuracy"] is None else f"{r['val_accuracy'] * 100:.2f}",
            _seconds(r["train_seconds"]),
            _relative(r["path"], root),
        ]
        for r in records
    ]
    page.table(
        ["name", "seed", "fold", "test acc (%)", "val acc (%)", "train s", "run directory"],
        run_rows,
        table_id="runs",
    )


def _seconds(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path
