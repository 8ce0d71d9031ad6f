"""Points of a recipe: the runs a sweep (1-D, grid or named points) asks for, with deterministic
folder names."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from fmnist.errors import ConfigError
from fmnist.recipes import Recipe


@dataclass(frozen=True)
class Point:
    """One point of a recipe: its folder name ('' for a single-point recipe), fields and reported
    number."""

    name: str
    fields: dict[str, Any] = field(default_factory=dict)
    reported: float | None = None
    reported_val: float | None = None


def _label(key: str) -> str:
    """'model.hidden' -> 'hidden'; 'optim.name' -> 'optim' (the section says more than 'name')."""
    parts = key.split(".")
    return parts[-2] if parts[-1] == "name" and len(parts) > 1 else parts[-1]


def _value_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(_value_text(v) for v in value) or "empty"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return re.sub(r"[^A-Za-z0-9.]+", "_", str(value)).strip("_") or "empty"


def point_name(fields: dict[str, Any]) -> str:
    """Deterministic folder name of a point: 'hidden-5', 'activation-elu__optim-adamax'."""
    return "__".join(f"{_label(k)}-{_value_text(v)}" for k, v in fields.items())


def expand_points(recipe: Recipe) -> list[Point]:
    """Every point of the recipe in declaration order; a recipe without a sweep has one unnamed
    point."""
    sweep = recipe.sweep
    if sweep is None:
        return [Point("", {}, recipe.reported)]
    if sweep.points is not None:
        raw = [(p.name, p.set, p.reported, p.reported_val) for p in sweep.points]
    else:
        grid = sweep.grid if sweep.grid is not None else {sweep.param: sweep.values}
        combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
        raw = [(point_name(fields), fields, None, None) for fields in combos]
    names = [name for name, *_ in raw]
    _check_names(recipe, names)
    return [
        Point(
            name,
            dict(fields),
            reported if reported is not None else sweep.reported.get(name),
            reported_val,
        )
        for name, fields, reported, reported_val in raw
    ]


def _check_names(recipe: Recipe, names: list[str]) -> None:
    bad = [n for n in names if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", n)]
    if bad:
        raise ConfigError(
            f"recipe '{recipe.name}': a point name is not a plain folder name",
            allowed="letters, digits, '.', '_' and '-'",
            got=bad[0],
            fix="rename the point",
        )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(
            f"recipe '{recipe.name}': the sweep lists a point twice",
            got=", ".join(duplicates),
            fix="list each value once",
        )
    unknown = sorted(set(recipe.sweep.reported) - set(names))
    if unknown:
        raise ConfigError(
            f"recipe '{recipe.name}': sweep.reported names unknown points",
            allowed=", ".join(names),
            got=", ".join(unknown),
            fix="use the point names `fmnist run` prints",
        )
