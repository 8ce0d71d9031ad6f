"""`fmnist run --cluster slurm` on a real single-node Slurm that the test starts: munged with a key
of its own, slurmctld and slurmd with a minimal slurm.conf (this machine as the one node, its real
CPUs and memory), all in a temporary folder; jobs submitted by dask-jobqueue's SLURMCluster."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fmnist.runs import RunDir

SBIN = "/usr/sbin"
# 2 points x 3 seeds, 3 epochs on 2,000 images each, one torch thread: 6 runs of a few seconds
SWEEP = ["run", "s001_hidden_sweep", "--quick", "--points", "hidden-5", "--points", "hidden-10"]
SWEEP += ["--seeds", "3", "--set", "data.train_subset=2000", "--set", "train.epochs=3"]
SWEEP += ["--set", "train.threads=1", "-q"]
SLURM = ["--cluster", "slurm", "--slurm-jobs", "2", "--slurm-memory", "1GB"]
SLURM += ["--slurm-time", "00:10:00"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _slurm_conf(folder: Path, host: str, node: str) -> str:
    """The least slurm.conf that runs jobs here: no cgroups, no accounting, no MPI; ports of its
    own so that it meets no other Slurm on this machine."""
    return f"""\
ClusterName=fmnisttest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={folder}/munge.sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
PlugStackConfig={folder}/plugstack.conf
{node} NodeAddr=127.0.0.1
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


@pytest.fixture(scope="module")
def slurm() -> dict[str, str]:
    """The environment of a client of a Slurm started here (SLURM_CONF set), until the module's
    tests are done; skips where the daemons do not come up within a minute."""
    pytest.importorskip("dask_jobqueue")
    if not Path(f"{SBIN}/slurmctld").is_file():
        pytest.skip("Slurm is not installed: apt-get install slurm-wlm munge (as .ci/run does)")
    if os.geteuid() != 0:
        pytest.skip("the test's Slurm runs its daemons and jobs as root")
    # slurmd -C: this machine as Slurm sees it, its first line the node's definition
    node = subprocess.run([f"{SBIN}/slurmd", "-C"], capture_output=True, text=True)
    if node.returncode != 0:
        pytest.skip(f"slurmd -C cannot describe this machine: {node.stderr.strip()}")
    node_line = node.stdout.splitlines()[0]
    host = node_line.split()[0].removeprefix("NodeName=")
    # short: munged's socket path must fit in 108 bytes, which a pytest tmp_path may not
    folder = Path(tempfile.mkdtemp(prefix="fmnist-slurm-"))
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    (folder / "plugstack.conf").write_text("")
    key = folder / "munge.key"
    key.write_bytes(os.urandom(128))
    key.chmod(0o600)  # munged refuses a key that others can read
    (folder / "slurm.conf").write_text(_slurm_conf(folder, host, node_line))
    env = {**os.environ, "SLURM_CONF": str(folder / "slurm.conf")}
    # --force: munged otherwise refuses a socket in a folder others cannot enter (mkdtemp: 0700)
    munged = [f"{SBIN}/munged", "--foreground", "--force", f"--key-file={key}"]
    munged += [f"--socket={folder}/munge.sock", f"--pid-file={folder}/munged.pid"]
    munged += [f"--seed-file={folder}/munged.seed", f"--log-file={folder}/munged.log"]
    daemons = []
    log = open(folder / "daemons.out", "w")  # noqa: SIM115 (closed in teardown)
    try:
        for command in (
            munged,
            [f"{SBIN}/slurmctld", "-D"],
            [f"{SBIN}/slurmd", "-D", "-N", host],
        ):
            daemons.append(
                subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
            )
            time.sleep(0.5)  # munged's socket before slurmctld, slurmctld before slurmd
        deadline = time.monotonic() + 60
        while _node_state(env) != "idle" and time.monotonic() < deadline:
            if any(daemon.poll() is not None for daemon in daemons):
                break
            time.sleep(0.5)
        if _node_state(env) != "idle":
            tail = (folder / "daemons.out").read_text().strip().splitlines()[-5:]
            pytest.skip(f"Slurm did not start here within 60 s: {' | '.join(tail)}")
        yield env
    finally:
        subprocess.run(["scancel", "--user", "root"], env=env, capture_output=True)
        for daemon in reversed(daemons):
            if daemon.poll() is None:
                os.killpg(daemon.pid, signal.SIGTERM)
        for daemon in daemons:
            try:
                daemon.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _node_state(env: dict) -> str:
    """'idle' once slurmctld answers and slurmd has registered the node."""
    done = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True)
    return done.stdout.strip()


def _squeue(env: dict) -> list[str]:
    done = subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def _fmnist(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fmnist", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_a_sweep_on_slurm_jobs_makes_every_run_once_under_out(slurm, tmp_path, real_data_dir):
    env = {**slurm, "FMNIST_DATA": str(real_data_dir), "OMP_NUM_THREADS": "1"}
    # a relative --out: the jobs start in the folder sbatch was called from, as on a cluster
    done = _fmnist(*SWEEP, *SLURM, "--out", "runs", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    made = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert len(made) == 6 and len({line.split()[-1] for line in made}) == 6, done.stdout  # once
    assert all(" trained " in line for line in made), done.stdout
    root = tmp_path / "runs" / "s001_hidden_sweep-quick"
    assert len(RunDir.finished_under(root)) == 6
    assert len(list(tmp_path.glob("slurm-*.out"))) == 2  # the two jobs' logs: made by Slurm
    table = _fmnist("table", str(root), env=env, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    rows = [line for line in table.stdout.splitlines() if "| hidden-" in line]
    assert len(rows) == 2 and all("| 3/3 |" in row for row in rows), table.stdout  # recounted
    deadline = time.monotonic() + 30  # the jobs end with the sweep
    while _squeue(env) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _squeue(env)


def test_a_job_that_slurm_refuses_is_one_line(slurm, tmp_path):
    refused = ["--slurm-partition", "nope"]
    done = _fmnist("run", "s000_softmax", "--quick", *SLURM, *refused, env=slurm, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "Slurm refuses the workers' job" in done.stderr.strip().splitlines()[-1]
    assert "Invalid partition" in done.stderr


def test_slurm_options_need_cluster_slurm(tmp_path):
    done = _fmnist("run", "s000_softmax", "--slurm-jobs", "4", env=dict(os.environ), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "apply only to --cluster slurm" in done.stderr.strip().splitlines()[-1]
