"""The training loop: one readable ``fit``, every trick a named config option, and its checkpoints.

Per epoch: shuffle on the device, augment the batch, forward/backward (optionally bf16 autocast),
step the LR, then evaluate on validation, keep the best weights and write an atomic checkpoint
holding everything needed to resume bit-for-bit (weights, optimiser, RNG states, history).
Checkpoints are plain dicts of tensors and numbers, written atomically and loaded with
``weights_only=True``: a checkpoint can hold no code.
"""

from __future__ import annotations

import io
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from fmnist.config import RunConfig
from fmnist.data import CLASS_NAMES, DeviceSplits
from fmnist.errors import RunDirError, TrainingDiverged
from fmnist.runs import RunDir, atomic_write
from fmnist.training.hardware import (
    autocast,
    choose_precision,
    device_rng_state,
    native_bf16,
    restore_device_rng_state,
)
from fmnist.training.optim import build_optimizer, build_plateau, kernel_penalty, lr_factor
from fmnist.training.progress import EpochProgress
from fmnist.training.record import Recorder, in_layout, scores, split_logits

# What ``Trainer.state_dict`` writes into last.pt, and so what a resume needs of it.
RESUME_KEYS = (
    "model", "ema", "optimizer", "plateau", "epoch", "step", "elapsed", "best", "bad_epochs",
    "history", "rng",
)  # fmt: skip


