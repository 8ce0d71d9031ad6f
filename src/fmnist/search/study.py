"""Optuna studies over fmnist runs: any number of worker processes, on any number of machines,
cooperate on one study through one database.

    OUT/search/<study>/study.db          the default storage (SQLite), beside the trials
    OUT/search/<study>/trial-0007/       each trial is a normal run directory (+ trial.json)

The objective is validation accuracy only: a trial never reads the test set. Pruning reports each
epoch's validation accuracy to the pruner (the trainer's per-epoch callback). ``--trials N`` is the
study's total over all workers, counting complete and pruned trials. Heartbeats are on: a worker
killed with SIGKILL leaves its trial running only until another worker (asking for its next trial,
or waiting at the end for running trials) marks it failed; while the study still needs trials, a
retry with the same parameters is queued and runs next.

``--sampler grid`` queues every point of the grid as a trial when the study is made (the base
configuration's point first): a queued trial is taken by one worker only (a row-locked state
change in the database), so each point runs once however many workers share the study, and a
killed trial's point is queued again like any other. Optuna's GridSampler chose points itself and
could give two workers the same one.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import re
import socket
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from filelock import FileLock
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from fmnist.config import RunConfig
from fmnist.errors import ConfigError, TrainingDiverged
from fmnist.runner.resolve import RunSpec
from fmnist.runs import RunDir, redact
from fmnist.schema import get_dotted
from fmnist.search.space import SearchSpace, base_values, decode, trial_config

HEARTBEAT_S = 5  # a running trial writes a heartbeat this often
GRACE_S = 20  # ... and is failed by another worker this long after its last one
MAX_RETRY = 2  # a trial failed that way is queued again this many times at most
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
TABLE_CREATION_LOCK = 0x666D6E697374  # the advisory lock's key ("fmnist" in ASCII)
WORKER = f"{socket.gethostname()}:{os.getpid()}"  # recorded with each trial: who runs it


def study_root(out: str | Path, study: str) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", study):
        raise ConfigError(
            "a study name is not a plain folder name",
            allowed="letters, digits, '.', '_' and '-'",
            got=study,
        )
    return Path(out) / "search" / study


def open_study(
    name: str,
    space: SearchSpace,
    *,
    out: str | Path = "runs",
    storage: str | None = None,
    sampler: str = "tpe",
    pruner: str = "median",
    verbose: bool = True,
) -> optuna.Study:
    """Create the study, or join it when another worker made it with the same space."""
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)
    root = study_root(out, name)
    sampler_obj, pruner_obj = _sampler(sampler, space), _pruner(pruner)
    if storage is None:
        root.mkdir(parents=True, exist_ok=True)  # for the SQLite file; a server makes no folder yet
    study = optuna.create_study(
        study_name=name,
        storage=open_storage(storage or f"sqlite:///{(root / 'study.db').resolve()}", root),
        sampler=sampler_obj,
        pruner=pruner_obj,
        direction="maximize",
        load_if_exists=True,
    )
    recorded = study.user_attrs.get("space")
    if recorded is None:
        study.set_user_attr("space", space.model_dump(mode="json", by_alias=True))
        study.set_user_attr("sampler", sampler)
        for values in _first_trials(space, grid=sampler == "grid"):
            study.enqueue_trial(values, skip_if_exists=True)
    elif recorded != space.model_dump(mode="json", by_alias=True):
        raise ConfigError(
            f"study '{name}' in this storage searches another space ('{recorded['name']}')",
            fix="choose another --study name, or run the space the study was made with",
        )
    _check_sampler(study, sampler)
    return study


def _first_trials(space: SearchSpace, *, grid: bool) -> list[dict[str, Any]]:
    """The trials a new study queues: the hand-made config (so the search is compared with it);
    for a grid, every point, the hand-made one first."""
    first = base_values(space)
    if not grid:
        return [first]
    choices = [dist.choices for dist in space.params.values()]
    points = [dict(zip(space.params, values)) for values in itertools.product(*choices)]
    return sorted(points, key=lambda point: point != first)


def _check_sampler(study: optuna.Study, sampler: str) -> None:
    """A grid study runs its queued points only, and another sampler's study has none queued: a
    worker with another sampler would do nothing, or run points off the grid."""
    made = study.user_attrs.get("sampler")  # None: made before the sampler was recorded
    if made is not None and made != sampler and "grid" in (made, sampler):
        raise ConfigError(
            f"study '{study.study_name}' was made with --sampler {made}, not {sampler}",
            fix=f"pass --sampler {made}, or choose another --study name",
        )


def load_study(name: str, *, out: str | Path = "runs", storage: str | None = None) -> optuna.Study:
    """An existing study, from ``storage`` (default: the SQLite file in its folder)."""
    root = study_root(out, name)
    url = storage or f"sqlite:///{(root / 'study.db').resolve()}"
    if storage is None and not (root / "study.db").is_file():
        raise ConfigError(
            f"no study '{name}' under {root.parent}",
            fix="pass the --out and --storage the search ran with, or start it: fmnist search run",
        )
    try:
        return optuna.load_study(study_name=name, storage=open_storage(url, root))
    except KeyError:
        raise ConfigError(
            f"no study '{name}' in {redact(url)}",
            fix="check the study name (fmnist search run ... --study NAME)",
        ) from None


def run_worker(
    study: optuna.Study,
    space: SearchSpace,
    *,
    out: str | Path = "runs",
    trials: int | None = None,
    verbose: bool = True,
) -> None:
    """Run trials until the study holds its total of complete or pruned trials (``trials``, else
    the total it was given before, else the space's), however many workers share it; then wait
    until no trial runs anywhere, so the study is finished when this returns."""
    total = trials or study.user_attrs.get("trials") or space.trials
    grid = isinstance(study.sampler, GridQueue)
    if grid:  # each grid point once
        total = min(total, math.prod(len(d.categorical) for d in space.params.values()))
        logging.getLogger("optuna.study._optimize").addFilter(_QUIET_GRID_DONE)
    study.set_user_attr("trials", total)
    objective = partial(_objective, space, study_root(out, study.study_name), verbose)
    while True:
        while _needs_trials(study, total, grid):
            # a queued trial first (a retry, a grid point), else a new one
            study.optimize(objective, n_trials=1, catch=(GridDone,))
        _settle(study)
        if not _needs_trials(study, total, grid):  # else a trial failed meanwhile was queued again
            return


def _needs_trials(study: optuna.Study, total: int, grid: bool) -> bool:
    """The study has fewer than ``total`` complete or pruned trials, and a grid has a point
    queued (a point failed on every try is not run again)."""
    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    return counted(study) < total and (bool(waiting) or not grid)


def counted(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def _settle(study: optuna.Study) -> None:
    """Wait while trials run: live workers finish theirs; a dead worker's trial is failed once its
    last heartbeat is GRACE_S old."""
    while study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        time.sleep(HEARTBEAT_S)
        optuna.storages.fail_stale_trials(study)


def trial_states(study: optuna.Study) -> dict[str, int]:
    """How many trials are in each state ('complete', 'pruned', 'fail', ...), states with none
    left out."""
    counts = {state.name.lower(): 0 for state in TrialState}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name.lower()] += 1
    return {state: n for state, n in counts.items() if n}


def standing(study: optuna.Study) -> dict[str, Any]:
    """Trials by state, and the best trial's validation accuracy and parameters so far."""
    states = trial_states(study)
    best = study.best_trial if states.get("complete") else None
    params = {k: decode(v) for k, v in best.params.items()} if best else {}
    return {"states": states, "best_value": best.value if best else None, "best_params": params}


def _objective(space: SearchSpace, root: Path, verbose: bool, trial: optuna.Trial) -> float:
    from fmnist.runner.make import make_run
    from fmnist.training.hardware import this_machine

    values = suggest(trial, space)
    name = f"{root.name}:trial-{trial.number:04d}"
    cfg = RunConfig.model_validate({**trial_config(space, values, this_machine()), "name": name})
    record = {
        "study": root.name,
        "trial": trial.number,
        "params": values,
        "state": "running",
        "worker": WORKER,
    }
    spec = RunSpec(cfg, root / f"trial-{trial.number:04d}", trial=record)
    run = RunDir(spec.path)
    try:
        seconds = space.time_budget_s
        budget = None if seconds is None else TimeBudget(seconds, cfg.train.epochs)
        make_run(spec, verbose=verbose, on_epoch=partial(_report, trial, budget))
    except optuna.TrialPruned as exc:
        epochs = len(run.read_metrics())
        run.write_trial({**record, "state": "pruned", "epochs": epochs, "why": str(exc)})
        raise
    except TrainingDiverged as exc:
        # A configuration that diverges is a bad one, not a broken worker: the search goes on.
        run.write_trial({**record, "state": "diverged", "why": str(exc)})
        raise optuna.TrialPruned(f"diverged: {exc}") from None
    value = run.kept_val_accuracy()
    if value is None:  # load_space refuses a space without validation; a user's --set might not
        raise ConfigError(f"{run.path} has no validation score", fix="keep data.val_size > 0")
    run.write_trial({**record, "state": "complete", "value": value})
    return value


def _report(trial: optuna.Trial, budget: TimeBudget | None, row: dict[str, Any]) -> None:
    """Give the pruner this epoch's validation score; stop a trial that will not fit the budget or
    that the pruner finds behind earlier trials."""
    if row.get("val_accuracy") is not None:
        trial.report(row["val_accuracy"], row["epoch"])
    if budget is not None:
        budget.check(row)
    if row.get("val_accuracy") is not None and trial.should_prune():
        raise optuna.TrialPruned(f"pruned after epoch {row['epoch']}")


class TimeBudget:
    """Prunes a trial whose training will not finish within ``seconds``. The projection is the
    time so far plus the remaining epochs at the last epoch's pace: the first epoch's one-off costs
    (compiling, warming up) count once, not once an epoch, so after epoch 1 only a trial already
    past the budget stops."""

    def __init__(self, seconds: float, epochs: int) -> None:
        self.seconds, self.epochs, self.previous = seconds, epochs, None

    def check(self, row: dict[str, Any]) -> None:
        elapsed, epoch = row["seconds"], row["epoch"]
        pace = None if self.previous is None else elapsed - self.previous
        self.previous = elapsed
        projected = elapsed + (self.epochs - epoch) * (pace or 0.0)
        if projected > self.seconds:
            raise optuna.TrialPruned(
                f"over the time budget: {projected:.0f} s projected for {self.epochs} epochs"
                f" > {self.seconds:g} s, after epoch {epoch}"
            )


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Sample each parameter whose ``when`` conditions hold (on values sampled before it or on the
    base config)."""
    base = trial_config(space, {})
    values: dict[str, Any] = {}
    for key, dist in space.params.items():
        if all(values.get(k, get_dotted(base, k)) == v for k, v in dist.when.items()):
            values[key] = _sample(trial, key, dist)
    return values


def _sample(trial: optuna.Trial, key: str, dist) -> Any:
    if dist.categorical is not None:
        return decode(trial.suggest_categorical(key, dist.choices))
    if dist.integer is not None:
        low, high = dist.integer
        return trial.suggest_int(key, low, high, step=int(dist.step or 1), log=dist.log)
    low, high = dist.real
    return trial.suggest_float(key, low, high, step=dist.step, log=dist.log)


def open_storage(url: str, root: Path | None) -> RDBStorage:
    """Optuna's storage with heartbeats (``root``: the study folder whose trial records a stale
    trial marks failed)."""
    try:
        with _table_creation_lock(url), warnings.catch_warnings():
            # heartbeats are "experimental" in Optuna since 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(
                url,
                heartbeat_interval=HEARTBEAT_S,
                grace_period=GRACE_S,
                heartbeat_stale_trial_callback=partial(_stale, root),
            )
    except Exception as exc:  # SQLAlchemy and the driver raise many kinds for a bad URL/server
        reason = redact(str(exc).strip().splitlines()[0][:200]) or type(exc).__name__
        raise ConfigError(
            f"cannot open the study storage {redact(url)} ({reason})",
            allowed="sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE",
            fix="check the URL, that the server runs and accepts this user (README: Search)",
        ) from None


@contextmanager
def _table_creation_lock(url: str) -> Iterator[None]:
    """Optuna checks for its tables, then creates them: workers started together on a fresh
    database would all create them and all but one fail. They take turns instead: on PostgreSQL
    under an advisory lock (the server's, so it spans machines; tied to a transaction, so it goes
    with it whatever happens), on SQLite under a lock file beside the database where one can be
    made (a read-only folder needs none: nothing will be created there)."""
    parsed = sqlalchemy.engine.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        engine = sqlalchemy.create_engine(parsed, poolclass=sqlalchemy.pool.NullPool)
        try:
            with engine.begin() as connection:
                # Creating the tables takes a second: a minute's wait means a stuck worker.
                connection.execute(sqlalchemy.text("SET LOCAL lock_timeout = '60s'"))
                lock = sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)")
                connection.execute(lock, {"key": TABLE_CREATION_LOCK})
                yield
        finally:
            engine.dispose()
        return
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        lock = FileLock(f"{parsed.database}.lock")
        try:
            lock.acquire()
        except OSError:  # a folder this process cannot write to
            lock = None
        if lock is not None:
            try:
                yield
            finally:
                lock.release()
            return
    yield


def _stale(root: Path | None, study: optuna.Study, trial: FrozenTrial) -> None:
    """A trial whose worker stopped sending heartbeats (killed, machine lost): queue it again while
    the study still needs trials, and mark its run directory failed
    where this machine holds it."""
    needed = study.user_attrs.get("trials")
    if needed is None or counted(study) < needed:
        RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)(study, trial)
    if root is None:
        return
    run = RunDir(root / f"trial-{trial.number:04d}")
    record = run.read_trial() if run.path.is_dir() else None
    if record is not None:
        run.write_trial({**record, "state": "failed", "why": "its worker stopped (no heartbeat)"})


def _sampler(name: str, space: SearchSpace) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        return optuna.samplers.TPESampler()
    if name == "random":
        return optuna.samplers.RandomSampler()
    if name == "grid":
        plain = all(d.categorical is not None and not d.when for d in space.params.values())
        if not plain:
            raise ConfigError(
                "--sampler grid needs every parameter categorical and unconditional",
                fix="use --sampler tpe or random, or list the values with categorical",
            )
        return GridQueue()
    raise ConfigError("unknown sampler", allowed="tpe, random, grid", got=name)


class GridDone(Exception):
    """A grid worker's trial was not queued: another worker took the last point between this
    worker's look at the queue and its trial."""

    def __init__(self, trial: int) -> None:
        super().__init__(f"trial {trial}: no grid point left (another worker took the last one)")
        self.trial = trial


class GridQueue(optuna.samplers.RandomSampler):
    """``--sampler grid``: the points are queued trials (``open_study``), whose values are fixed,
    so this sampler is never asked for one but by a trial that was not queued."""

    def sample_independent(self, study, trial, param_name, param_distribution) -> Any:
        raise GridDone(trial.number)


class _QuietGridDone(logging.Filter):
    """Optuna logs a failed trial with its traceback, then its value: a grid trial failed for
    ``GridDone`` is a harmless race, neither line is shown."""

    def __init__(self) -> None:
        super().__init__()
        self.trials: set[int] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, GridDone):
            self.trials.add(error.trial)
            return False
        return not any(record.getMessage().startswith(f"Trial {n} failed") for n in self.trials)


_QUIET_GRID_DONE = _QuietGridDone()


def _pruner(name: str) -> optuna.pruners.BasePruner:
    pruners = {
        # Prune below the median of earlier trials at the same epoch, after 3 complete trials.
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1),
        "none": optuna.pruners.NopPruner,
    }
    if name not in pruners:
        raise ConfigError("unknown pruner", allowed=", ".join(pruners), got=name)
    return pruners[name]()
