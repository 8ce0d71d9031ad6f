"""The Python API: ``train(config) -> Run``, ``load_run(path)``, ``Run.evaluate()``,
``Run.predict(images)``.

The CLI is a thin layer over these functions; a notebook calls them the same way.

    >>> import fmnist
    >>> run = fmnist.train({"model": {"name": "softmax"}, "train": {"epochs": 3}})
    >>> run.summary["test_accuracy"]
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fmnist.config import RunConfig, build_config
from fmnist.data import SPLITS, FashionMNIST
from fmnist.errors import ConfigError, RunDirError
from fmnist.inference import Predictor, final_checkpoint
from fmnist.metrics import classification_summary
from fmnist.models import count_macs, count_params, create_model
from fmnist.runs import RunDir
from fmnist.training import Trainer, resolve_device
from fmnist.training.checkpoint import load_checkpoint, save_checkpoint
from fmnist.training.hardware import cpu_features

ConfigLike = RunConfig | dict[str, Any] | str | Path | None


def as_config(config: ConfigLike) -> RunConfig:
    if isinstance(config, RunConfig):
        return config
    if isinstance(config, (str, Path)):
        from fmnist.config import load_config

        return load_config(config)
    return build_config(config or {})


def train(
    config: ConfigLike = None,
    *,
    out: str | Path = "runs",
    run_dir: str | Path | None = None,
    verbose: bool = True,
) -> Run:
    """Train a model as ``config`` says and record it in a new run directory under ``out``.

    Args:
        config: a RunConfig, a nested dict, or the path of a YAML file (None: the defaults).
        out: parent folder of the run directory.
        run_dir: exact run directory to use instead (e.g. one point of a sweep); must not exist.
        verbose: progress bar and one line per epoch.

    Returns:
        The finished ``Run``; its test accuracy is in ``run.summary``.
    """
    cfg = as_config(config)
    if run_dir is not None:
        if Path(run_dir).exists():
            raise ConfigError(
                f"run directory {run_dir} already exists; resume it with "
                f"`fmnist train --resume {run_dir}` or choose a new path"
            )
        (Path(run_dir) / "ckpt").mkdir(parents=True)
        run = RunDir(run_dir)
    else:
        run = RunDir.create(out, cfg.name or cfg.model.name, cfg.fingerprint())
    run.write_config(cfg.to_dict())
    trainer = _build_trainer(cfg, run, verbose)
    run.write_env(str(trainer.device), cfg.seed, hardware=_hardware_record(trainer))
    return _finish(trainer, run, verbose)


def resume(run_dir: str | Path, *, verbose: bool = True) -> Run:
    """Continue an interrupted run from its last checkpoint; same final weights as an uninterrupted
    run."""
    run = RunDir.open(run_dir)
    if run.is_complete:
        return Run(run.path)
    trainer = _build_trainer(_recorded_config(run), run, verbose)
    if run.last_ckpt.is_file():
        trainer.resume()
    return _finish(trainer, run, verbose)


def _recorded_config(run: RunDir) -> RunConfig:
    """The run's config with ``precision: auto`` pinned to the precision it trained in (env.json):
    resuming or re-evaluating it on another machine computes what the run computed, whatever auto
    means there."""
    cfg = build_config(run.read_config())
    env = run.read_env()
    # Runs from before env.json recorded it: auto then meant bf16 on CUDA and fp32 on a CPU.
    legacy = {"cpu": "fp32", "cuda": "bf16"}.get(str(env.get("device", "")).split(":")[0])
    recorded = env.get("precision", legacy)
    if cfg.train.precision == "auto" and recorded:
        cfg.train.precision = recorded
    return cfg


def _build_trainer(cfg: RunConfig, run: RunDir, verbose: bool) -> Trainer:
    device = resolve_device(cfg.train.device)
    if device.type == "cpu":
        # Denormal floats make CPU math 10-100x slower and carry no signal. Set before the first
        # parallel op: worker threads inherit the flag only when they are created after it.
        torch.set_flush_denormal(True)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    torch.manual_seed(cfg.seed)
    data = FashionMNIST(cfg.data, device)
    model = create_model(cfg.model.name, **cfg.model.options).to(device)
    return Trainer(model, data, cfg, run, verbose=verbose)


def _hardware_record(trainer: Trainer) -> dict[str, Any]:
    """The precision the run trains in and why, the recipe variant it took, and on a CPU the
    instruction sets behind them."""
    record: dict[str, Any] = {
        "precision": trainer.precision.precision,
        "precision_reason": trainer.precision.reason,
        "variant": trainer.cfg.variant,
    }
    if trainer.device.type == "cpu":
        record["cpu"] = cpu_features()
    return record


def _finish(trainer: Trainer, run: RunDir, verbose: bool) -> Run:
    """Fit, then evaluate on the test set exactly once and write summary.json and
    predictions.csv."""
    trainer.fit()
    model, data = trainer.eval_model, trainer.data
    final = final_checkpoint(
        model, trainer.cfg, mean=data.mean, std=data.std, precision=trainer.precision.precision
    )
    save_checkpoint(final, run.path / "ckpt" / "final.pt")
    logits = trainer.logits("test")
    probabilities = torch.softmax(logits, 1).cpu().numpy()
    labels = data.labels["test"].cpu().numpy()
    scores = classification_summary(labels, probabilities)
    cfg = trainer.cfg
    summary = {
        "name": cfg.name or cfg.model.name,
        "model": cfg.model.name,
        "seed": cfg.seed,
        "test_accuracy": scores["accuracy"],
        "test_loss": float(torch.nn.functional.cross_entropy(logits, data.labels["test"]).item()),
        "val_accuracy": trainer.best["val_accuracy"] if data.size("val") else None,
        "best_epoch": trainer.best["epoch"] if data.size("val") else trainer.epoch,
        "epochs_run": trainer.epoch,
        "train_seconds": round(trainer.elapsed, 3),
        "params": count_params(model),
        "macs": count_macs(model),
        "train_images": len(data),
        "val_images": data.size("val"),
        "device": str(trainer.device),
        "precision": trainer.precision.precision,
        "per_class": scores["per_class"],
        "confusion_matrix": scores["confusion_matrix"],
    }
    run.write_predictions(labels, probabilities.argmax(1), probabilities)
    run.write_summary(summary)
    trainer.progress.note(
        f"test accuracy {summary['test_accuracy']:.2%}  "
        f"({summary['train_seconds']:.1f}s training)  run: {run.path}"
    )
    return Run(run.path)


class Run:
    """A finished run directory: its config, metrics and summary, and its model for
    evaluate/predict."""

    def __init__(self, path: str | Path) -> None:
        self.dir = RunDir.open(path)
        self.path = self.dir.path

    def __repr__(self) -> str:
        acc = self.summary.get("test_accuracy") if self.dir.is_complete else None
        return f"Run({str(self.path)!r}, test_accuracy={acc})"

    @property
    def is_baseline(self) -> bool:
        """A scikit-learn baseline run: summary, predictions and config, but no model."""
        return "baseline" in self.dir.read_config()

    @cached_property
    def config(self) -> RunConfig:
        if self.is_baseline:
            # Fitted scikit-learn estimators could only be kept as pickles,
            # which fmnist never loads.
            raise RunDirError(
                f"{self.path} is a scikit-learn baseline run: it keeps no fitted model to evaluate "
                "or predict with; its test scores are in summary.json and predictions.csv "
                "(fmnist table, fmnist report)"
            )
        return _recorded_config(self.dir)

    @property
    def summary(self) -> dict[str, Any]:
        return self.dir.read_summary()

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return self.dir.read_metrics()

    @cached_property
    def predictor(self) -> Predictor:
        """The final model, ready for ``predict`` (on a GPU when there is one)."""
        config = self.config  # a clear error for a baseline run, which keeps no model
        self.dir.read_summary()  # and for a run that never finished
        final = load_checkpoint(self.path / "ckpt" / "final.pt")
        return Predictor(final["model"], config, mean=final["mean"], std=final["std"])

    @property
    def model(self) -> torch.nn.Module:
        return self.predictor.module

    def evaluate(self, split: str = "test") -> dict[str, float]:
        """Loss and accuracy of the final model on ``split`` ('train', 'val' or 'test'),
        recomputed."""
        if split not in SPLITS:
            raise ConfigError(
                f"split {split!r} is not one of {', '.join(SPLITS)}; pass one of these "
                "(--split val, or run.evaluate('val'))"
            )
        device = self.predictor.device
        cfg = self.config.model_copy(
            update={"train": self.config.train.model_copy(update={"device": device.type})}
        )
        return Trainer(
            self.model, FashionMNIST(cfg.data, device), cfg, None, verbose=False
        ).evaluate(split)

    def inputs(self, images: np.ndarray) -> torch.Tensor:
        """(N, 28, 28) uint8 images -> the (N, 1, 28, 28) normalised tensor the model takes."""
        return self.predictor.inputs(images)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 10) for (N, 28, 28) uint8 images (0-255), light object on
        black."""
        return self.predictor.predict(images)


def load_run(path: str | Path) -> Run:
    return Run(path)
