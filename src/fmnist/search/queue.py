"""Spread a recipe's runs over workers on many machines through one study database.

``fmnist run RECIPE --storage URL``, started on several machines, makes every run of the recipe's
plan exactly once: the worker that creates the study ``fmnist-run:<recipe folder>`` queues each run
as a waiting trial; every worker pops queued trials (a row-locked state change in the database, so
no run is popped twice) and makes that run as ``fmnist run`` does (skip, resume or train). A worker
killed mid-run stops sending heartbeats; another worker marks its trial failed and queues the run
again, and whoever pops it resumes it from its last checkpoint where the runs folder is shared
(trains it again elsewhere). Run folders are written on the machine that made them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from fmnist.errors import ConfigError
from fmnist.runner.make import make_run
from fmnist.runner.resolve import RunSpec
from fmnist.search.study import HEARTBEAT_S, WORKER, open_storage

COMPLETE = (TrialState.COMPLETE,)
PLAN_WAIT_S = 120  # how long a joining worker waits for the creating worker to queue the plan


class _QueueEmpty(Exception):
    """Optuna made a fresh trial because another worker popped the last queued run first."""


def run_shared(
    jobs: list[RunSpec],
    *,
    name: str,
    storage: str,
    out: str | Path,
    verbose: bool = True,
    on_job: Callable[[RunSpec, str], None] | None = None,
) -> list[tuple[RunSpec, str]]:
    """Make this worker's share of ``jobs``; returns when every run of the plan is made (by any
    worker) and none is running."""
    keys = {_key(job, out): job for job in jobs}
    study = _open(f"fmnist-run:{name}", storage, keys)
    results: list[tuple[RunSpec, str]] = []

    def objective(trial: optuna.Trial) -> float:
        fixed = _queued_run(trial)
        if fixed is None:
            raise _QueueEmpty
        job = keys[fixed]
        trial.set_user_attr("run", fixed)
        trial.set_user_attr("worker", WORKER)
        results.append((job, make_run(job, verbose=verbose)))
        if on_job:
            on_job(*results[-1])
        return 1.0  # a queue, not an optimisation: every run is worth the same

    # Optuna logs a caught _QueueEmpty (a harmless race) with its traceback at WARNING.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    while True:
        optuna.storages.fail_stale_trials(study)
        if study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            study.optimize(objective, n_trials=1, catch=(_QueueEmpty,))
        elif study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            time.sleep(HEARTBEAT_S)  # another worker's run: it finishes, or goes stale and returns
        else:
            _check_all_made(study, keys)
            return results


def _check_all_made(study: optuna.Study, keys: dict[str, RunSpec]) -> None:
    """Every run of the plan finished, or one clear error naming those that failed for good."""
    done = {t.user_attrs.get("run") for t in study.get_trials(deepcopy=False, states=COMPLETE)}
    missing = sorted(set(keys) - done)
    if missing:
        raise ConfigError(
            f"{len(missing)} run(s) of study '{study.study_name}' failed on every try: "
            + ", ".join(missing[:5])
            + (" ..." if len(missing) > 5 else ""),
            fix="see the error in the worker's output; then make them on one machine with the "
            "same fmnist run command without --storage (finished runs are skipped)",
        )


def _queued_run(trial: optuna.Trial) -> str | None:
    """The run a popped trial was queued with; None for a fresh trial (nothing was queued)."""
    (frozen,) = (t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number)
    return frozen.system_attrs.get("fixed_params", {}).get("run")


def _key(job: RunSpec, out: str | Path) -> str:
    return job.path.relative_to(out).as_posix()


def _open(name: str, storage: str, keys: dict[str, RunSpec]) -> optuna.Study:
    """Create the study and queue the plan, or join it when another worker did (same plan)."""
    configs = {k: job.config_dict for k, job in sorted(keys.items())}
    plan = hashlib.sha256(json.dumps(configs, sort_keys=True).encode()).hexdigest()[:16]
    storage_obj = open_storage(storage, root=None)
    try:
        study = optuna.create_study(study_name=name, storage=storage_obj, direction="maximize")
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage_obj)
        _wait_for_plan(study, plan, configs)
        return study
    for key in sorted(keys):
        study.enqueue_trial({"run": key})
    study.set_user_attr("plan_configs", configs)  # before "plan": a joining worker reads both
    study.set_user_attr("plan", plan)
    return study


def _wait_for_plan(study: optuna.Study, plan: str, configs: dict[str, dict[str, Any]]) -> None:
    deadline = time.monotonic() + PLAN_WAIT_S
    while (queued := study.user_attrs.get("plan")) is None:
        if time.monotonic() > deadline:
            raise ConfigError(
                f"study '{study.study_name}' exists but its runs were never queued "
                "(its first worker stopped while queuing them)",
                fix="delete the study (optuna delete-study) and start the workers again",
            )
        time.sleep(1)
    if queued != plan:
        difference = _plan_difference(study.user_attrs.get("plan_configs", {}), configs)
        raise ConfigError(
            f"study '{study.study_name}' queued other runs ({difference})",
            fix="start every worker with the same command on machines of one kind (a recipe's "
            "fp32 variant differs from its bf16 runs), or use another recipe folder (--out)",
        )


def _plan_difference(queued: dict[str, dict[str, Any]], mine: dict[str, dict[str, Any]]) -> str:
    """The first thing that differs between the queued plan and this worker's, in words."""
    if queued.keys() != mine.keys():
        extra = sorted(mine.keys() - queued.keys()) or sorted(queued.keys() - mine.keys())
        where = "here, not in the queued plan" if mine.keys() - queued.keys() else "queued only"
        return f"run {extra[0]} {where}: another --seeds or --quick"
    for key in sorted(mine):
        theirs, ours = _dotted(queued[key]), _dotted(mine[key])
        for field in sorted(theirs.keys() | ours.keys()):
            if theirs.get(field) != ours.get(field):
                return (
                    f"run {key}: {field} is {theirs.get(field)!r} in the queued plan, "
                    f"{ours.get(field)!r} here"
                )
    return "another --seeds, --quick or --set"


def _dotted(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as ``{"train.epochs": 10, ...}``, the names ``--set`` takes."""
    out: dict[str, Any] = {}
    for name, value in tree.items():
        if isinstance(value, dict):
            out.update(_dotted(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out
