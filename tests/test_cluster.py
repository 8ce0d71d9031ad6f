"""Sweeps on a real Dask cluster: a `dask scheduler` and two `dask worker` processes on this
machine, one of them killed with SIGKILL while it trains; and `--cluster local`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from fmnist.runs import RunDir  # noqa: E402

DASK = Path(sys.executable).with_name("dask")
# 2 points x 3 seeds, one epoch on 2,000 images each, one torch thread: 6 runs of a few seconds
SWEEP = ["run", "s001_hidden_sweep", "--quick", "--points", "hidden-5", "--points", "hidden-10"]
SWEEP += ["--seeds", "3", "--set", "data.train_subset=2000", "--set", "train.epochs=3"]
SWEEP += ["--set", "train.threads=1", "-q"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _fmnist(*args: str, env: dict, cwd: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "fmnist", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
    )


def _predictions(root: Path) -> dict[str, bytes]:
    return {
        run.path.relative_to(root).as_posix(): run.file("test_predictions.txt").read_bytes()
        for run in RunDir.finished_under(root)
    }


@pytest.fixture
def local_sweep(tmp_path, real_data_dir) -> dict[str, bytes]:
    """The same sweep made here, in order, without Dask."""
    env = {**os.environ, "FMNIST_DATA": str(real_data_dir)}
    done = _fmnist(*SWEEP, "--out", str(tmp_path / "here"), env=env)
    output, _ = done.communicate(timeout=600)
    assert done.returncode == 0, output
    return _predictions(tmp_path / "here")


def test_a_sweep_on_dask_workers_survives_a_killed_worker_and_gathers_every_run(
    tmp_path, real_data_dir, local_sweep
):
    env = {**os.environ, "FMNIST_DATA": str(real_data_dir), "OMP_NUM_THREADS": "1"}
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = [
        subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1]],
            env=env,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    (tmp_path / "workers").mkdir()
    for _ in range(2):
        worker = [str(DASK), "worker", address, "--nthreads", "1", "--nworkers", "1"]
        started.append(
            subprocess.Popen(
                worker,
                env=env,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                cwd=tmp_path / "workers",  # not the client's: --out below is relative to its own
            )
        )
    out = tmp_path / "cluster"
    try:
        sweep = _fmnist(*SWEEP, "--out", "cluster", "--cluster", address, env=env, cwd=tmp_path)
        # Kill the first worker (its nanny and its process) once a run has a checkpoint.
        deadline = time.monotonic() + 300
        while not list(out.rglob("last.pt")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list(out.rglob("last.pt")), "no run started training on the cluster"
        os.killpg(started[1].pid, signal.SIGKILL)
        output, _ = sweep.communicate(timeout=600)
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    assert sweep.returncode == 0, output
    made = [line for line in output.splitlines() if line.startswith("[")]
    assert len(made) == 6 and len({line.split()[-1] for line in made}) == 6, output  # once each
    assert any(" resumed " in line for line in made), output  # the killed worker's run, elsewhere
    assert _predictions(out) == local_sweep  # every run under --out, as made here
    assert not list(out.rglob(".lock")) and not list(out.glob(".fmnist-cluster-*"))


def test_a_sweep_on_a_local_dask_cluster_gives_the_runs_made_here(
    tmp_path, real_data_dir, local_sweep
):
    env = {**os.environ, "FMNIST_DATA": str(real_data_dir), "OMP_NUM_THREADS": "1"}
    sweep = _fmnist(*SWEEP, "--out", str(tmp_path / "local"), "--cluster", "local", env=env)
    output, _ = sweep.communicate(timeout=600)
    assert sweep.returncode == 0, output
    assert _predictions(tmp_path / "local") == local_sweep


def test_the_old_storage_queue_of_fmnist_run_names_what_replaced_it(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "fmnist", "run", "s000_softmax", "--storage", "sqlite:///q.db"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "replaced by --cluster" in done.stderr.strip().splitlines()[-1]