class Trainer:
    """Trains ``model`` on ``data`` as ``cfg`` says, recording into ``run`` (if given).

    Args:
        model: a registered model, already on ``data.device``.
        data: the splits on the device.
        cfg: the resolved run config.
        run: where metrics and checkpoints go; None trains without a record.
        verbose: show a progress bar and one line per epoch.
        on_epoch: called with each epoch's metrics row once it is recorded (checkpoint and
            metrics line written), e.g. a search reporting validation accuracy; it may raise to
            stop training, and the run keeps its record up to that epoch.
    """

    def __init__(
        self,
        model: nn.Module,
        data: DeviceSplits,
        cfg: RunConfig,
        run: RunDir | None = None,
        *,
        verbose: bool = True,
        on_epoch: Callable[[dict], None] | None = None,
    ) -> None:
        self.cfg, self.data, self.run, self.on_epoch = cfg, data, run, on_epoch
        self.device = data.device
        self.model = model
        if cfg.train.channels_last:
            self.model = self.model.to(
                memory_format=torch.channels_last
            )  # NHWC: faster convs (oneDNN, cuDNN)
        self.optimizer = build_optimizer(self.model, cfg.optim)
        self.plateau = build_plateau(self.optimizer, cfg.schedule)
        # EMA of weights (and BN buffers): a smoother model to evaluate than the last SGD iterate.
        self.ema = (
            AveragedModel(
                self.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.train.ema), use_buffers=True
            )
            if cfg.train.ema
            else None
        )
        self.step_fn = torch.compile(self._train_step) if cfg.train.compile else self._train_step
        self._lr_as_tensor()
        self.gen = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.steps_per_epoch = data.steps_per_epoch(cfg.train.batch_size)
        self.total_steps = self.steps_per_epoch * cfg.train.epochs
        self.epoch, self.step, self.elapsed = 0, 0, 0.0
        self.best = {"val_accuracy": -1.0, "epoch": 0}
        self.bad_epochs = 0
        self.history: list[dict] = []
        self.progress = EpochProgress(enabled=verbose)
        self.precision = choose_precision(
            cfg.train.precision, self.device.type, native_bf16(self.device)
        )
        self.progress.note(f"precision: {self.precision.precision} ({self.precision.reason})")
        if cfg.variant:
            self.progress.note(f"recipe variant {cfg.variant}")
        if self.precision.warning:
            self.progress.warn(self.precision.warning)
        self.recorder = Recorder(
            cfg.record, run
        )  # filters/histograms/embeddings/TensorBoard, if asked

    # -- one step ------------------------------------------------------------------------------
    def _train_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with autocast(self.device, self.precision.precision):
            logits = self.model(x)
            loss = F.cross_entropy(
                logits.float(), y, label_smoothing=self.cfg.train.label_smoothing
            )
        total = loss + kernel_penalty(self.model, self.cfg.optim)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        return loss.detach(), (logits.argmax(1) == y).sum()

    def _lr_as_tensor(self) -> None:
        """The LR changes every step. As a tensor a compiled step reads it; as a float it may be
        baked into the graph, and each new value compiles the step again (torch 2.11 did, on an
        H200)."""
        if self.cfg.train.compile:
            for group in self.optimizer.param_groups:
                group["lr"] = torch.as_tensor(group["lr"], dtype=torch.float32, device=self.device)

    def _set_lr(self) -> float:
        """This step's LR from the schedule, written into the optimizer."""
        lr = self.cfg.optim.lr * lr_factor(
            self.cfg.schedule, self.step, self.total_steps, self.steps_per_epoch
        )
        for group in self.optimizer.param_groups:
            group_lr = lr * group.get("lr_scale", 1.0)  # muon's filters: their own peak LR
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(group_lr)  # in place: the compiled step holds this tensor
            else:
                group["lr"] = group_lr
        return lr

    # -- fit -----------------------------------------------------------------------------------
    def fit(self) -> list[dict]:
        """Train until ``train.epochs`` or early stopping; returns the per-epoch history."""
        self.recorder.begin(self)
        try:
            self._epochs()
        except BaseException as exc:  # stopped early (pruned, diverged, interrupted)
            self.recorder.close()  # no writer left open
            if isinstance(exc, KeyboardInterrupt) and self.run:
                path = self.run.path
                print(
                    f"interrupted in epoch {self.epoch + 1}: {path} keeps epoch {self.epoch}'s "
                    f"checkpoint and metrics; resume with `fmnist train --resume {path}`",
                    file=sys.stderr,
                )
            raise
        finally:
            self.progress.close()
        if (
            self.cfg.train.restore_best
            and self.data.size("val")
            and self.run
            and self.run.best_ckpt.is_file()
        ):
            self.eval_model.load_state_dict(
                load_checkpoint(self.run.best_ckpt, self.device, required=("model",))["model"]
            )
        self.recorder.end(self)
        return self.history

    def _epochs(self) -> None:
        while self.epoch < self.cfg.train.epochs:
            start = time.perf_counter()
            row = self._train_epoch()
            row.update(self._validate())
            self.elapsed += time.perf_counter() - start
            row["seconds"] = round(self.elapsed, 3)
            self._end_epoch(row)
            if self.cfg.train.early_stopping and self.bad_epochs >= self.cfg.train.early_stopping:
                self.progress.note(
                    f"early stopping: no better validation accuracy for {self.bad_epochs} epochs"
                )
                return

    def _train_epoch(self) -> dict:
        self.model.train()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen = 0
        lr = float(self.optimizer.param_groups[0]["lr"])
        batches = self.data.batches(
            "train",
            self.cfg.train.batch_size,
            gen=self.gen,
            augment_cfg=self.cfg.augment,
            epoch=self.epoch,
        )
        description = f"epoch {self.epoch + 1}/{self.cfg.train.epochs}"
        for x, y in self.progress.wrap(
            batches, self.steps_per_epoch, description, images_per_step=self.cfg.train.batch_size
        ):
            if self.plateau is None:  # a plateau schedule changes the LR after validations only
                lr = self._set_lr()
            loss, hits = self.step_fn(in_layout(x, self.cfg.train), y)
            if self.ema is not None:
                self.ema.update_parameters(self.model)
            loss_sum += loss * len(y)
            correct += hits
            seen += len(y)
            self.step += 1
        train_loss = loss_sum.item() / seen
        if not math.isfinite(train_loss):
            where = (
                (
                    f"; the last good checkpoint (epoch {self.epoch}) and metrics are kept in "
                    f"{self.run.path}"
                )
                if self.run
                else ""
            )
            raise TrainingDiverged(
                f"training diverged: loss is {train_loss} in epoch {self.epoch + 1}{where}",
                got=f"optim.lr={self.cfg.optim.lr}",
                fix="lower optim.lr or add a warm-up (schedule.name=onecycle)",
            )
        return {
            "epoch": self.epoch + 1,
            "train_loss": train_loss,
            "train_accuracy": correct.item() / seen,
            "lr": lr,
        }

    def _validate(self) -> dict:
        epoch, freq = self.epoch + 1, self.cfg.train.validation_freq
        if not self.data.size("val") or not (
            epoch == self.cfg.train.epochs or (freq and epoch % freq == 0)
        ):
            return {}
        metrics = self.evaluate("val")
        if self.plateau is not None:
            self.plateau.step(metrics["loss"])
        return {"val_loss": metrics["loss"], "val_accuracy": metrics["accuracy"]}

    def _end_epoch(self, row: dict) -> None:
        self.epoch += 1
        self.history.append(row)
        val_acc = row.get("val_accuracy")
        if val_acc is not None and val_acc > self.best["val_accuracy"]:
            self.best = {"val_accuracy": val_acc, "epoch": self.epoch}
            self.bad_epochs = 0
            if self.run:
                save_checkpoint(
                    {"model": self.eval_model.state_dict(), "epoch": self.epoch}, self.run.best_ckpt
                )
        elif val_acc is not None:
            self.bad_epochs += 1
        if self.run:
            self.recorder.epoch_end(
                self, row
            )  # before the checkpoint: resume drops records the checkpoint lacks
            # Checkpoint before the metrics line: the checkpoint's history is the source of truth on
            # resume.
            save_checkpoint(self.state_dict(), self.run.last_ckpt)
            self.run.append_metrics(row)
        self.progress.epoch_row(row, best=self.best["epoch"] == self.epoch)
        if self.on_epoch:
            self.on_epoch(row)

    # -- evaluation ----------------------------------------------------------------------------
    @property
    def eval_model(self) -> nn.Module:
        return self.ema.module if self.ema is not None else self.model

    @torch.no_grad()
    def logits(self, split: str) -> torch.Tensor:
        """Logits for every image of ``split`` (in order), with flip TTA if configured."""
        return split_logits(
            self.eval_model, self.data, split, self.cfg.train, self.precision.precision
        )

    def evaluate(self, split: str) -> dict[str, float]:
        return scores(self.logits(split), self.data.labels[split])

    # -- checkpoint state ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "plateau": self.plateau.state_dict() if self.plateau is not None else None,
            "epoch": self.epoch,
            "step": self.step,
            "elapsed": self.elapsed,
            "best": self.best,
            "bad_epochs": self.bad_epochs,
            "history": self.history,
            "rng": {
                "torch": torch.get_rng_state(),
                "data": self.gen.get_state(),
                **device_rng_state(self.device),
            },
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self._lr_as_tensor()  # a checkpoint written without compile holds float LRs
        if self.plateau is not None:
            self.plateau.load_state_dict(state["plateau"])
        self.epoch, self.step, self.elapsed = state["epoch"], state["step"], state["elapsed"]
        self.best, self.bad_epochs, self.history = (
            state["best"],
            state["bad_epochs"],
            state["history"],
        )
        torch.set_rng_state(state["rng"]["torch"].cpu())
        self.gen.set_state(state["rng"]["data"].cpu())
        restore_device_rng_state(self.device, state["rng"])

    def resume(self) -> None:
        """Continue from ``run``'s last checkpoint; metrics.jsonl is rewritten to match it."""
        state = load_checkpoint(self.run.last_ckpt, self.device, required=RESUME_KEYS)
        self.load_state_dict(state)
        self.run.write_metrics(self.history)


