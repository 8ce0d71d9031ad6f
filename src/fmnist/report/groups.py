"""The numbers of an experiment report, apart from drawing and HTML: which groups form a sweep or a
grid (``fmnist.report.experiment`` states the rule), and what a sweep, a grid and k-fold show.

A group is one row of ``fmnist.analysis.table`` (its statistics come from there), named by the
row's ``group``; ``options`` maps each group to its flat options (``group_options`` of its first
run's config).
"""

from __future__ import annotations

import itertools
from typing import Any

MAX_SWEEPS = 8
MAX_GRIDS = 4
MISSING = "-"  # an option a group's model does not have


# -- options and sweep detection -------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return _plain(value[0]) if len(value) == 1 else tuple(_plain(v) for v in value)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def group_options(config: dict[str, Any]) -> dict[str, Any]:
    """``model.*`` (builder defaults filled in) and ``optim.*`` of a run config, as flat hashable
    values."""
    from fmnist.models import model_options

    model = dict(config.get("model") or {})
    name = model.pop("name", "cnn")
    try:
        defaults = model_options(name)
    except Exception:  # a model no longer registered: compare what the config says
        defaults = {}
    options = {"model.name": name}
    options.update({f"model.{k}": _plain(v) for k, v in {**defaults, **model}.items()})
    options.update({f"optim.{k}": _plain(v) for k, v in (config.get("optim") or {}).items()})
    return options


def options_by_group(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each table row's group with the options of its first run."""
    return {row["group"]: group_options(row["runs"][0]["config"]) for row in rows}


def _families(options: dict[str, dict[str, Any]], free: tuple[str, ...]) -> list[list[str]]:
    """Groups that agree on every option except those in ``free``."""
    keys = sorted(set().union(*options.values()) - set(free))
    families: dict[tuple, list[str]] = {}
    for group, opts in options.items():
        families.setdefault(tuple(opts.get(k, MISSING) for k in keys), []).append(group)
    return list(families.values())


def find_sweeps(options: dict[str, dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """(option, groups) for each set of groups differing only in one numeric option with >= 3
    values."""
    keys = sorted(set().union(*options.values())) if options else []
    sweeps = []
    for key in keys:
        for family in _families(options, (key,)):
            values = [options[g].get(key, MISSING) for g in family]
            if len(set(values)) >= 3 and all(_is_number(v) for v in values):
                sweeps.append((key, sorted(family, key=lambda g: options[g][key])))
    return sweeps[:MAX_SWEEPS]


def find_grids(options: dict[str, dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    """(row option, column option, groups) for groups differing in exactly two categorical options.

    Numeric ``optim.*`` options (learning rate, momentum) may differ between the cells: studies tune
    them per optimiser. Every other option must agree, and each cell must hold exactly one group.
    """
    keys = (
        sorted(
            k
            for k in set().union(*options.values())
            if all(isinstance(o.get(k, MISSING), (str, bool)) for o in options.values())
        )
        if options
        else []
    )
    tuned = (
        tuple(
            sorted(
                k
                for k in set().union(*options.values())
                if k.startswith("optim.") and k not in keys
            )
        )
        if options
        else ()
    )
    grids = []
    for a, b in itertools.combinations(keys, 2):
        for family in _families(options, (a, b, *tuned)):
            cells = [(options[g].get(a, MISSING), options[g].get(b, MISSING)) for g in family]
            va, vb = {c[0] for c in cells}, {c[1] for c in cells}
            if (
                len(va) >= 2
                and len(vb) >= 2
                and MISSING not in va | vb
                and len(set(cells)) == len(cells)
            ):
                grids.append((a, b, family))
    return grids[:MAX_GRIDS]


# -- what a sweep, a grid and k-fold show ----------------------------------------------------------
def sweep_points(
    key: str, family: list[str], options: dict[str, dict[str, Any]], by_group: dict[str, dict]
) -> list[tuple[float, float, float | None, int]]:
    """(option value, accuracy mean, accuracy std, n) per group of a sweep, in percent and in the
    family's order (std None: one run); ``by_group``: table rows by group."""
    return [
        (
            float(options[g][key]),
            by_group[g]["test_accuracy_mean"],
            by_group[g]["test_accuracy_std"],
            by_group[g]["n"],
        )
        for g in family
    ]


def grid_cells(
    row_key: str,
    col_key: str,
    family: list[str],
    options: dict[str, dict[str, Any]],
    by_group: dict[str, dict],
) -> dict[tuple[Any, Any], tuple[float, float | None]]:
    """(row value, column value) -> (mean, std) test accuracy in percent (std None: one run)."""
    return {
        (options[g].get(row_key), options[g].get(col_key)): (
            by_group[g]["test_accuracy_mean"],
            by_group[g]["test_accuracy_std"],
        )
        for g in family
    }


def kfold_groups(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The runs of each group trained on k-fold splits."""
    return {
        row["group"]: row["runs"] for row in rows if any(r["fold"] is not None for r in row["runs"])
    }
