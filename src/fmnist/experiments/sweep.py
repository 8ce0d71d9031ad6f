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

import fnmatch
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout

from fmnist.errors import ConfigError
from fmnist.experiments.spec import (
    RunSpec,
    make_run,
    quick_overrides,
    recipe_root,
    require_device,
    resolve_recipe_run,
    run_path,
)
from fmnist.machine import Machine
from fmnist.recipes import Recipe
from fmnist.recipes.points import Point, expand_points
from fmnist.runs import RunDir


# -- planning -------------------------------------------------------------------------------------
def plan(
    recipe: Recipe,
    *,
    out: str | Path = "runs",
    seeds: int | None = None,
    quick: bool = False,
    overrides: list[str] = (),
    machine: Machine | None = None,
    points: list[str] = (),
) -> list[RunSpec]:
    """Every run of the recipe with its directory and validated config, for ``machine`` (None: the
    recipe as written, without hardware variants); nothing is trained. ``points``: shell patterns
    of point names ('pool-max', 'activation-*__optim-rmsprop'); only those points are planned.

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
    for point in chosen_points(recipe, points):
        for fold in folds:
            for seed in range(seeds or recipe.seeds):
                config = resolve_recipe_run(
                    recipe,
                    point,
                    seed,
                    fold,
                    quick=quick,
                    overrides=list(overrides),
                    machine=machine,
                )
                path = run_path(root, point, seed, fold)
                jobs.append(RunSpec(config, path, recipe, point, fold, quick))
    return jobs


def chosen_points(recipe: Recipe, patterns: list[str]) -> list[Point]:
    """The recipe's points whose names match one of ``patterns`` (all of them without patterns),
    in the recipe's order. A pattern that selects nothing is refused: a typo would otherwise run
    nothing, or in a shared run (--storage) leave a worker with a different plan."""
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


# -- running ------------------------------------------------------------------------------------
def run_job(job: RunSpec, *, verbose: bool = True) -> str:
    """Make one run of a recipe (``spec.make_run``: skip, resume or train) and its recipe.json.
    Returns what happened. One process at a time makes a run folder: another given the same run
    (a second ``fmnist run`` of the recipe, a queue worker wrongly thought dead) waits, then
    skips it."""
    require_device(job)
    with _run_lock(job.path):
        state = make_run(job, verbose=verbose)
        write_recipe_record(job)
    return {"finished": "skipped", "interrupted": "resumed", "new": "trained"}[state]


@contextmanager
def _run_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on a file beside the run folder (``.seed0.lock`` for ``seed0``; not inside
    it, where a new run expects no files). ``filelock`` takes the OS's own lock (flock on Linux and
    macOS, LockFileEx on Windows), which goes when its process dies, so a killed run is resumed,
    not waited on. It spans machines only where a shared folder's file system honours it (NFSv4
    does flock). The file is removed once the run is finished: a process still waiting on it, or
    one that makes a new one, then finds the run finished and skips it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.parent / f".{path.name}.lock"
    lock = FileLock(lock_path)
    try:
        lock.acquire(blocking=False)
    except Timeout:  # said even with --quiet: a silent wait looks like a hang
        print(f"waiting: another process is making {path}", file=sys.stderr, flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
    if RunDir(path).is_complete:
        with suppress(OSError):  # Windows: a waiting process has it open; filelock removes it then
            lock_path.unlink(missing_ok=True)


def run_jobs(
    jobs: list[RunSpec],
    *,
    workers: int = 1,
    verbose: bool = True,
    on_job: Callable[[RunSpec, str], None] | None = None,
) -> list[tuple[RunSpec, str]]:
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
    jobs: list[RunSpec], workers: int, on_job: Callable[[RunSpec, str], None] | None
) -> list[tuple[RunSpec, str]]:
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


def write_recipe_record(job: RunSpec) -> None:
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
