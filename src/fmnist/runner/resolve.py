"""Resolving: what a user asked for, as the validated config and folder of each run.

    recipe or config, point, seed, fold, --quick, overrides, machine  -->  RunSpec(config, path)

The one resolver. A config is built in layers, later wins: the defaults, a recipe's ``config``, a
user's YAML or dict, the run's name and seed, the recipe's fp32 variant where the machine trains
on a CPU without native bf16, the sweep point's fields, the fold, the quick settings, then the
overrides (``--set`` and the CLI's own options). It is validated once, here; everything after
takes it as it is. Resolving imports no torch: the machine a run is planned for comes in as data
(``fmnist.recipes.Machine``), and a model given by reference is imported only to check its options.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmnist.baselines import BaselineRunConfig, baseline_config
from fmnist.config import RunConfig, build_config
from fmnist.errors import ConfigError
from fmnist.models.catalog import check_model_options, is_registered
from fmnist.models.user import short_name
from fmnist.recipes import (
    Machine,
    Point,
    Recipe,
    expand_points,
    hardware_variant,
    load_recipe,
    match_recipes,
)
from fmnist.runs import RunDir
from fmnist.schema import Overrides, layered, merge

# What --quick changes unless a recipe's `quick:` says otherwise: a 5,000-image stratified training
# subset, 1,000 validation images and 2 epochs (the 10,000 test images are always all evaluated).
DEFAULT_QUICK = {"data.train_subset": 5000, "data.val_size": 1000, "train.epochs": 2}
BASELINE_QUICK = {"data.train_subset": 2000, "data.val_size": 1000}


@dataclass(frozen=True)
class RunSpec:
    """One run to make: its validated config and its folder; for a recipe's run, also which
    recipe, point, seed and fold it is (recipe.json); for a search trial, its record (trial.json:
    a trial is scored on validation and never reads the test set)."""

    config: RunConfig | BaselineRunConfig
    path: Path
    recipe: Recipe | None = None
    point: Point | None = None
    fold: int | None = None
    quick: bool = False
    trial: dict[str, Any] | None = None

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def config_dict(self) -> dict[str, Any]:
        """The config as config.yaml holds it."""
        return self.config.to_dict()


# -- one run's config -----------------------------------------------------------------------------
def quick_overrides(recipe: Recipe) -> dict[str, Any]:
    """What --quick changes for this recipe (printed by `fmnist run --quick`)."""
    return {**(BASELINE_QUICK if recipe.baseline else DEFAULT_QUICK), **recipe.quick}


def recipe_run_config(
    recipe: Recipe,
    point: Point,
    seed: int,
    fold: int | None,
    *,
    quick: bool = False,
    base: dict[str, Any] | None = None,
    overrides: Overrides | None = None,
    machine: Machine | None = None,
) -> RunConfig | BaselineRunConfig:
    """The validated config of one run of a recipe, in the module's order of layers."""
    start = merge(recipe.config, base or {})
    layers = [
        {"name": recipe.name + (f":{point.name}" if point.name else ""), "seed": seed},
        point.fields,
        {} if fold is None else {"data.folds": recipe.folds, "data.fold": fold},
        quick_overrides(recipe) if quick else {},
        overrides or {},
    ]
    if recipe.baseline:
        return baseline_config(
            {**layered(start, *layers), "baseline": recipe.baseline.model_dump()}
        )
    # The variant is chosen by the device and precision the layers ask for, and goes under the
    # point's fields and the overrides: a sweep over widths still sweeps on an AVX2 CPU.
    variant = hardware_variant(recipe, layered(start, *layers).get("train"), machine)
    if variant is not None:
        layers = [layers[0], variant.set, {"variant": f"fp32: {variant.why}"}, *layers[1:]]
    try:
        return build_config(start, *layers)
    except ConfigError as exc:
        where = f" point '{point.name}'" if point.name else ""
        raise ConfigError(f"recipe '{recipe.name}'{where}: {exc}") from None


