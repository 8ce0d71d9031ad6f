"""The numbers a page of documentation quotes from records, checked against those records.

Two marks, as HTML comments a Markdown reader does not see:

    <!-- from: benchmarks/results/speed-2026-11-27-cpu-avx-512-bf16.json results/runs/strong -->
    a paragraph, list item or table (up to the next blank line) quoting numbers from them

Every number of that block must be a value of one of the records, at the precision it is shown
(94.57 matches a run's 0.945737 as a percentage, 57.0 matches 57.01; a results-table value is a
percentage already, so an ECE of 0.35 % there does not make "35" a quote); a number written with
its sign (−0.40, +1.67: a difference) must match a value of that sign. A record is a benchmark JSON
(any number in it), a folder of runs (each results-table row's numbers: mean, std, interval,
seconds, ECE, difference to the study, each run's summary but its per-class scores and confusion
matrix, its robustness.json, and the robustness table's rows) or a recipe file (its settings and
its study's numbers). A count or setting that no record holds (five folds, a half-hour budget) is
written in words. After an experiment's name in a code span (`s004_dense`), up to the next name or
list item, a number must be a value of that experiment's runs: a folder of many runs holds so many
numbers that a stale one would otherwise match another row's by chance. Dates, code spans, link
targets, an interval's confidence level (95 % interval) and numbers inside names (ResNet-18, fp32,
s003_dense) are not quotes.

    <!-- table: results/runs -->
    | study | experiment | ... |      the table as `fmnist table results/runs` prints it, exactly

A number that no record holds, or a table that differs from what its runs give today, is a
mismatch: ``fmnist verify`` fails and names it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fmnist.analysis import robustness
from fmnist.analysis.table import build_table, to_markdown

CODE = re.compile(r"`([^`]*)`")
MARK = re.compile(r"<!--\s*(from|table):\s*(.*?)\s*-->")
# What is not a quote: dates, code spans, link targets, HTML comments, an interval's confidence
# level (the 95 % of "95 % interval").
NOT_QUOTED = re.compile(
    r"\d{4}-\d{2}-\d{2}|`[^`]*`|\]\([^)]*\)|<!--.*?-->|\b\d+ % (?=(?:Wilson )?intervals?\b)"
)
# A number that stands alone: not in a name (fp32, s003, ResNet-18) nor followed by letters
# (2px), but 4.32x (a ratio) and 57 s are quotes.
# A sign counts where it starts a word (" -0.40", "(+1.67"), not in a range (0.06-0.48).
NUMBER = re.compile(
    r"(?:(?<![^\s(])(?P<sign>[-+\u2212]))?"
    r"(?<![A-Za-z_\d.])(?<![A-Za-z]-)(?P<digits>\d+(?:,\d{3})*(?:\.\d+)?)(?![A-Za-wyz_\d])"
)


@dataclass
class Quotes:
    """What ``check`` found: numbers and tables checked, and the mismatches (one line each)."""

    numbers: int = 0
    blocks: int = 0
    tables: int = 0
    files: int = 0
    mismatches: list[str] = field(default_factory=list)


def check(pages: list[Path], root: Path) -> Quotes:
    """Check every marked block of ``pages``; record paths are relative to ``root``."""
    found = Quotes()
    read_scopes = functools.cache(record_scopes)  # a folder of runs is read once, not per block
    for page in pages:
        lines = page.read_text(encoding="utf-8").splitlines()
        marked = [(i, m) for i, line in enumerate(lines) if (m := MARK.fullmatch(line.strip()))]
        found.files += bool(marked)
        for i, mark in marked:
            kind, targets = mark.group(1), mark.group(2).split()
            block = _block(lines, i + 1)
            if kind == "table":
                found.tables += 1
                _check_table(block, targets[0], root, f"{page}:{i + 2}", found)
            else:
                found.blocks += 1
                scopes = [read_scopes(root / t) for t in targets]
                _check_numbers(block, scopes, targets, (page, i + 2), found)
    return found


def _block(lines: list[str], start: int) -> list[str]:
    """The lines from ``start`` to the next blank line."""
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    return lines[start:end]


def _check_table(block: list[str], runs: str, root: Path, where: str, found: Quotes) -> None:
    expected = to_markdown(build_table(root / runs)).splitlines()
    if block != expected:
        differs = next(
            (k for k, (a, b) in enumerate(zip(block, expected)) if a != b),
            min(len(block), len(expected)),
        )
        found.mismatches.append(
            f"{where}: the table differs from `fmnist table {runs}` at its line {differs + 1}"
        )


def _check_numbers(
    block: list[str],
    records: list[dict[str, list[float]]],
    targets: list[str],
    where: tuple[Path, int],
    found: Quotes,
) -> None:
    scopes: dict[str, list[float]] = {}
    for record in records:
        for name, values in record.items():
            scopes.setdefault(name, []).extend(values)
    everything = [v for values in scopes.values() for v in values]
    names = ", ".join(Path(t).name for t in targets)
    values = everything
    for offset, line in enumerate(block):
        if line.lstrip().startswith(("- ", "| ")):
            values = everything  # a new list item or table row names its own experiment
        # The text with what is not a quote blanked out, so positions stay those of the line.
        text = NOT_QUOTED.sub(lambda m: " " * len(m.group()), line)
        named = [(m.start(), m.group(1)) for m in CODE.finditer(line) if m.group(1) in scopes]
        for match in NUMBER.finditer(text):
            values = next((scopes[n] for at, n in reversed(named) if at < match.start()), values)
            found.numbers += 1
            if not any(_shows(match["digits"], match["sign"], v) for v in values):
                found.mismatches.append(
                    f"{where[0]}:{where[1] + offset}: {match.group()} is not a value of {names}"
                )
        if named:
            values = scopes[named[-1][1]]


def _shows(quoted: str, sign: str | None, value: float) -> bool:
    """Whether ``quoted`` (as written: 94.57, 1,532.2) shows ``value`` rounded to its decimals;
    with a ``sign``, only a value of that sign."""
    if sign is not None:
        negative = sign != "+"
        if value != 0 and (value < 0) != negative:
            return False
        value = abs(value)
    number = float(quoted.replace(",", ""))
    decimals = len(quoted.partition(".")[2])
    half = 0.5 * 10.0**-decimals * (1 + 1e-9)
    return abs(number - value) <= half


def record_scopes(path: Path) -> dict[str, list[float]]:
    """A record's numbers by what they are about: a folder of runs' by experiment (a quote after
    `s004_dense` is checked against that experiment alone), any other record's under its name."""
    if path.suffix == ".json":
        return {
            path.name: _with_percentages(_numbers(json.loads(path.read_text(encoding="utf-8"))))
        }
    if path.suffix == ".yaml":
        return {
            path.stem: _with_percentages(_numbers(yaml.safe_load(path.read_text(encoding="utf-8"))))
        }
    scopes: dict[str, list[float]] = {}
    # The tables' values are as they are shown (percentages already); the runs' files hold
    # fractions, which a page shows as percentages.
    for row in build_table(path):
        shown = {k: v for k, v in row.items() if k != "runs"}
        scopes.setdefault(row["experiment"], []).extend(_numbers(shown))
    for pattern, read in RUN_RECORDS.items():
        for file in sorted(path.rglob(pattern)):
            experiment = _experiment_of(file, path)
            values = _with_percentages(_numbers(read(file.read_text(encoding="utf-8"))))
            scopes.setdefault(experiment, []).extend(values)
    for row in robustness.table(path):
        scopes.setdefault(row["run"].split("/")[0], []).extend(_numbers(row))
    return scopes


