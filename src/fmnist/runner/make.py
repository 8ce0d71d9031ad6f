"""Making: the one function that turns a ``RunSpec`` into a finished run folder.

    make_run(spec)  lock the folder -> finished? skip : interrupted? resume : make it, record
                    which recipe or trial it is, train (a net by its Trainer, a baseline by
                    scikit-learn) -> summary.json

``fmnist train``, ``fmnist run`` (one run or a sweep's many, in order or at once), search trials
and scikit-learn baselines all come here, so a run is made the same way whoever asks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from fmnist.baselines import BaselineRunConfig
from fmnist.config import RunConfig, get_dotted
from fmnist.errors import ConfigError
from fmnist.runner.resolve import RunSpec, differs_from, quick_overrides
from fmnist.runs import RunDir

LOCK = ".lock"  # inside the run folder while a process makes it; removed once it is finished


def make_run(
    spec: RunSpec, *, verbose: bool = True, on_epoch: Callable[[dict], None] | None = None
) -> str:
    """Make the run ``spec`` describes: skip it if finished, resume it if interrupted, else make
    its folder and train it. Returns 'skipped', 'resumed' or 'trained'.

    One process at a time makes a run folder: another given the same run (a second ``fmnist run``
    of the recipe) waits, then skips it. ``on_epoch``: the trainer's per-epoch callback (a search
    trial reports to its pruner)."""
    require_device(spec)
    run = RunDir.make(spec.path)
    with _locked(run):
        state = run_state(spec, run)
        if state == "skipped":
            return state
        if state == "trained":
            _write_records(spec, run)
        _train(spec, run, resume=state == "resumed", verbose=verbose, on_epoch=on_epoch)
    return state


def require_device(spec: RunSpec) -> None:
    """Refuse a run whose ``train.device`` this machine lacks (``cuda`` here, ``mps`` off a Mac)
    before its folder is made. A baseline trains on the CPU: nothing to check."""
    if isinstance(spec.config, RunConfig):
        from fmnist.training.hardware import resolve_device

        resolve_device(spec.config.train.device)


def run_state(spec: RunSpec, run: RunDir) -> str:
    """What ``make_run`` does with the folder: 'skipped' (finished), 'resumed' (interrupted) or
    'trained' (new); refuses a folder holding a run of another config, or other files."""
    if not run.is_run:
        _require_empty(run.path)
        return "trained"
    stored = run.read_config()
    key = differs_from(spec, stored)
    if key is not None:
        there, now = get_dotted(stored, key), get_dotted(spec.config_dict, key)
        raise ConfigError(
            f"{spec.path} holds a run with a different config"
            f" ({key}: {there!r} there, {now!r} now)",
            fix="delete that folder or choose another --out",
        )
    return "skipped" if run.is_complete else "resumed"


def _require_empty(path: Path) -> None:
    """A folder without config.yaml may hold only what a crash before it left (empty folders, the
    lock); a file of anything else is refused, never trained over."""
    if any(p.is_file() and p.name != LOCK for p in path.rglob("*")):
        raise ConfigError(
            f"{path} exists but is not a run directory (no config.yaml)",
            fix="move it away or choose another --out",
        )


@contextmanager
def _locked(run: RunDir) -> Iterator[None]:
    """An exclusive lock on ``.lock`` inside the run folder. ``filelock`` takes the OS's own lock
    (flock on Linux and macOS, LockFileEx on Windows), which goes when its process dies, so a
    killed run is resumed, not waited on. It spans machines only where a shared folder's file
    system honours it (NFSv4 does flock). The file is removed once the run is finished: a process
    still waiting on it then finds the run finished and skips it."""
    lock_path = run.path / LOCK
    lock = FileLock(lock_path)
    try:
        lock.acquire(blocking=False)
    except Timeout:  # said even with --quiet: a silent wait looks like a hang
        print(f"waiting: another process is making {run.path}", file=sys.stderr, flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
        if run.is_complete:
            with suppress(OSError):  # Windows: a waiting process has it open; filelock removes it
                lock_path.unlink(missing_ok=True)


def _write_records(spec: RunSpec, run: RunDir) -> None:
    """Which recipe, point and study a recipe's run belongs to (recipe.json), or a search trial's
    record (trial.json), written once, when the run is made."""
    if spec.trial is not None:
        run.write_trial(spec.trial)
    if spec.recipe is not None:
        run.write_recipe(_recipe_record(spec))


def _recipe_record(spec: RunSpec) -> dict[str, Any]:
    recipe, point = spec.recipe, spec.point
    return {
        "name": recipe.name,
        "study": recipe.study,
        "description": recipe.description,
        "point": point.name or None,
        "reported": point.reported,
        "reported_val": point.reported_val,
        "recipe_reported": recipe.reported,
        "seed": spec.seed,
        "fold": spec.fold,
        "folds": recipe.folds,
        "quick": spec.quick,
        "quick_overrides": quick_overrides(recipe) if spec.quick else None,
    }


def _train(
    spec: RunSpec,
    run: RunDir,
    *,
    resume: bool,
    verbose: bool,
    on_epoch: Callable[[dict], None] | None,
) -> None:
    if isinstance(spec.config, BaselineRunConfig):
        from fmnist.baselines import train_baseline

        train_baseline(spec.config, run, verbose=verbose)  # no checkpoints: refitted whole
        return
    from fmnist.training.fit import fit_run, resume_run

    if resume:
        resume_run(run, verbose=verbose)
    else:
        fit_run(spec.config, run, verbose=verbose, test=spec.trial is None, on_epoch=on_epoch)
