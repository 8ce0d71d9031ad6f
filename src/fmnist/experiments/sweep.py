"""Recipes as series of runs: sweep points x seeds x folds, each a normal run directory.

    runs/<recipe>/seed0                  a single-point recipe
    runs/<recipe>/<point>/seed0          a sweep point, e.g. runs/s001_hidden_sweep/hidden-5/seed0
    runs/<recipe>/<point>/fold2-seed0    k-fold cross validation
    runs/<recipe>-quick/...              the same with --quick (never mixed with full runs)

Names are deterministic, so running a recipe again skips finished runs (summary.json exists) and
resumes interrupted ones from their last checkpoint. A run directory whose config differs from what
the recipe now asks for is refused rather than silently reused.
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmnist.config import apply_overrides, build_config, get_dotted, merge, set_dotted
from fmnist.errors import ConfigError
from fmnist.recipes import Recipe, load_recipe, with_hardware_variant
from fmnist.recipes.points import Point, expand_points
from fmnist.runs import RunDir

# What --quick changes unless a recipe's `quick:` says otherwise: a 5,000-image stratified training
# subset, 1,000 validation images and 2 epochs (the 10,000 test images are always all evaluated).
DEFAULT_QUICK = {"data.train_subset": 5000, "data.val_size": 1000, "train.epochs": 2}
BASELINE_QUICK = {"data.train_subset": 2000, "data.val_size": 1000}


@dataclass
class Job:
    """One run to make: where it goes and its fully resolved config."""

    recipe: Recipe
    point: Point
    seed: int
    fold: int | None
    path: Path
    config: dict[str, Any]
    quick: bool = False


# -- configs ------------------------------------------------------------------------------------
def quick_overrides(recipe: Recipe) -> dict[str, Any]:
    """What --quick changes for this recipe (printed by `fmnist run --quick`)."""
    return {**(BASELINE_QUICK if recipe.baseline else DEFAULT_QUICK), **recipe.quick}


def resolve_config(
    recipe: Recipe,
    point: Point,
    seed: int,
    fold: int | None,
    *,
    quick: bool,
    base: dict[str, Any] | None = None,
    overrides: list[str] = (),
) -> dict[str, Any]:
    """The validated config of one run of a recipe, in this order (later wins): the recipe, a
    user's YAML ``base``, the run's name and seed, the fp32 variant where the device has no native
    bf16, the point's fields, the fold, the quick settings, then ``--set`` overrides."""
    data = merge(
        merge(json.loads(json.dumps(recipe.config)), base or {}),
        {"name": recipe.name + (f":{point.name}" if point.name else ""), "seed": seed},
    )
    data = with_hardware_variant(recipe, data, overrides)
    for key, value in point.fields.items():
        set_dotted(data, key, value)
    if fold is not None:
        set_dotted(set_dotted(data, "data.folds", recipe.folds), "data.fold", fold)
    for key, value in (quick_overrides(recipe) if quick else {}).items():
        set_dotted(data, key, value)
    if recipe.baseline:
        from fmnist.experiments.baselines import baseline_config

        data["baseline"] = recipe.baseline.model_dump()
        return baseline_config(apply_overrides(data, list(overrides)))
    try:
        return build_config(data, overrides).to_dict()
    except ConfigError as exc:
        where = f" point '{point.name}'" if point.name else ""
        raise ConfigError(f"recipe '{recipe.name}'{where}: {exc}") from None


def single_run_config(
    recipe: Recipe, base: dict[str, Any], overrides: list[str]
) -> tuple[Point, dict[str, Any]]:
    """The point and config of a single-run recipe's one run for the seed the overrides give
    (default 0), as ``fmnist run RECIPE`` resolves it, with a user's YAML ``base`` on top."""
    if recipe.sweep is not None or recipe.folds or recipe.baseline:
        raise ConfigError(
            f"recipe '{recipe.name}' is a series of runs ({recipe.kind()}), not one run",
            fix=f"fmnist run {recipe.name}",
        )
    point = expand_points(recipe)[0]
    return point, resolve_config(
        recipe, point, 0, None, quick=False, base=base, overrides=overrides
    )


def single_run_job(
    recipe: Recipe, base: dict[str, Any], overrides: list[str], *, out: str | Path
) -> Job:
    """The one run of a single-run recipe and the folder ``fmnist run RECIPE`` makes for it."""
    point, data = single_run_config(recipe, base, overrides)
    path = run_path(recipe_root(recipe, out), point, data["seed"], None)
    return Job(recipe, point, data["seed"], None, path, data)


def resolve_base(
    recipe: str | None, base: dict[str, Any], overrides: list[str] = ()
) -> dict[str, Any]:
    """The one resolver of a single run's config: defaults, then a shipped single-run ``recipe``
    (as ``fmnist run`` resolves it), then ``base`` (a user's config), then ``overrides``."""
    if recipe is None:
        return build_config(base, list(overrides)).to_dict()
    return single_run_config(load_recipe(recipe), base, list(overrides))[1]


def run_path(root: Path, point: Point, seed: int, fold: int | None) -> Path:
    leaf = f"fold{fold}-seed{seed}" if fold is not None else f"seed{seed}"
    return root / point.name / leaf if point.name else root / leaf


def recipe_root(recipe: Recipe, out: str | Path = "runs", *, quick: bool = False) -> Path:
    """The experiment folder of a recipe: OUT/<recipe> or OUT/<recipe>-quick."""
    return Path(out) / (f"{recipe.name}-quick" if quick else recipe.name)