def _with_percentages(values: Iterable[float]) -> list[float]:
    """A record's values as they are and as percentages (0.945737 is quoted as 94.57)."""
    return [shown for value in values for shown in (value, 100 * value)]


def _summary(text: str) -> dict[str, Any]:
    """A run's summary without its per-class scores and confusion matrix: the 140 numbers of a run
    would let almost any small count (5 layers, 11 minutes) or percentage pass as a quote of the
    experiment by chance."""
    summary = json.loads(text)
    for by_class in ("per_class", "confusion_matrix"):
        summary.pop(by_class, None)
    return summary


# The files of a run folder whose numbers a page may quote, and how each is read.
RUN_RECORDS = {
    "summary.json": _summary,
    "robustness.json": json.loads,
    "config.yaml": yaml.safe_load,
}


def _experiment_of(file: Path, root: Path) -> str:
    """The experiment a run's file belongs to: the recipe its run's recipe.json names, else the
    folder ``root`` itself."""
    for folder in file.parents:
        if folder == root:
            break
        if (folder / "recipe.json").is_file():
            return json.loads((folder / "recipe.json").read_text(encoding="utf-8"))["name"]
    return root.name


def _numbers(node: Any):
    if isinstance(node, bool):
        return
    if isinstance(node, (int, float)):
        yield float(node)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _numbers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _numbers(value)
