"""Recipes: YAML files shipped with fmnist, each one experiment with the number it is meant to
reach.

name: s001_hidden_sweep        # = file name
study: "001"                   # 000-004 when it reproduces a study's experiment (quote it)
description: one line
reported: 65.9                 # the study's headline test accuracy (%), shown beside ours
notes: choices made where the study is ambiguous
config: {...}                  # RunConfig fields that differ from the defaults
sweep:                         # optional; exactly one of param+values, grid, points
  param: model.hidden          #   1-D:  one run per value
  values: [[5], [10], [20]]
  # grid: {model.activation: [relu, elu], optim.name: [adam, sgd]}   every combination
  # points: [{name: relu, set: {model.activation: relu}, reported: 88.9}, ...]
  #   a point may also carry reported_val: the study's validation accuracy (%)
  reported: {hidden-5: 65.9}   #   the study's number per point (point names as `fmnist run`
                               #   prints them)
seeds: 1                       # runs per point (seed 0..N-1); `--seeds N` overrides
folds: 5                       # optional k-fold cross validation on the training set
quick: {train.epochs: 1}       # what `--quick` changes, on top of the default quick settings
baseline: {name: knn}          # optional: a scikit-learn baseline instead of a network
fp32_variant:                  # optional: settings for CPUs without native bf16 (AVX2-only: fp32)
  why: one line                #   printed and recorded as the run's `variant`
  set: {model.widths: [24, 48, 96]}
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from fmnist.config import TrainConfig
from fmnist.errors import ConfigError
from fmnist.schema import Strict, read_yaml, validated


class SweepPoint(Strict):
    name: str = Field(description="Folder name of the point, e.g. 'l1l2'.")
    set: dict[str, Any] = Field(
        default_factory=dict,
        description="Dotted config fields of this point, e.g. {optim.l1: 1e-5}.",
    )
    reported: float | None = Field(
        None, description="The study's test accuracy (%) for this point."
    )
    reported_val: float | None = Field(
        None,
        description="The study's validation accuracy (%) for this point, where it gave one: "
        "compared with our validation accuracy, never with test.",
    )


class Sweep(Strict):
    param: str | None = Field(None, description="1-D sweep: the dotted config field that varies.")
    values: list[Any] | None = Field(None, description="1-D sweep: its values, one run each.")
    grid: dict[str, list[Any]] | None = Field(
        None, description="Grid: dotted field -> values; every combination runs."
    )
    points: list[SweepPoint] | None = Field(
        None, description="Explicit points, each a name and its fields."
    )
    reported: dict[str, float] = Field(
        default_factory=dict, description="The study's test accuracy (%) by point name."
    )

    @property
    def size(self) -> int:
        """How many points the sweep has (their names and checks:
        ``expand_points``)."""
        if self.points is not None:
            return len(self.points)
        grid = self.grid if self.grid is not None else {self.param: self.values}
        return math.prod(len(values) for values in grid.values())

    @model_validator(mode="after")
    def _one_kind(self) -> Sweep:
        kinds = [
            k
            for k, on in (
                ("param/values", self.param is not None or self.values is not None),
                ("grid", self.grid is not None),
                ("points", self.points is not None),
            )
            if on
        ]
        if len(kinds) != 1:
            raise ValueError(
                "declare exactly one of param+values, grid or points, "
                f"got {' and '.join(kinds) or 'none'}"
            )
        if kinds == ["param/values"] and (self.param is None or not self.values):
            raise ValueError(
                "a 1-D sweep needs both param (e.g. model.hidden) and a non-empty values list"
            )
        if self.grid is not None and (not self.grid or any(not v for v in self.grid.values())):
            raise ValueError(
                "every grid field needs a non-empty list of values, "
                "e.g. grid: {optim.name: [adam, sgd]}"
            )
        if self.points is not None and not self.points:
            raise ValueError("points must list at least one point")
        return self


class Baseline(Strict):
    name: Literal[
        "logreg", "random_forest", "knn", "linear_svm", "svm", "hog_svm", "mlp", "boosted_trees"
    ] = Field(description="scikit-learn classifier (see fmnist.baselines).")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments of the classifier, e.g. {C: 10}."
    )


# -- the machine a recipe is resolved for: its facts as data. The resolver takes them as an
# argument rather than asking the hardware itself, so that resolving a config imports no torch, a
# plan says which machine it was made for, and a test can resolve for a machine it does not run
# on. ``fmnist.training.hardware.this_machine`` measures the machine it runs on; ``MACHINES`` names
# the kinds a user can ask ``fmnist config --machine`` about.


@dataclass(frozen=True)
class Machine:
    """What ``train.device: auto`` finds there (CUDA, else an Apple GPU, else the CPU), and
    whether its CPU multiplies bf16 natively."""

    cuda: bool
    cpu_native_bf16: bool
    mps: bool = False

    def trains_emulated_bf16_on_cpu(self, device: str, precision: str) -> bool:
        """Whether a run with these ``train.device`` and ``train.precision`` settings trains on
        a CPU without native bf16, leaving the precision to fmnist (the case of a recipe's
        ``fp32_variant``)."""
        on_cpu = device == "cpu" or (device == "auto" and not (self.cuda or self.mps))
        return precision == "auto" and on_cpu and not self.cpu_native_bf16


MACHINES = {
    "cpu-fp32": Machine(cuda=False, cpu_native_bf16=False),  # AVX2-only CPUs: most laptops
    "cpu-bf16": Machine(cuda=False, cpu_native_bf16=True),  # AMX or AVX-512-BF16 CPUs
    "cuda": Machine(cuda=True, cpu_native_bf16=True),  # GPU servers: AMX or AVX-512-BF16 CPUs
    "mps": Machine(cuda=False, mps=True, cpu_native_bf16=False),  # Macs with an Apple GPU
}


class HardwareVariant(Strict):
    why: str = Field(
        description="One line: what differs and what it gains on such hardware "
        "(chosen on validation)."
    )
    set: dict[str, Any] = Field(
        description="Dotted config fields of the variant, e.g. {model.widths: [24, 48, 96]}."
    )


class Recipe(Strict):
    name: str
    description: str
    study: str | None = Field(None, description="Study document number, 000-004.")
    reported: float | None = Field(
        None,
        description="The reported test accuracy (%) ours is compared with: the study's, or for a "
        "baseline without a study the published benchmark's that its notes name.",
    )
    notes: str | None = Field(None, description="Choices made where the study is ambiguous.")
    config: dict[str, Any] = Field(default_factory=dict)
    sweep: Sweep | None = None
    seeds: int = Field(1, ge=1, le=100, description="Runs per point, with seeds 0..N-1.")
    folds: int | None = Field(
        None, ge=2, le=20, description="k-fold cross validation: every point runs once per fold."
    )
    quick: dict[str, Any] = Field(
        default_factory=dict,
        description="Dotted overrides `--quick` adds to the default quick settings.",
    )
    baseline: Baseline | None = None
    fp32_variant: HardwareVariant | None = Field(
        None,
        description="Taken where train.precision is auto and the run trains on a CPU without "
        "native bf16 (AVX2-only CPUs).",
    )

    @field_validator("study", mode="before")
    @classmethod
    def _study_as_three_digits(cls, value: Any) -> Any:
        return (
            f"{value:03d}" if isinstance(value, int) else value
        )  # YAML reads an unquoted 001 as 1

    def kind(self) -> str:
        """A few words for listings: 'sweep of 5', 'k-fold 5', 'baseline knn', 'single run'."""
        parts = [f"baseline {self.baseline.name}"] if self.baseline else []
        if self.sweep is not None:
            parts.append(f"sweep of {self.sweep.size}")
        parts += [f"{self.folds}-fold"] if self.folds else []
        parts += [f"{self.seeds} seeds"] if self.seeds > 1 else []
        return ", ".join(parts) or "single run"


def _recipe_dir():
    return resources.files("fmnist.recipes")


def list_recipes() -> list[Recipe]:
    return [load_recipe(name) for name in recipe_names()]


def recipe_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".yaml") for p in _recipe_dir().iterdir() if p.name.endswith(".yaml")
    )


def is_recipe_file(name: str) -> bool:
    """Whether a recipe name is the path of a YAML file of the user's ('./my_sweep.yaml')."""
    return name.endswith((".yaml", ".yml"))


