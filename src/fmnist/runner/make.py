"""Making: the one function that turns a ``RunSpec`` into a finished run folder.

    make_run(spec)  lock the folder -> finished? skip : interrupted? resume : make it, record
                    which recipe or trial it is, train (a net by its Trainer, a baseline by
                    scikit-learn) -> final.pt, the one test evaluation, summary.json

This module imports torch (the trainer's), so the api, sweeps and clusters import it only when a
run is made: resolving a config never loads torch.

``train_net`` trains a net into a prepared run folder, from the start or, for an interrupted run,
from its last checkpoint with the same final weights (``resume_run``); ``recorded_config`` is the
config a finished or interrupted run computes with again.

``fmnist train``, ``fmnist run`` (one run or a sweep's many, in order or at once), search trials
and scikit-learn baselines all come here, so a run is made the same way whoever asks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout

from fmnist.baselines import BaselineRunConfig, train_baseline
from fmnist.config import RunConfig, build_config
from fmnist.data import DeviceSplits
from fmnist.errors import ConfigError
from fmnist.metrics import fit_temperature, softmax, write_summary
from fmnist.models import count_macs, count_params, create_model, model_source
from fmnist.models.layers import fit_to_training_images
from fmnist.models.user import restore as restore_model
from fmnist.runner.resolve import RunSpec, quick_overrides
from fmnist.runs import RunDir
from fmnist.training.hardware import (
    check_memory,
    cpu_features,
    gpu_name,
    pin_precision,
    prepare_device,
    resolve_device,
)
from fmnist.training.record import scores
from fmnist.training.trainer import Trainer, final_checkpoint, save_checkpoint

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
        resolve_device(spec.config.train.device)


def run_state(spec: RunSpec, run: RunDir) -> str:
    """What ``make_run`` does with the folder: 'skipped' (finished), 'resumed' (interrupted) or
    'trained' (new); refuses a folder holding a run of another config, or other files."""
    if not run.is_run:
        _require_empty(run.path)
        return "trained"
    stored, wanted = _read_as_today(run.read_config()), spec.config_dict
    if stored != wanted:
        key, there, now = _first_difference(stored, wanted)
        raise ConfigError(
            f"{spec.path} holds a run with a different config"
            f" ({key}: {there!r} there, {now!r} now)",
            fix="delete that folder or choose another --out",
        )
    return "skipped" if run.is_complete else "resumed"


def _read_as_today(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored config as today's schema reads it: a field added since takes its default, so a new
    option left at its default does not refuse every earlier run."""
    try:
        return build_config(stored).to_dict()
    except ConfigError:  # a field since removed: compared as it is, so it differs
        return stored


