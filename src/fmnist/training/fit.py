"""One run from start to finish: build the trainer, fit, save final.pt, evaluate on the test set
exactly once, write summary.json and the predictions.

``fit_run`` starts a run in a prepared run directory; ``resume_run`` finishes an interrupted one
from its last checkpoint with the same final weights. ``recorded_config`` is the config a finished
or interrupted run computes with again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from fmnist.calibration import fit_temperature, softmax
from fmnist.config import RunConfig, build_config
from fmnist.data import DeviceSplits
from fmnist.errors import ConfigError
from fmnist.metrics import write_summary
from fmnist.models import count_macs, count_params, create_model, model_source
from fmnist.models.layers import fit_to_training_images
from fmnist.models.user import restore as restore_model
from fmnist.runs import RunDir
from fmnist.training.checkpoint import final_checkpoint, save_checkpoint
from fmnist.training.evaluation import scores
from fmnist.training.hardware import (
    cpu_features,
    gpu_name,
    pin_precision,
    prepare_device,
    resolve_device,
)
from fmnist.training.memory import check_memory
from fmnist.training.trainer import Trainer

WHITENING_IMAGES = 2000  # training images a whitening stem's patch covariance is estimated from


def fit_run(
    cfg: RunConfig,
    run: RunDir,
    *,
    verbose: bool = True,
    test: bool = True,
    on_epoch: Callable[[dict], None] | None = None,
) -> RunDir:
    """Train ``cfg`` into the empty run directory ``run`` and record it.

    ``test=False`` (a search trial) never reads the test set: the summary holds validation scores
    only. ``on_epoch`` is the trainer's per-epoch callback (see ``Trainer``).
    """
    run.write_config(cfg.to_dict())
    trainer = _build_trainer(cfg, run, verbose, on_epoch)
    run.write_env(
        str(trainer.device),
        cfg.seed,
        hardware=_hardware_record(trainer),
        model_source=model_source(cfg.model.name),
    )
    return _finish(trainer, run, test=test)


def resume_run(run: RunDir, *, verbose: bool = True) -> RunDir:
    """Continue an interrupted run from its last checkpoint (a finished one is left as it is)."""
    if run.is_complete:
        return run
    trainer = _build_trainer(recorded_config(run), run, verbose)
    if run.last_ckpt.is_file():
        trainer.resume()
    return _finish(trainer, run, test=run.read_trial() is None)  # a search trial never sees test


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
