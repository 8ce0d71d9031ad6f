"""One run, from its spec to its folder: the one resolver and the one ``make_run``.

    (recipe or config, overrides, machine facts)  --resolve-->  RunSpec(config, path)
    RunSpec  --make_run-->  a run folder, trained by a net's Trainer or a scikit-learn baseline

A spec's config is validated once, when it is resolved; everything after takes it as it is.
Resolving imports no torch: the machine a run is planned for comes in as data
(``fmnist.machine``), and a model given by reference is imported only to check its options.
``fmnist.experiments.sweep`` plans many specs of a recipe and makes them in order or at once.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmnist.config import RunConfig, apply_overrides, build_config, get_dotted, merge, set_dotted
from fmnist.errors import ConfigError
from fmnist.experiments.baselines import BaselineRunConfig, baseline_config
from fmnist.machine import Machine
from fmnist.models.catalog import check_model_options
from fmnist.models.user import short_name
from fmnist.recipes import Recipe, load_recipe, with_hardware_variant
from fmnist.recipes.points import Point, expand_points
from fmnist.runs import RunDir

# What --quick changes unless a recipe's `quick:` says otherwise: a 5,000-image stratified training
# subset, 1,000 validation images and 2 epochs (the 10,000 test images are always all evaluated).
DEFAULT_QUICK = {"data.train_subset": 5000, "data.val_size": 1000, "train.epochs": 2}
BASELINE_QUICK = {"data.train_subset": 2000, "data.val_size": 1000}


@dataclass(frozen=True)
class RunSpec:
    """One run to make: its validated config and its folder; for a recipe's run, also which
    recipe, point, seed and fold it is (written to recipe.json)."""

    config: RunConfig | BaselineRunConfig
    path: Path
    recipe: Recipe | None = None
    point: Point | None = None
    fold: int | None = None
    quick: bool = False

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def config_dict(self) -> dict[str, Any]:
        """The config as config.yaml holds it."""
        return self.config.to_dict()


# -- resolving ------------------------------------------------------------------------------------
def quick_overrides(recipe: Recipe) -> dict[str, Any]:
    """What --quick changes for this recipe (printed by `fmnist run --quick`)."""
    return {**(BASELINE_QUICK if recipe.baseline else DEFAULT_QUICK), **recipe.quick}


def resolve_recipe_run(
    recipe: Recipe,
    point: Point,
    seed: int,
    fold: int | None,
    *,
    quick: bool = False,
    base: dict[str, Any] | None = None,
    overrides: list[str] = (),
    machine: Machine | None = None,
) -> RunConfig | BaselineRunConfig:
    """The validated config of one run of a recipe, in this order (later wins): the recipe, a
    user's YAML ``base``, the run's name and seed, the fp32 variant where ``machine`` trains it on
    a CPU without native bf16, the point's fields, the fold, the quick settings, then ``--set``
    overrides."""
    data = merge(
        merge(json.loads(json.dumps(recipe.config)), base or {}),
        {"name": recipe.name + (f":{point.name}" if point.name else ""), "seed": seed},
    )
    data = with_hardware_variant(recipe, data, list(overrides), machine)
    for key, value in point.fields.items():
        set_dotted(data, key, value)
    if fold is not None:
        set_dotted(set_dotted(data, "data.folds", recipe.folds), "data.fold", fold)
    for key, value in (quick_overrides(recipe) if quick else {}).items():
        set_dotted(data, key, value)
    if recipe.baseline:
        data["baseline"] = recipe.baseline.model_dump()
        return baseline_config(apply_overrides(data, list(overrides)))
    try:
        return build_config(data, list(overrides))
    except ConfigError as exc:
        where = f" point '{point.name}'" if point.name else ""
        raise ConfigError(f"recipe '{recipe.name}'{where}: {exc}") from None


def resolve_config(
    recipe: str | Recipe | None = None,
    base: dict[str, Any] | None = None,
    overrides: list[str] = (),
    *,
    machine: Machine | None = None,
) -> RunConfig:
    """The one resolver of a single run's config: defaults, then a single-run ``recipe`` (as
    ``fmnist run`` resolves it), then ``base`` (a user's config), then ``overrides``. A model
    given by reference is imported now and its options checked, not first when it is built."""
    if recipe is None:
        cfg = build_config(base or {}, list(overrides))
    else:
        cfg = _single_run(_as_recipe(recipe), base or {}, list(overrides), machine)[1]
    check_model_options(cfg.model.name, cfg.model.options)
    return cfg


def recipe_spec(
    recipe: str | Recipe,
    base: dict[str, Any] | None = None,
    overrides: list[str] = (),
    *,
    out: str | Path = "runs",
    machine: Machine | None = None,
    quick: bool = False,
) -> RunSpec:
    """The spec of a single-run recipe's run for the seed the overrides give (default 0), in the
    folder ``fmnist run RECIPE`` (with ``quick``: ``fmnist run RECIPE --quick``) gives it."""
    recipe = _as_recipe(recipe)
    point, cfg = _single_run(recipe, base or {}, list(overrides), machine, quick=quick)
    check_model_options(cfg.model.name, cfg.model.options)
    path = run_path(recipe_root(recipe, out, quick=quick), point, cfg.seed, None)
    return RunSpec(cfg, path, recipe, point, quick=quick)


def config_spec(
    cfg: RunConfig, *, out: str | Path = "runs", run_dir: str | Path | None = None
) -> RunSpec:
    """The spec of a run of a config without a recipe: in ``run_dir``, else in a new folder
    ``out/<date-time>-<name>-<config hash>``."""
    if run_dir is not None:
        return RunSpec(cfg, Path(run_dir))
    name = cfg.name or short_name(cfg.model.name)
    return RunSpec(cfg, RunDir.fresh_path(out, name, cfg.fingerprint()))


def _as_recipe(recipe: str | Recipe) -> Recipe:
    return recipe if isinstance(recipe, Recipe) else load_recipe(recipe)


def _single_run(
    recipe: Recipe,
    base: dict[str, Any],
    overrides: list[str],
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
    return point, resolve_recipe_run(  # seed 0 unless the overrides say otherwise
        recipe, point, 0, None, quick=quick, base=base, overrides=overrides, machine=machine
    )


def run_path(root: Path, point: Point, seed: int, fold: int | None) -> Path:
    leaf = f"fold{fold}-seed{seed}" if fold is not None else f"seed{seed}"
    return root / point.name / leaf if point.name else root / leaf


def recipe_root(recipe: Recipe, out: str | Path = "runs", *, quick: bool = False) -> Path:
    """The experiment folder of a recipe: OUT/<recipe> or OUT/<recipe>-quick."""
    return Path(out) / (f"{recipe.name}-quick" if quick else recipe.name)


# -- making ---------------------------------------------------------------------------------------
def make_run(spec: RunSpec, *, verbose: bool = True) -> str:
    """The one place a run is made: skip it if finished, resume it if interrupted, else create its
    folder and train it (a net by its Trainer, a baseline by scikit-learn). Returns the state it
    found: 'finished', 'interrupted' or 'new'."""
    require_device(spec)
    state = run_state(spec)
    if state == "finished":
        return state
    if state == "new" and spec.path.exists():
        _discard_empty(spec.path)
    run = RunDir.make(spec.path) if state == "new" else RunDir(spec.path)
    if isinstance(spec.config, BaselineRunConfig):
        from fmnist.experiments.baselines import train_baseline

        train_baseline(spec.config, run, verbose=verbose)  # no checkpoints: refitted whole
    else:
        from fmnist.training.fit import fit_run, resume_run

        if state == "interrupted":
            resume_run(run, verbose=verbose)
        else:
            fit_run(spec.config, run, verbose=verbose)
    return state


def require_device(spec: RunSpec) -> None:
    """Refuse a run whose ``train.device`` this machine lacks (``cuda`` here, ``mps`` off a Mac)
    before its folder or lock is made. A baseline trains on the CPU: nothing to check."""
    if isinstance(spec.config, RunConfig):
        from fmnist.training.hardware import resolve_device

        resolve_device(spec.config.train.device)


def run_state(spec: RunSpec) -> str:
    """'finished', 'interrupted' or 'new'; refuses a directory made with a different config."""
    run = RunDir(spec.path)
    if not run.is_run:
        return "new"
    stored, wanted = _read_as_today(run), spec.config_dict
    if stored != wanted:
        key = _first_difference(stored, wanted)
        there, now = get_dotted(stored, key), get_dotted(wanted, key)
        raise ConfigError(
            f"{spec.path} holds a run with a different config"
            f" ({key}: {there!r} there, {now!r} now)",
            fix="delete that folder or choose another --out",
        )
    return "finished" if run.is_complete else "interrupted"


def _discard_empty(path: Path) -> None:
    """A folder left by a crash before config.yaml was written holds no files: remove it, else
    refuse."""
    if any(p.is_file() for p in path.rglob("*")):
        raise ConfigError(
            f"{path} exists but is not a run directory (no config.yaml)",
            fix="move it away or choose another --out",
        )
    shutil.rmtree(path)


def _read_as_today(run: RunDir) -> dict[str, Any]:
    """A run's stored config as today's schema reads it: a field added since the run was made
    takes its default, so a new option left at its default does not refuse every earlier run.
    (A field since removed is a difference: the stored config is then compared as it is.)"""
    stored = run.read_config()
    try:
        return build_config(stored).to_dict()
    except ConfigError:
        return stored


def _first_difference(a: Any, b: Any, prefix: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
    return prefix.rstrip(".") or "config"