def plan(
    recipe: Recipe,
    *,
    out: str | Path = "runs",
    seeds: int | None = None,
    quick: bool = False,
    overrides: list[str] = (),
) -> list[Job]:
    """Every run of the recipe with its directory and validated config; nothing is trained.

    A bad point, field or value fails here, before the first run starts.
    """
    if any(o.split("=", 1)[0].strip() == "seed" for o in overrides):
        raise ConfigError(
            "--set seed would give every run of the recipe the same seed",
            fix=f"choose how many seeds with --seeds N (runs seed 0..N-1): fmnist run {recipe.name}"
            " --seeds 3",
        )
    root = recipe_root(recipe, out, quick=quick)
    folds = range(recipe.folds) if recipe.folds else [None]
    jobs = []
    for point in expand_points(recipe):
        for fold in folds:
            for seed in range(seeds or recipe.seeds):
                config = resolve_config(
                    recipe, point, seed, fold, quick=quick, overrides=list(overrides)
                )
                jobs.append(
                    Job(recipe, point, seed, fold, run_path(root, point, seed, fold), config, quick)
                )
    return jobs


# -- running ------------------------------------------------------------------------------------
def job_state(job: Job) -> str:
    """'finished', 'interrupted' or 'new'; refuses a directory made with a different config."""
    path = job.path
    if not RunDir(path).is_run:
        return "new"
    stored = _read_as_today(RunDir(path))
    if stored != job.config:
        key = _first_difference(stored, job.config)
        there, now = get_dotted(stored, key), get_dotted(job.config, key)
        raise ConfigError(
            f"{path} holds a run with a different config ({key}: {there!r} there, {now!r} now)",
            fix="delete that folder or choose another --out",
        )
    return "finished" if RunDir(path).is_complete else "interrupted"


def run_job(job: Job, *, verbose: bool = True) -> str:
    """Make one run: skip it if finished, resume it if interrupted, else train it. Returns what
    happened. One process at a time makes a run folder: another given the same run (a second
    ``fmnist run`` of the recipe, a queue worker wrongly thought dead) waits, then skips it."""
    with _run_lock(job.path):
        state = _make(job, verbose)
        write_recipe_record(job)
    return {"finished": "skipped", "interrupted": "resumed", "new": "trained"}[state]


@contextmanager
def _run_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on a file beside the run folder (``.seed0.lock`` for ``seed0``; not inside
    it, where a new run expects no files). The kernel drops it when its process dies, so a killed
    run is resumed, not waited on. It spans machines only where a shared folder's file system
    honours flock (NFSv4 does)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # said even with --quiet: a silent wait looks like a hang
            print(f"waiting: another process is making {path}", file=sys.stderr, flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _make(job: Job, verbose: bool) -> str:
    state = job_state(job)
    if state == "new" and job.path.exists():
        _discard_empty(job.path)
    if state != "finished":
        if job.recipe.baseline:
            from fmnist.experiments.baselines import train_baseline

            train_baseline(job.config, job.path, verbose=verbose)
        else:
            from fmnist.config import RunConfig
            from fmnist.training.fit import fit_run, resume_run

            if state == "interrupted":
                resume_run(RunDir(job.path), verbose=verbose)
            else:
                fit_run(
                    RunConfig.model_validate(job.config), RunDir.make(job.path), verbose=verbose
                )
    return state


def run_jobs(
    jobs: list[Job],
    *,
    workers: int = 1,
    verbose: bool = True,
    on_job: Callable[[Job, str], None] | None = None,
) -> list[tuple[Job, str]]:
    """Make ``jobs``, ``workers`` at a time; returns (job, 'skipped' | 'resumed' | 'trained') in
    finishing order.

    With one worker the runs go in order in this process. With more, each run is trained in its own
    process: on a GPU one small run leaves it mostly idle, so several at once finish a sweep sooner.
    Every run directory is written by one process only, so the records are the same either way, up
    to float rounding: each worker gets cores // workers CPU threads.
    If a run fails, runs not yet started are cancelled, the ones in progress finish, and the error
    is raised.
    """
    if workers < 1:
        raise ConfigError("--jobs must be at least 1", got=workers, fix="--jobs 1 on a CPU")
    if workers == 1 or len(jobs) <= 1:
        results = []
        for job in jobs:
            results.append((job, run_job(job, verbose=verbose)))
            if on_job:
                on_job(*results[-1])
        return results
    return _run_in_processes(jobs, workers, on_job)


def _run_in_processes(
    jobs: list[Job], workers: int, on_job: Callable[[Job, str], None] | None
) -> list[tuple[Job, str]]:
    # spawn, not fork: a forked child cannot use CUDA once the parent has touched it.
    context = multiprocessing.get_context("spawn")
    threads = max(
        1, (os.cpu_count() or 1) // workers
    )  # workers x threads <= cores: no oversubscription
    results = []
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(threads,)
    ) as pool:
        futures = {pool.submit(run_job, job, verbose=False): job for job in jobs}
        try:
            for future in as_completed(futures):
                results.append((futures[future], future.result()))
                if on_job:
                    on_job(*results[-1])
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def write_recipe_record(job: Job) -> None:
    """recipe.json beside summary.json: which recipe, point and study number this run belongs to."""
    recipe = job.recipe
    record = {
        "name": recipe.name,
        "study": recipe.study,
        "description": recipe.description,
        "point": job.point.name or None,
        "reported": job.point.reported,
        "reported_val": job.point.reported_val,
        "recipe_reported": recipe.reported,
        "seed": job.seed,
        "fold": job.fold,
        "folds": recipe.folds,
        "quick": job.quick,
        "quick_overrides": quick_overrides(recipe) if job.quick else None,
    }
    RunDir(job.path).write_recipe(record)


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
