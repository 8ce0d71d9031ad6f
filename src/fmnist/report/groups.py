"""The numbers of an experiment report, apart from drawing and HTML: one summary per group of
runs, and which groups form a sweep or a grid (``fmnist.report.experiment`` states the rule).

A group is one run name over seeds or folds; ``options`` maps each group to its flat options
(``group_options`` of its first run's config).
"""

from __future__ import annotations

import itertools
from typing import Any

from fmnist.experiments.collect import mean_std

MAX_SWEEPS = 8
MAX_GRIDS = 4
MISSING = "-"  # an option a group's model does not have


# -- one group -------------------------------------------------------------------------------------
def reported_accuracy(record: dict[str, Any]) -> float | None:
    """The study's reported test accuracy (%) from the run's recipe.json, if it has one."""
    recipe = record.get("recipe") or {}
    value = recipe.get("reported")
    return float(value) if isinstance(value, (int, float)) else None


def group_summary(name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    acc_mean, acc_std = mean_std(r["test_accuracy"] for r in records)
    sec_mean, sec_std = mean_std(r["train_seconds"] for r in records)
    reported = reported_accuracy(records[0])
    return {
        "name": name,
        "model": records[0]["model"],
        "params": records[0]["params"],
        "macs": records[0]["macs"],
        "seconds_mean": sec_mean,
        "seconds_std": sec_std,
        "accuracy_mean": acc_mean,
        "accuracy_std": acc_std,
        "n": len(records),
        "reported": reported,
        "difference": acc_mean * 100 - reported if reported is not None else None,
    }


def accuracy_spread(summary: dict[str, Any]) -> float | None:
    """Std of the test accuracy in points for the page's text, None for a single run."""
    return summary["accuracy_std"] * 100 if summary["n"] > 1 else None


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
    key: str, family: list[str], options: dict[str, dict[str, Any]], by_name: dict[str, dict]
) -> list[tuple[float, float, float, int]]:
    """(option value, accuracy mean, accuracy std, n) per group of a sweep, in the family's
    order; ``by_name``: group summaries by group name."""
    return [
        (
            float(options[g][key]),
            by_name[g]["accuracy_mean"],
            by_name[g]["accuracy_std"],
            by_name[g]["n"],
        )
        for g in family
    ]


def grid_cells(
    row_key: str,
    col_key: str,
    family: list[str],
    options: dict[str, dict[str, Any]],
    by_name: dict[str, dict],
) -> dict[tuple[Any, Any], tuple[float, float | None]]:
    """(row value, column value) -> (mean, std) test accuracy in percent (std None: one run)."""
    return {
        (options[g].get(row_key), options[g].get(col_key)): (
            by_name[g]["accuracy_mean"] * 100,
            accuracy_spread(by_name[g]),
        )
        for g in family
    }


def kfold_groups(groups: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The groups whose runs were trained on k-fold splits."""
    return {name: recs for name, recs in groups.items() if any(r["fold"] is not None for r in recs)}