# -- checkpoints: plain dicts of tensors and numbers, written atomically, loaded weights_only


def final_checkpoint(
    model: torch.nn.Module,
    cfg: RunConfig,
    *,
    mean: float,
    std: float,
    precision: str,
    model_source: dict[str, Any] | None = None,
    temperature: float | None = None,
) -> dict[str, Any]:
    """What final.pt holds: the model with all inference needs (config, precision, normalisation,
    class names, the temperature fitted on validation, and where a user's model code is), as
    plain data only, so it loads with weights_only=True (``fmnist.load``)."""
    return {
        "model": model.state_dict(),
        "config": cfg.to_dict(),
        "model_source": model_source,
        "precision": precision,
        "mean": mean,
        "std": std,
        "class_names": list(CLASS_NAMES),
        "temperature": temperature,
    }


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    path.parent.mkdir(exist_ok=True)  # the run's ckpt/, made with its first checkpoint
    atomic_write(path, buffer.getvalue())


def load_checkpoint(
    path: Path, device: torch.device | str = "cpu", *, required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Load without unpickling arbitrary objects: a checkpoint can only hold tensors and plain
    data; ``required`` names the entries it must have."""
    if not path.is_file():
        run = RunDir(path.parent.parent)  # RUN/ckpt/<name>.pt
        if run.is_complete:  # finished, its weights not kept (results/ keeps none)
            raise RunDirError(
                f"checkpoint {path} is missing: the run finished but its weights were not kept",
                fix="train it again from its config: fmnist train --config "
                f"{run.path / 'config.yaml'}",
            )
        raise RunDirError(
            f"checkpoint {path} is missing: the run never finished an epoch",
            fix="start it again with `fmnist train`",
        )
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError/RuntimeError/EOFError for bad files
        raise _damaged(path, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}") from None
    return require_keys(state, required, path)


def require_keys(state: Any, keys: tuple[str, ...], path: Path) -> dict[str, Any]:
    """``state`` if it is a dict holding ``keys``, else the error for a damaged checkpoint."""
    missing = [key for key in keys if not isinstance(state, dict) or key not in state]
    if missing or not isinstance(state, dict):
        raise _damaged(path, f"it lacks {', '.join(missing) or 'a dict of entries'}")
    return state


def _damaged(path: Path, reason: str) -> RunDirError:
    return RunDirError(
        f"checkpoint {path} cannot be loaded safely ({reason})",
        fix="it is corrupt or not an fmnist checkpoint: restore it from where the run came from, "
        "or delete the run folder and train it again",
    )