def resolve_config(
    recipe: str | Recipe | None = None,
    base: dict[str, Any] | None = None,
    overrides: Overrides | None = None,
    *,
    machine: Machine | None = None,
) -> RunConfig:
    """A single run's config: defaults, then a single-run ``recipe`` (as ``fmnist run`` resolves
    it), then ``base`` (a user's config), then ``overrides``."""
    if recipe is None:
        return _with_user_model_checked(build_config(base or {}, overrides))
    return _single_run(_as_recipe(recipe), base or {}, overrides, machine)[1]


def _with_user_model_checked(cfg: RunConfig) -> RunConfig:
    """A model given by reference ('file.py:Net') is imported now and its options checked, not
    first when it is built (a registered model's options were checked with the config)."""
    if not is_registered(cfg.model.name):
        check_model_options(cfg.model.name, cfg.model.options)
    return cfg


# -- one run's spec -------------------------------------------------------------------------------
def single_run_spec(
    recipe: str | Recipe | None,
    base: dict[str, Any] | None = None,
    overrides: Overrides | None = None,
    *,
    out: str | Path = "runs",
    run_dir: str | Path | None = None,
    machine: Machine | None = None,
    quick: bool = False,
) -> RunSpec:
    """The spec of one run. With a single-run ``recipe``: for the seed the overrides give
    (default 0), in the folder ``fmnist run RECIPE [--quick]`` gives it. Without: in ``run_dir``,
    else in a new folder ``out/<date-time>-<name>-<config hash>``."""
    if recipe is not None:
        if run_dir is not None:
            raise ConfigError(
                "run_dir cannot be chosen for a recipe's run", fix=f"choose its parent: out={out}"
            )
        recipe = _as_recipe(recipe)
        point, cfg = _single_run(recipe, base or {}, overrides, machine, quick=quick)
        path = run_path(recipe_root(recipe, out, quick=quick), point, cfg.seed, None)
        return RunSpec(cfg, path, recipe, point, quick=quick)
    if quick:
        raise ConfigError(
            "quick settings belong to a recipe", fix="name one: fmnist train --recipe fast --quick"
        )
    cfg = resolve_config(None, base, overrides)
    if run_dir is not None:
        if Path(run_dir).exists():
            raise ConfigError(
                f"run directory {run_dir} already exists",
                fix=f"resume it with `fmnist train --resume {run_dir}` or choose a new path",
            )
        return RunSpec(cfg, Path(run_dir))
    name = cfg.name or short_name(cfg.model.name)
    return RunSpec(cfg, RunDir.fresh_path(out, name, cfg.fingerprint()))


def _as_recipe(recipe: str | Recipe) -> Recipe:
    return recipe if isinstance(recipe, Recipe) else load_recipe(recipe)


def _single_run(
    recipe: Recipe,
    base: dict[str, Any],
    overrides: Overrides | None,
    machine: Machine | None,
    *,
    quick: bool = False,
) -> tuple[Point, RunConfig]:
    if recipe.sweep is not None or recipe.folds or recipe.baseline:
        raise ConfigError(
            f"recipe '{recipe.name}' is a series of runs ({recipe.kind()}), not one run",
            fix=f"fmnist run {recipe.name}",
        )
    point = expand_points(recipe)[0]
    cfg = recipe_run_config(  # seed 0 unless the overrides say otherwise
        recipe, point, 0, None, quick=quick, base=base, overrides=overrides, machine=machine
    )
    return point, _with_user_model_checked(cfg)


