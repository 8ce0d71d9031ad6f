"""A recipe's runs on a Dask cluster: each planned run is one task, ``make_run`` on whichever
worker the scheduler gives it, the same function a run made here calls.

    fmnist run RECIPE --cluster tcp://HOST:8786   workers started with Dask's own commands:
                                                 dask scheduler
                                                 dask worker tcp://HOST:8786 --nthreads 1
    fmnist run RECIPE --cluster local             a LocalCluster here, one process per core
    fmnist run RECIPE --cluster slurm             Slurm jobs through dask-jobqueue, one worker
                                                 each (``SlurmJobs``: partition, time, size)

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
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fmnist.errors import ConfigError
from fmnist.runner.resolve import RunSpec
from fmnist.runs import RunDir, atomic_write

RunFiles = dict[str, bytes]  # a finished run folder: relative path -> contents


@dataclass(frozen=True)
class SlurmJobs:
    """What ``--cluster slurm`` asks Slurm for: ``jobs`` batch jobs, each one Dask worker that
    trains with ``cores`` threads. Other settings (account, network interface, modules to load,
    log folder) come from dask-jobqueue's own config, ~/.config/dask/jobqueue.yaml."""

    jobs: int = 2  # jobs (= workers) at once, at most one per run left to make
    partition: str | None = None  # None: the cluster's default partition
    time: str = "01:00:00"  # each job's limit (Slurm's format); Slurm ends a job that reaches it
    cores: int = 1  # per job: the worker's threads, torch's threads for its runs
    memory: str = "4GB"  # per job
    gpus: int = 0  # per job (--gres=gpu:N); its runs train on CUDA where device is auto


def run_on_cluster(
    jobs: list[RunSpec],
    address: str,
    *,
    out: Path,
    on_job: Callable[[RunSpec, str], None] | None = None,
    echo: Callable[[str], None] = print,
    slurm: SlurmJobs | None = None,
) -> list[tuple[RunSpec, str]]:
    """Make ``jobs`` on the cluster at ``address`` ('local', 'slurm' or a scheduler's address);
    returns (job, 'skipped' | 'resumed' | 'trained') in finishing order. Finished runs under
    ``out`` are skipped here, without a task. ``slurm``: the jobs of ``--cluster slurm``."""
    from distributed import as_completed

    from fmnist.runner.make import run_state  # imports torch: only when a sweep is made

    results, todo = [], []
    for job in jobs:
        if RunDir(job.path).is_run and run_state(job, RunDir(job.path)) == "skipped":
            results.append((job, "skipped"))
            if on_job:
                on_job(job, "skipped")
        else:
            todo.append(job)
    if address == "slurm":
        slurm = slurm or SlurmJobs()
        # no more jobs than runs to make: a job with nothing to do would hold its cores
        slurm = dataclasses.replace(slurm, jobs=min(slurm.jobs, len(todo)))
    with _client(address, slurm, echo) as client, _shared_marker(out.absolute()) as marker:
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

    from fmnist.runner.make import make_run

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
def _client(address: str, slurm: SlurmJobs | None, echo: Callable[[str], None]) -> Iterator:
    """A client of a LocalCluster here ('local'), of Slurm jobs ('slurm'), or of the scheduler at
    ``address``."""
    from distributed import Client, LocalCluster

    if address == "slurm":
        with _slurm_cluster(slurm or SlurmJobs(), echo) as cluster, Client(cluster) as client:
            yield client
        return
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


@contextmanager
def _slurm_cluster(slurm: SlurmJobs, echo: Callable[[str], None]) -> Iterator:
    """A dask-jobqueue SLURMCluster: a scheduler here, ``slurm.jobs`` batch jobs that each start
    one worker and connect back to it. Its jobs end with it."""
    try:
        import dask
        from dask_jobqueue import SLURMCluster
    except ImportError as exc:
        raise ConfigError(
            f"--cluster slurm needs dask-jobqueue ({exc})", fix="pip install 'fmnist[cluster]'"
        ) from None
    extra = dask.config.get("jobqueue.slurm.job-extra-directives") or []  # kept, not replaced
    try:
        cluster = SLURMCluster(
            queue=slurm.partition,
            walltime=slurm.time,
            cores=slurm.cores,
            processes=1,  # one worker per job, its threads the job's cores (make_on_worker)
            memory=slurm.memory,
            job_extra_directives=[*extra, f"--gres=gpu:{slurm.gpus}"] if slurm.gpus else None,
        )
    except ValueError as exc:  # a memory dask cannot read
        raise ConfigError(f"--slurm-memory: {exc}", fix="e.g. --slurm-memory 8GB") from None
    with cluster:
        _test_submit(cluster.job_script())
        cluster.scale(jobs=slurm.jobs)
        echo(
            f"Slurm: {slurm.jobs} job(s) submitted, each one worker ({slurm.cores} core(s), "
            f"{slurm.memory}, {slurm.time}); watch them with: squeue --me"
        )
        yield cluster


def _test_submit(script: str) -> None:
    """``sbatch --test-only`` on the workers' job script: a partition, time or size that Slurm
    refuses is one line now; dask-jobqueue submits in the background, where a refused job would
    leave the sweep waiting for workers forever."""
    with tempfile.NamedTemporaryFile("w", suffix=".sh") as file:
        file.write(script)
        file.flush()
        try:
            done = subprocess.run(
                ["sbatch", "--test-only", file.name], capture_output=True, text=True
            )
        except FileNotFoundError:
            raise ConfigError(
                "--cluster slurm: no sbatch command on this machine",
                fix="run fmnist where you submit Slurm jobs (a login node), or use --cluster local",
            ) from None
    if done.returncode != 0:
        refused = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise ConfigError(
            f"--cluster slurm: Slurm refuses the workers' job ({refused})",
            fix="change --slurm-partition, --slurm-time, --slurm-cores, --slurm-memory or "
            "--slurm-gpus to what `sinfo` shows",
        )
