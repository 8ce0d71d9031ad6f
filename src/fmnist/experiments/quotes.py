"""The numbers a page of documentation quotes from records, checked against those records.

Two marks, as HTML comments a Markdown reader does not see:

    <!-- from: benchmarks/results/speed-2026-11-27-cpu-avx-512-bf16.json results/runs/strong -->
    a paragraph, list item or table (up to the next blank line) quoting numbers from them

Every number of that block must be a value of one of the records, at the precision it is shown
(94.57 matches 0.945737 as a percentage, 57.0 matches 57.01). A record is a benchmark JSON (any
number in it) or a folder of runs (each results-table row's numbers: mean, std, interval, seconds,
ECE, each run's summary and robustness.json, and the robustness table's rows). Dates, code
spans, link targets and numbers inside names (ResNet-18, fp32, s003_dense) are not quotes.

    <!-- table: results/runs -->
    | study | experiment | ... |      the table as `fmnist table results/runs` prints it, exactly

A number that no record holds, or a table that differs from what its runs give today, is a
mismatch: ``fmnist verify`` fails and names it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fmnist.experiments import robustness
from fmnist.experiments.table import build_table, to_markdown

MARK = re.compile(r"<!--\s*(from|table):\s*(.*?)\s*-->")
# What is not a quote: dates, code spans, link targets, HTML comments.
NOT_QUOTED = re.compile(r"\d{4}-\d{2}-\d{2}|`[^`]*`|\]\([^)]*\)|<!--.*?-->")
# A number that stands alone: not in a name (fp32, s003, ResNet-18) nor followed by letters
# (2px), but 4.32x (a ratio) and 57 s are quotes.
NUMBER = re.compile(r"(?<![A-Za-z_\d.])(?<![A-Za-z]-)\d+(?:,\d{3})*(?:\.\d+)?(?![A-Za-wyz_\d])")


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
    for page in pages:
        lines = page.read_text().splitlines()
        marked = [(i, m) for i, line in enumerate(lines) if (m := MARK.search(line))]
        found.files += bool(marked)
        for i, mark in marked:
            kind, targets = mark.group(1), mark.group(2).split()
            block = _block(lines, i + 1)
            if kind == "table":
                found.tables += 1
                _check_table(block, targets[0], root, f"{page}:{i + 2}", found)
            else:
                found.blocks += 1
                _check_numbers(block, [root / t for t in targets], (page, i + 2), found)
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
    block: list[str], records: list[Path], where: tuple[Path, int], found: Quotes
) -> None:
    values = [v for record in records for v in record_values(record)]
    for offset, line in enumerate(block):
        for match in NUMBER.finditer(NOT_QUOTED.sub(" ", line)):
            found.numbers += 1
            if not any(_shows(match.group(), v) for v in values):
                names = ", ".join(r.name for r in records)
                found.mismatches.append(
                    f"{where[0]}:{where[1] + offset}: {match.group()} is not a value of {names}"
                )


def _shows(quoted: str, value: float) -> bool:
    """Whether ``quoted`` (as written: 94.57, 1,532.2) shows ``value`` rounded to its decimals,
    as it is or as a percentage of a fraction."""
    number = float(quoted.replace(",", ""))
    decimals = len(quoted.partition(".")[2])
    half = 0.5 * 10.0**-decimals * (1 + 1e-9)
    return abs(number - value) <= half or abs(number - 100 * value) <= half


def record_values(path: Path) -> list[float]:
    """Every number a record holds: a JSON's numbers, or a folder of runs' table rows and
    summaries."""
    if path.suffix == ".json":
        return list(_numbers(json.loads(path.read_text())))
    rows = build_table(path)
    records = [
        json.loads(p.read_text())
        for pattern in ("summary.json", "robustness.json")
        for p in sorted(path.rglob(pattern))
    ]
    shown = [{k: v for k, v in row.items() if k != "runs"} for row in rows]
    return list(_numbers(shown)) + list(_numbers(records)) + list(_numbers(robustness.table(path)))


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
