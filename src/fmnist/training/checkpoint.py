"""Checkpoints: plain dicts of tensors and numbers, written atomically, loaded with
weights_only=True."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from fmnist.config import RunConfig
from fmnist.data import CLASS_NAMES
from fmnist.errors import RunDirError
from fmnist.runs import RunDir, atomic_write


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