def _first_difference(a: Any, b: Any, prefix: str = "") -> tuple[str, Any, Any]:
    """The first dotted field where ``a`` and ``b`` differ, with its two values."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
    return prefix.rstrip(".") or "config", a, b


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
        train_baseline(spec.config, run, verbose=verbose)  # no checkpoints: refitted whole
    else:
        train_net(run, None if resume else spec.config, verbose=verbose, on_epoch=on_epoch)


# -- training a net: build the trainer, fit, save final.pt, test once, write the summary


WHITENING_IMAGES = 2000  # training images a whitening stem's patch covariance is estimated from


def train_net(
    run: RunDir,
    cfg: RunConfig | None = None,
    *,
    verbose: bool = True,
    on_epoch: Callable[[dict], None] | None = None,
) -> RunDir:
    """Train a net into ``run`` and record it: ``cfg`` from the start in a new, empty folder, or
    (``cfg`` None) an interrupted run from its last checkpoint, with the config it recorded and the
    same final weights as an uninterrupted run.

    A search trial (trial.json) never reads the test set: its summary holds validation scores
    only. ``on_epoch`` is the trainer's per-epoch callback (see ``Trainer``).
    """
    new = cfg is not None
    if new:
        run.write_config(cfg.to_dict())
    else:
        cfg = recorded_config(run)
    trainer = _build_trainer(cfg, run, verbose, on_epoch)
    if new:
        run.write_env(
            str(trainer.device),
            cfg.seed,
            hardware=_hardware_record(trainer),
            model_source=model_source(cfg.model.name),
        )
    elif run.last_ckpt.is_file():
        trainer.resume()
    return _finish(trainer, run, test=run.read_trial() is None)


def resume_run(run: RunDir, *, verbose: bool = True) -> RunDir:
    """Continue an interrupted run from its last checkpoint (a finished one is left as it is)."""
    return run if run.is_complete else train_net(run, verbose=verbose)


def recorded_config(run: RunDir) -> RunConfig:
    """The run's config with ``precision: auto`` pinned to the precision it trained in (env.json):
    resuming or re-evaluating it on another machine computes what the run computed, whatever auto
    means there. A user's model is imported again from the code it recorded, which must not have
    changed since."""
    env = run.read_env()
    name = run.read_config().get("model", {}).get("name", "")
    restore_model(str(name), env.get("model_source"), f"run {run.path}")
    try:
        cfg = build_config(run.read_config())
    except ConfigError as exc:  # edited by hand, or made by a version that allowed other values
        raise run.damaged("config.yaml", str(exc).split("; ")[0]) from None
    return pin_precision(cfg, env.get("precision"), device=env.get("device"))


def _build_trainer(
    cfg: RunConfig, run: RunDir, verbose: bool, on_epoch: Callable[[dict], None] | None = None
) -> Trainer:
    device = resolve_device(cfg.train.device)
    prepare_device(device)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    check_memory(cfg, device)  # before the data loads or a weight is allocated
    torch.manual_seed(cfg.seed)
    data = DeviceSplits(cfg.data, device)
    model = create_model(cfg.model.name, **cfg.model.options).to(device)
    # Layers made from data (a whitening stem) see training images only; a resume then loads them.
    fit_to_training_images(
        model, lambda: data.normalize(data.images["train"][:WHITENING_IMAGES] / 255)
    )
    return Trainer(model, data, cfg, run, verbose=verbose, on_epoch=on_epoch)


def _hardware_record(trainer: Trainer) -> dict[str, Any]:
    """The precision the run trains in and why, the recipe variant it took, and on a CPU the
    instruction sets behind them (on a GPU its name)."""
    record: dict[str, Any] = {
        "precision": trainer.precision.precision,
        "precision_reason": trainer.precision.reason,
        "variant": trainer.cfg.variant,
    }
    if trainer.device.type == "cpu":
        record["cpu"] = cpu_features()
    else:
        record["gpu"] = gpu_name(trainer.device)
    return record


def _finish(trainer: Trainer, run: RunDir, *, test: bool = True) -> RunDir:
    """Fit, then (with ``test``) evaluate on the test set exactly once; write summary.json and the
    predictions."""
    trainer.fit()
    model, data, cfg = trainer.eval_model, trainer.data, trainer.cfg
    temperature = _fitted_temperature(trainer) if test and data.size("val") else None
    final = final_checkpoint(
        model,
        cfg,
        mean=data.mean,
        std=data.std,
        precision=trainer.precision.precision,
        model_source=model_source(cfg.model.name),
        temperature=temperature,
    )
    save_checkpoint(final, run.final_ckpt)
    facts = {
        "name": cfg.name or cfg.model.name,
        "model": cfg.model.name,
        "seed": cfg.seed,
        "val_accuracy": run.kept_val_accuracy() if data.size("val") else None,
        "best_epoch": trainer.best["epoch"] if data.size("val") else trainer.epoch,
        "epochs_run": trainer.epoch,
        "train_seconds": round(trainer.elapsed, 3),
        "params": count_params(model),
        "macs": count_macs(model),
        "train_images": len(data),
        "val_images": data.size("val"),
        "device": str(trainer.device),
        "precision": trainer.precision.precision,
    }
    summary = write_summary(run, facts, **(_test_evaluation(trainer, temperature) if test else {}))
    score = (
        f"test accuracy {summary['test_accuracy']:.2%}"
        if test
        else f"validation accuracy {summary['val_accuracy']:.2%} (test set not used)"
    )
    trainer.progress.note(f"{score}  ({summary['train_seconds']:.1f}s training)  run: {run.path}")
    return run


def _fitted_temperature(trainer: Trainer) -> float:
    """Temperature scaling's one parameter, fitted on the validation split's logits."""
    labels = trainer.data.labels["val"].cpu().numpy()
    return fit_temperature(trainer.logits("val").cpu().numpy(), labels)


def _test_evaluation(trainer: Trainer, temperature: float | None) -> dict[str, Any]:
    """The one evaluation on the test set: labels, probabilities and the loss (from the logits,
    as training measures it), and the probabilities at the fitted ``temperature``, for
    ``write_summary`` to score and record."""
    logits = trainer.logits("test")
    labels = trainer.data.labels["test"]
    return {
        "labels": labels.cpu().numpy(),
        "probabilities": torch.softmax(logits, 1).cpu().numpy(),
        "test_loss": scores(logits, labels)["loss"],
        "calibrated": None
        if temperature is None
        else (temperature, softmax(logits.cpu().numpy(), temperature)),
    }
