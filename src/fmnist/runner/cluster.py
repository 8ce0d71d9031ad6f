"""A recipe's runs on a Dask cluster: each planned run is one task, ``make_run`` on whichever
worker the scheduler gives it, the same function a run made here calls.

    fmnist run RECIPE --cluster tcp://HOST:8786   workers started with Dask's own commands:
                                                 dask scheduler
                                                 dask worker tcp://HOST:8786 --nthreads 1
    fmnist run RECIPE --cluster local             a LocalCluster here, one process per core

Every run folder ends up under the client's ``--out``. A worker that sees that folder (this
machine, or a folder shared by the machines) makes the run in place, so a run whose worker died is
resumed from its last checkpoint by the next one; a worker that does not trains in a folder of its
own and sends the finished folder back with its result, which the client writes under ``--out``
(a run retried there starts again). A worker that dies mid-run loses only its task: the scheduler
gives it to another worker. Each worker trains with as many torch threads as Dask gave it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fmnist.errors import ConfigError
from fmnist.runner.make import make_run, run_state
from fmnist.runner.resolve import RunSpec
from fmnist.runs import RunDir, atomic_write

RunFiles = dict[str, bytes]  # a finished run folder: relative path -> contents


def run_on_cluster(
    jobs: list[RunSpec],
    address: str,
    *,
    out: Path,
    on_job: Callable[[RunSpec, str], None] | None = None,
    echo: Callable[[str], None] = print,
) -> list[tuple[RunSpec, str]]:
    """Make ``jobs`` on the cluster at ``address`` ('local' or a scheduler's address); returns
    (job, 'skipped' | 'resumed' | 'trained') in finishing order. Finished runs under ``out`` are
    skipped here, without a task."""
    from distributed import as_completed

    results, todo = [], []
    for job in jobs:
        if RunDir(job.path).is_run and run_state(job, RunDir(job.path)) == "skipped":
            results.append((job, "skipped"))
            if on_job:
                on_job(job, "skipped")
        else:
            todo.append(job)
    with _client(address) as client, _shared_marker(out.absolute()) as marker:
        if client.dashboard_link:
            echo(f"Dask dashboard: {client.dashboard_link}")
        # absolute paths: a worker's working folder is not the client's
        futures = {
            client.submit(
                make_on_worker,
                dataclasses.replace(job, path=job.path.absolute()),
                str(marker),
                key=f"fmnist-{uuid.uuid4()}",
            ): job
            for job in todo
        }
        for future in as_completed(futures):
            job = futures[future]
            state, files, worker = future.result()
            if files is not None:
                _write_back(job.path, files)
            results.append((job, state))
            if on_job:
                on_job(job, state)
            echo(f"  made by {worker}; {_standing(client, futures)}")
    return results


def _standing(client, futures: dict) -> str:
    """'N done, N running, N queued' of the sweep's tasks, as the scheduler sees them now."""
    running_keys = {key for keys in client.processing().values() for key in keys}
    done = sum(future.done() for future in futures)
    running = sum(future.key in running_keys for future in futures if not future.done())
    return f"{done} done, {running} running, {len(futures) - done - running} queued"


def make_on_worker(job: RunSpec, marker: str) -> tuple[str, RunFiles | None, str]:
    """The task: make ``job``'s run in place where this worker sees the client's ``--out``
    (``marker`` is a file there), else in a folder of its own, sent back whole. Returns the state,
    the files (None: made in place) and the worker's address."""
    import torch
    from distributed import get_worker

    worker = get_worker()
    torch.set_num_threads(max(1, worker.state.nthreads))  # Dask's threads for this worker
    if Path(marker).is_file():
        return make_run(job, verbose=False), None, worker.address
    with tempfile.TemporaryDirectory(prefix="fmnist-run-") as folder:
        here = dataclasses.replace(job, path=Path(folder) / job.path.name)
        state = make_run(here, verbose=False)
        files = {
            path.relative_to(here.path).as_posix(): path.read_bytes()
            for path in sorted(here.path.rglob("*"))
            if path.is_file()
        }
    return state, files, worker.address


def _write_back(path: Path, files: RunFiles) -> None:
    """A run folder sent back by a worker, written under ``--out`` (an unfinished one of the same
    config left there by an earlier try is replaced)."""
    if path.exists():
        shutil.rmtree(path)
    for relative, data in files.items():
        target = RunDir(path).file(relative)  # refuses a name that would leave the folder
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data)


@contextmanager
def _shared_marker(out: Path) -> Iterator[Path]:
    """A file in ``out`` that a worker sees only where it shares the folder."""
    marker = out / f".fmnist-cluster-{uuid.uuid4().hex}"
    marker.write_bytes(b"")
    try:
        yield marker
    finally:
        marker.unlink(missing_ok=True)


@contextmanager
def _client(address: str) -> Iterator:
    """A client of a LocalCluster here ('local'), or of the scheduler at ``address``."""
    from distributed import Client, LocalCluster

    if address == "local":
        cores = os.cpu_count() or 1
        # silence_logs: Dask's warnings as its workers are stopped are not the user's business
        local = LocalCluster(
            n_workers=cores, threads_per_worker=1, processes=True, silence_logs=logging.ERROR
        )
        with local as cluster:
            with Client(cluster) as client:
                yield client
        return
    try:
        client = Client(address, timeout="20s")
    except (OSError, ValueError) as exc:  # nothing answers there, or not an address
        raise ConfigError(
            f"--cluster {address}: no Dask scheduler answered ({exc})",
            fix="start one with `dask scheduler` and give its address, e.g. "
            "--cluster tcp://HOST:8786, or use --cluster local",
        ) from None
    with client:
        yield client