# -- a recipe's runs ------------------------------------------------------------------------------
def plan(
    recipe: Recipe,
    *,
    out: str | Path = "runs",
    seeds: int | None = None,
    quick: bool = False,
    overrides: Overrides | None = None,
    machine: Machine | None = None,
    points: list[str] = (),
) -> list[RunSpec]:
    """Every run of the recipe (points x folds x seeds) with its folder and validated config, for
    ``machine`` (None: the recipe as written, without hardware variants); nothing is trained.
    ``points``: shell patterns of point names ('pool-max', 'activation-*__optim-rmsprop'); only
    those points are planned. A bad point, field or value fails here, before the first run starts.
    """
    if seeds is not None and seeds < 1:
        raise ConfigError("--seeds must be at least 1", got=seeds, fix="--seeds 3, or leave it out")
    if "seed" in (overrides or {}):
        raise ConfigError(
            "--set seed would give every run of the recipe the same seed",
            fix=f"choose how many seeds with --seeds N (runs seed 0..N-1): fmnist run {recipe.name}"
            " --seeds 3",
        )
    root = recipe_root(recipe, out, quick=quick)
    folds = range(recipe.folds) if recipe.folds else [None]
    specs = []
    for point in chosen_points(recipe, points):
        for fold in folds:
            for seed in range(seeds or recipe.seeds):
                config = recipe_run_config(
                    recipe,
                    point,
                    seed,
                    fold,
                    quick=quick,
                    overrides=overrides,
                    machine=machine,
                )
                path = run_path(root, point, seed, fold)
                specs.append(RunSpec(config, path, recipe, point, fold, quick))
    return specs


@dataclass(frozen=True)
class RecipePlan:
    """What ``fmnist run`` will make of one recipe: its folder, its runs, and the quick settings
    (None for full runs)."""

    recipe: Recipe
    root: Path
    jobs: list[RunSpec]
    quick_settings: dict[str, Any] | None


def plan_recipes(
    recipes: Sequence[str | Recipe],
    *,
    out: str | Path = "runs",
    seeds: int | None = None,
    quick: bool = False,
    overrides: Overrides | None = None,
    machine: Machine | None = None,
    points: list[str] = (),
) -> list[RecipePlan]:
    """The plan of each recipe named (a name, a shell pattern or a ``Recipe``; each recipe once,
    in the order named), every run's config resolved: a bad --set fails here, not an hour in."""
    chosen: list[Recipe] = []
    for item in recipes:
        found = [item] if isinstance(item, Recipe) else map(load_recipe, match_recipes([item]))
        chosen += [one for one in found if one.name not in {c.name for c in chosen}]
    return [
        RecipePlan(
            recipe,
            recipe_root(recipe, out, quick=quick),
            plan(
                recipe,
                out=out,
                seeds=seeds,
                quick=quick,
                overrides=overrides,
                machine=machine,
                points=points,
            ),
            quick_overrides(recipe) if quick else None,
        )
        for recipe in chosen
    ]


def chosen_points(recipe: Recipe, patterns: list[str]) -> list[Point]:
    """The recipe's points whose names match one of ``patterns`` (all of them without patterns),
    in the recipe's order. A pattern that selects nothing is refused: a typo would otherwise run
    nothing."""
    every = expand_points(recipe)
    if not patterns:
        return every
    if not every[0].name:  # a recipe without a sweep has one unnamed point
        raise ConfigError(
            f"recipe {recipe.name!r} has one point (no sweep): --points has nothing to choose",
            got=list(patterns),
            fix=f"leave --points out: fmnist run {recipe.name}",
        )
    names = [point.name for point in every]
    chosen: set[str] = set()
    for pattern in patterns:
        hits = fnmatch.filter(names, pattern)  # as match_recipes matches recipe names
        if not hits:
            raise ConfigError(
                f"--points {pattern!r} matches no point of recipe {recipe.name!r}",
                allowed=", ".join(names),
                fix="give a point's name or a shell pattern, e.g. --points "
                f"'{names[0].split('__')[0]}*'",
            )
        chosen.update(hits)
    return [point for point in every if point.name in chosen]


def run_path(root: Path, point: Point, seed: int, fold: int | None) -> Path:
    leaf = f"fold{fold}-seed{seed}" if fold is not None else f"seed{seed}"
    return root / point.name / leaf if point.name else root / leaf


def recipe_root(recipe: Recipe, out: str | Path = "runs", *, quick: bool = False) -> Path:
    """The experiment folder of a recipe: OUT/<recipe> or OUT/<recipe>-quick."""
    return Path(out) / (f"{recipe.name}-quick" if quick else recipe.name)
