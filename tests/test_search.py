"""Search: Optuna studies of real runs on SQLite and on a real PostgreSQL server, with workers
killed by SIGKILL mid-trial."""

from __future__ import annotations

import copy
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import optuna
import psycopg
import pytest
import yaml
from optuna.trial import TrialState

from fmnist import api
from fmnist.errors import ConfigError
from fmnist.runs import RunDir

PASSWORD = "fmnist-test-pw"
# A little slower than the shipped `tiny` space, so that a test can kill a worker mid-trial and the
# surviving worker still has trials to start after the heartbeat grace period has passed.
SLOW_SPACE = {
    "description": "an MLP trial of a few seconds",
    "base": {
        "config": {
            "model": {"name": "mlp", "hidden": [64]},
            "data": {"train_subset": 10000, "val_size": 500},
            "train": {"epochs": 8, "batch_size": 128},
        }
    },
    "params": {
        "optim.lr": {"float": [0.0003, 0.03], "log": True},
        "model.activation": {"categorical": ["relu", "tanh"]},
    },
}


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert found, "PostgreSQL is missing: apt-get install postgresql (.ci/run does)"
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A real PostgreSQL server on 127.0.0.1 with password authentication, stopped afterwards.

    As root, the server runs as the postgres user (it refuses root) in a folder it owns."""
    bin_dir, port = _pg_bin(), _free_port()
    base = Path(tempfile.mkdtemp(prefix="fmnist-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data, password_file = base / "data", base / "password"
    password_file.write_text(PASSWORD)
    if as_postgres:
        base.chmod(0o755)
        shutil.chown(base, "postgres")
        shutil.chown(password_file, "postgres")
    run = lambda *cmd: subprocess.run([*as_postgres, *cmd], check=True, capture_output=True)  # noqa: E731
    run(
        bin_dir / "initdb",
        "-D",
        data,
        "-U",
        "fmnist",
        f"--pwfile={password_file}",
        "--auth=scram-sha-256",
        "-E",
        "UTF8",
    )
    server = f"-h 127.0.0.1 -p {port} -k {data}"
    run(bin_dir / "pg_ctl", "-D", data, "-l", base / "log", "-o", server, "-w", "start")
    try:
        dsn = f"host=127.0.0.1 port={port} user=fmnist password={PASSWORD} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute("CREATE DATABASE search")
        yield f"postgresql+psycopg://fmnist:{PASSWORD}@127.0.0.1:{port}/search"
    finally:
        run(bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


def search_cmd(space: Path | str, study: str, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "fmnist",
        "search",
        "run",
        str(space),
        "--study",
        study,
        "--out",
        str(out),
        "-q",
        *extra,
    ]


def trial_records(root: Path) -> dict[int, dict]:
    records = (RunDir(p).read_trial() for p in sorted(root.glob("trial-*")))
    return {r["trial"]: r for r in records if r is not None}


def test_a_search_on_sqlite_scores_trials_on_validation_and_reports_the_best_on_test(tmp_path):
    result = api.search("tiny", study="demo", trials=3, out=tmp_path, verbose=False)
    assert sum(result.states.get(s, 0) for s in ("complete", "pruned")) >= 3
    root = tmp_path / "search" / "demo"
    assert (root / "study.db").is_file()
    # The first trial is the space's own base configuration: the search is compared with it.
    first = trial_records(root)[0]["params"]
    assert (first["optim.lr"], first["optim.name"], first["model.hidden"]) == (0.001, "adam", [64])
    for number, record in trial_records(root).items():
        run = RunDir(root / f"trial-{number:04d}")
        # A trial never reads the test set: no test score, no test predictions.
        assert run.read_summary()["test_accuracy"] is None
        assert run.read_test_predictions() is None
        assert record["study"] == "demo" and record["state"] in ("complete", "pruned")
    best = max(
        (r for r in trial_records(root).values() if r["state"] == "complete"),
        key=lambda r: r["value"],
    )
    assert best["value"] == pytest.approx(result.best_value)
    assert best["params"] == result.best_params

    report = api.search_report("demo", seeds=1, out=tmp_path, verbose=False)
    html = report.read_text()
    assert "Best configuration on test" in html and "Parameter importances" in html
    best_trial = max(trial_records(root).values(), key=lambda r: r.get("value") or 0)["trial"]
    retrained = RunDir(root / f"best-trial-{best_trial:04d}" / "seed0").read_summary()
    assert 0.5 < retrained["test_accuracy"] <= 1
    # The retrained best is a normal run; the trials stay out of results tables.
    assert [row["n"] for row in api.table(root).rows] == [1]


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"params": {"optim.lrr": {"float": [0.1, 1]}}}, "unknown config field 'optim.lrr'"),
        ({"params": {"optim.lr": {"float": [1, 0.1]}}}, "low must be below high"),
        ({"params": {"optim.lr": {"float": [0, 1], "log": True}}}, "log scale needs low > 0"),
        ({"params": {"optim.lr": {"float": [0.1, 1], "int": [1, 2]}}}, "give one of"),
        ({"params": {"model.hidden": {"categorical": ["x"]}}}, "model 'cnn' has no option"),
        ({"params": {}}, "params"),
    ],
)
def test_a_bad_space_fails_with_one_line_before_any_trial(tmp_path, space, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"description": "bad", **space}))
    with pytest.raises(ConfigError, match=message) as info:
        api.search(path, study="bad", trials=1, out=tmp_path, verbose=False)
    assert "\n" not in str(info.value)
    assert not list(tmp_path.glob("search/bad/trial-*"))


def test_an_unreachable_database_or_a_wrong_password_is_one_line_and_exit_code_2(
    tmp_path, postgres_url
):
    wrong_password = postgres_url.replace(PASSWORD, "not-the-password")
    nobody_listens = f"postgresql+psycopg://fmnist:pw@127.0.0.1:{_free_port()}/search"
    for url in (wrong_password, nobody_listens):
        result = subprocess.run(
            search_cmd("tiny", "bad", tmp_path, "--storage", url), capture_output=True, text=True
        )
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: cannot open the study storage")
        assert "not-the-password" not in result.stderr  # the password is never printed
    assert not (tmp_path / "search").exists()  # nothing half-written


def test_two_workers_share_a_postgres_study_and_a_killed_trial_is_failed_and_retried(
    tmp_path, postgres_url
):
    space = tmp_path / "slow.yaml"
    space.write_text(yaml.safe_dump(SLOW_SPACE))
    total = 8
    cmd = search_cmd(
        space,
        "kill",
        tmp_path,
        "--storage",
        postgres_url,
        "--trials",
        str(total),
        "--pruner",
        "none",
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    root = tmp_path / "search" / "kill"
    victim = _wait_for_a_trial_mid_training(root, workers)
    pid = int(victim["worker"].split(":")[1])
    os.kill(pid, signal.SIGKILL)
    (survivor,) = [w for w in workers if w.pid != pid]
    _, err = survivor.communicate(timeout=600)
    assert survivor.returncode == 0, err[-3000:]

    trials = optuna.load_study(study_name="kill", storage=postgres_url).get_trials()
    states = {t.number: t.state for t in trials}
    assert states[victim["trial"]] == TrialState.FAIL
    assert TrialState.RUNNING not in states.values()
    assert sum(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states.values()) >= total
    # Every finished trial is in the database with its run directory's value.
    records = trial_records(root)
    for t in trials:
        if t.state == TrialState.COMPLETE:
            assert records[t.number]["state"] == "complete"
            assert records[t.number]["value"] == pytest.approx(t.value)
    assert records[victim["trial"]]["state"] == "failed"
    # Failed while the study still needed trials, the killed trial ran again with its parameters;
    # failed after the total was reached, nothing was queued.
    assert TrialState.WAITING not in states.values()
    victim_params = next(t.params for t in trials if t.number == victim["trial"])
    for retry in (t for t in trials if t.system_attrs.get("failed_trial") == victim["trial"]):
        assert retry.state == TrialState.COMPLETE and retry.params == victim_params


def _wait_for_a_trial_mid_training(root: Path, workers, timeout: float = 300) -> dict:
    """A running trial that has finished at least one epoch (its worker is inside fit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in trial_records(root).values():
            run = RunDir(root / f"trial-{record['trial']:04d}")
            if record["state"] == "running" and run.read_metrics():
                return record
        stopped = [w for w in workers if w.poll() is not None]
        assert not stopped, f"a worker stopped before the kill: {stopped[0].stderr.read()[-3000:]}"
        time.sleep(0.05)
    raise AssertionError(f"no trial reached its first epoch within {timeout} s")


def test_search_report_of_an_unknown_study_says_how_to_start_one(tmp_path):
    with pytest.raises(ConfigError, match="no study 'nope'.*fmnist search run"):
        api.search_report("nope", out=tmp_path)


def test_trial_records_are_json_that_name_their_worker(tmp_path):
    api.search("tiny", study="w", trials=1, out=tmp_path, verbose=False)
    (record,) = trial_records(tmp_path / "search" / "w").values()
    host, pid = record["worker"].split(":")
    assert host == socket.gethostname() and int(pid) == os.getpid()
    assert json.loads(json.dumps(record)) == record


def test_a_diverging_trial_is_recorded_and_the_search_goes_on(tmp_path):
    space = tmp_path / "wild.yaml"
    wild = {
        **SLOW_SPACE,
        "params": {"optim.lr": {"float": [9.0, 10.0]}},
        "set": {"optim.name": "sgd"},
    }
    wild["base"]["config"]["train"] = {"epochs": 2, "batch_size": 128}
    space.write_text(yaml.safe_dump(wild))
    result = api.search(space, study="wild", trials=2, out=tmp_path, pruner="none", verbose=False)
    assert result.states == {"pruned": 2}
    states = {r["state"] for r in trial_records(tmp_path / "search" / "wild").values()}
    assert states == {"diverged"}


def test_a_trial_that_cannot_fit_the_time_budget_stops_after_its_first_epoch_and_says_so(tmp_path):
    space = tmp_path / "budget.yaml"
    # No real trial trains an epoch in a microsecond: each is stopped after its first epoch.
    space.write_text(yaml.safe_dump({**SLOW_SPACE, "time_budget_s": 1e-6}))
    result = api.search(space, study="b", trials=2, out=tmp_path, pruner="none", verbose=False)
    assert result.states == {"pruned": 2}
    for record in trial_records(tmp_path / "search" / "b").values():
        assert record["state"] == "pruned" and record["epochs"] == 1
        assert record["why"].startswith("over the time budget")


def test_the_time_budget_projects_the_last_epochs_pace_not_the_first_epochs_one_off_costs():
    from fmnist.search.study import TimeBudget

    compiled = TimeBudget(seconds=50, epochs=5)
    compiled.check({"epoch": 1, "seconds": 30.0})  # a 25 s compile in epoch 1: not projected
    compiled.check({"epoch": 2, "seconds": 35.0})  # 35 + 3 x 5 = 50 s: fits
    slow = TimeBudget(seconds=50, epochs=5)
    slow.check({"epoch": 1, "seconds": 12.0})
    with pytest.raises(optuna.TrialPruned, match="over the time budget: 60 s projected"):
        slow.check({"epoch": 2, "seconds": 24.0})  # 24 + 3 x 12 = 60 s
    with pytest.raises(optuna.TrialPruned, match="after epoch 1"):
        TimeBudget(seconds=50, epochs=5).check({"epoch": 1, "seconds": 51.0})


def test_a_grid_search_runs_each_point_once(tmp_path):
    space = tmp_path / "grid.yaml"
    grid = {
        **copy.deepcopy(SLOW_SPACE),
        "params": {"model.activation": {"categorical": ["relu", "tanh"]}},
    }
    grid["base"]["config"]["train"] = {"epochs": 1, "batch_size": 128}
    space.write_text(yaml.safe_dump(grid))
    api.search(space, study="g", trials=10, sampler="grid", out=tmp_path, verbose=False)
    params = [r["params"] for r in trial_records(tmp_path / "search" / "g").values()]
    assert sorted(p["model.activation"] for p in params) == ["relu", "tanh"]


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_workers_started_at_once_on_a_fresh_database_all_open_it(backend, request, tmp_path):
    """Each worker checks for Optuna's tables and creates them: started together on an empty
    database they race, and every one of them must still get the storage."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from fmnist.search.study import open_storage

    if backend == "sqlite":
        fresh = f"sqlite:///{tmp_path / 'study.db'}"
    else:
        server = request.getfixturevalue("postgres_url").rsplit("/", 1)[0]
        dsn = server.replace("postgresql+psycopg", "postgresql") + "/postgres"
        name = f"fresh_{uuid.uuid4().hex[:8]}"  # a new, empty database on every run
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        fresh = f"{server}/{name}"
    workers = 6
    start = Barrier(workers)

    def open_at_once(_):
        start.wait()
        return open_storage(fresh, root=None)

    with ThreadPoolExecutor(workers) as pool:
        storages = list(pool.map(open_at_once, range(workers)))
    assert len(storages) == workers
    assert storages[0].get_all_studies() == []


def test_two_grid_workers_run_each_point_once_and_a_killed_trials_point_again(tmp_path):
    """Two workers on one grid: no point runs twice, and the point of the trial whose worker was
    killed is queued again and run, without a traceback. (Optuna's own grid sampler queued no
    retry here: it ran the killed point again as a grid point of its own.)"""
    space = tmp_path / "grid.yaml"
    grid = {
        **copy.deepcopy(SLOW_SPACE),
        "params": {
            "model.activation": {"categorical": ["relu", "tanh"]},
            "model.hidden": {"categorical": [[64], [32]]},
        },
    }
    space.write_text(yaml.safe_dump(grid))
    cmd = search_cmd(space, "grid", tmp_path, "--sampler", "grid", "--pruner", "none")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    root = tmp_path / "search" / "grid"
    victim = _wait_for_a_trial_mid_training(root, workers)
    pid = int(victim["worker"].split(":")[1])
    os.kill(pid, signal.SIGKILL)
    (survivor,) = [w for w in workers if w.pid != pid]
    _, err = survivor.communicate(timeout=600)
    assert survivor.returncode == 0 and "Traceback" not in err, err[-3000:]

    study = optuna.load_study(study_name="grid", storage=f"sqlite:///{root / 'study.db'}")
    trials = study.get_trials()
    done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    points = sorted((t.params["model.activation"], t.params["model.hidden"]) for t in done)
    assert points == [("relu", "[32]"), ("relu", "[64]"), ("tanh", "[32]"), ("tanh", "[64]")]
    assert [t.number for t in trials if t.state == TrialState.FAIL] == [victim["trial"]]
    (retry,) = [t for t in done if t.system_attrs.get("failed_trial") == victim["trial"]]
    assert retry.params == next(t.params for t in trials if t.number == victim["trial"])
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]


def test_a_grid_worker_joining_a_study_with_a_killed_trial_runs_its_point_again(
    tmp_path, monkeypatch
):
    """A worker whose study holds a trial killed mid-run (its heartbeat stopped) runs that
    point again and every other point once. Optuna's grid sampler ran the killed base
    configuration's point twice here and, before Optuna 5.1, stopped with KeyError: 'grid_id'."""
    from fmnist.search import study as study_module
    from fmnist.search.space import load_space

    monkeypatch.setattr(study_module, "HEARTBEAT_S", 1)
    monkeypatch.setattr(study_module, "GRACE_S", 2)
    space = tmp_path / "grid.yaml"
    grid = {
        **copy.deepcopy(SLOW_SPACE),
        "params": {"model.activation": {"categorical": ["relu", "tanh"]}},
    }
    grid["base"]["config"]["train"] = {"epochs": 2, "batch_size": 128}
    grid["base"]["config"]["model"]["activation"] = "relu"  # on the grid: the first trial
    space.write_text(yaml.safe_dump(grid))
    first = study_module.open_study("g", load_space(space), out=tmp_path, sampler="grid")
    killed = first.ask()  # a worker took the first trial, wrote one heartbeat and was killed
    first._storage.record_heartbeat(killed._trial_id)
    api.search(space, study="g", sampler="grid", out=tmp_path, verbose=False)

    trials = first.get_trials()
    done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert sorted(t.params["model.activation"] for t in done) == ["relu", "tanh"]
    assert [t.number for t in trials if t.state == TrialState.FAIL] == [killed.number]


def test_a_grid_study_refuses_a_worker_with_another_sampler_in_one_line(tmp_path):
    """A grid study runs its queued points only: a TPE worker would run points off the grid, and a
    grid worker on a TPE study would find nothing queued and do nothing."""
    from fmnist.search.space import load_space
    from fmnist.search.study import open_study

    path = tmp_path / "grid.yaml"
    path.write_text(
        yaml.safe_dump(
            {**SLOW_SPACE, "params": {"model.activation": {"categorical": ["relu", "tanh"]}}}
        )
    )
    space = load_space(path)
    open_study("g", space, out=tmp_path, sampler="grid", verbose=False)
    with pytest.raises(ConfigError, match="made with --sampler grid, not tpe") as info:
        open_study("g", space, out=tmp_path, sampler="tpe", verbose=False)
    assert "\n" not in str(info.value) and "pass --sampler grid" in str(info.value)
