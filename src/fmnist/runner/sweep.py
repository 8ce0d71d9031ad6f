"""A recipe's runs (sweep points x seeds x folds), each a normal run folder, made in order or at
once.

    runs/<recipe>/seed0                  a single-point recipe
    runs/<recipe>/<point>/seed0          a sweep point, e.g. runs/s001_hidden_sweep/hidden-5/seed0
    runs/<recipe>/<point>/fold2-seed0    k-fold cross validation
    runs/<recipe>-quick/...              the same with --quick (never mixed with full runs)

Names are deterministic (``fmnist.runner.resolve.plan``), so running a recipe again skips finished
runs and resumes interrupted ones (``fmnist.runner.make.make_run``). A run folder whose config
differs from what the recipe now asks for is refused rather than silently reused.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from fmnist.errors import ConfigError
from fmnist.runner.cluster import SlurmJobs
from fmnist.runner.make import make_run
from fmnist.runner.resolve import RunSpec


def make_runs(
    jobs: list[RunSpec],
    *,
    workers: int = 1,
    cluster: str | None = None,
    slurm: SlurmJobs | None = None,
    out: str | Path = "runs",
    verbose: bool = True,
    on_job: Callable[[RunSpec, str], None] | None = None,
) -> list[tuple[RunSpec, str]]:
    """Make ``jobs`` here (``run_jobs``: in order, or ``workers`` processes at once) or, with
    ``cluster``, as tasks on Dask's workers ('local', a scheduler's address, or 'slurm' with
    ``slurm``'s jobs; ``fmnist.runner.cluster``), every run folder under ``out``. Returns (job,
    'skipped' | 'resumed' | 'trained') in finishing order."""
    if cluster is None:
        return run_jobs(jobs, workers=workers, verbose=verbose, on_job=on_job)
    from fmnist.runner.cluster import run_on_cluster  # dask: the cluster extra

    quiet = lambda _: None  # noqa: E731
    echo = print if verbose else quiet
    return run_on_cluster(jobs, cluster, out=Path(out), on_job=on_job, echo=echo, slurm=slurm)


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
            results.append((job, make_run(job, verbose=verbose)))
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
        futures = {pool.submit(make_run, job, verbose=False): job for job in jobs}
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