def match_recipes(patterns: list[str]) -> list[str]:
    """Recipe names matching names or shell patterns ('s003_*', '*'), in order, each once; a
    recipe file's path stands for itself."""
    names = recipe_names()
    matched: list[str] = []
    for pattern in patterns:
        hits = [pattern] if is_recipe_file(pattern) else fnmatch.filter(names, pattern)
        if not hits:
            what = (
                f"no recipe matches '{pattern}'"
                if any(c in pattern for c in "*?[")
                else f"unknown recipe '{pattern}'"
            )
            raise ConfigError(
                what, allowed=", ".join(names), fix="see each recipe with: fmnist recipes"
            )
        matched += [name for name in hits if name not in matched]
    return matched


def load_recipe(name: str) -> Recipe:
    """A shipped recipe by name, or a recipe file of yours by its path (the same format; its
    runs are named after the file: ./my_sweep.yaml -> RUNS/my_sweep/...)."""
    if is_recipe_file(name):
        path = Path(name)
        if not path.is_file():
            raise ConfigError(
                f"recipe file {name} not found",
                fix="give the path of a YAML recipe (the format of fmnist recipes' files)",
            )
        return parse_recipe({"name": path.stem, **read_yaml(path)})
    path = _recipe_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"unknown recipe '{name}'",
            allowed=", ".join(recipe_names()),
            fix="see each recipe with: fmnist recipes",
        )
    return parse_recipe({"name": name, **read_yaml(path)})


def parse_recipe(data: dict[str, Any]) -> Recipe:
    """Validate a recipe mapping, or raise one clear ConfigError naming the field."""
    return validated(
        Recipe,
        data,
        f"recipe '{data.get('name', '?')}' field",
        fix="correct the recipe file (its fields are listed in fmnist.recipes' docstring)",
    )


def hardware_variant(recipe: Recipe, train: Any, machine: Machine | None) -> HardwareVariant | None:
    """The recipe's fp32 variant where a run with these ``train`` settings (the run's config
    section, before validation) would train on ``machine``'s CPU without native bf16; None where
    it would not, where the recipe has none, or with no machine in view (the recipe as written)."""
    variant = recipe.fp32_variant
    if variant is None or machine is None:
        return None
    train = train if isinstance(train, dict) else {}  # not a section: validation refuses it later
    defaults = TrainConfig.model_fields
    device = train.get("device", defaults["device"].default)
    precision = train.get("precision", defaults["precision"].default)
    return variant if machine.trains_emulated_bf16_on_cpu(device, precision) else None


# -- points: the runs a sweep (1-D, grid or named points) asks for, with deterministic folder names


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
