"""Checkpoints: plain dicts of tensors and numbers, written atomically, loaded with
weights_only=True."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from fmnist.errors import RunDirError
from fmnist.runs import atomic_write


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, buffer.getvalue())


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Load without unpickling arbitrary objects: a checkpoint can only hold tensors and plain
    data."""
    if not path.is_file():
        raise RunDirError(
            f"checkpoint {path} is missing; the run never finished an epoch, "
            "start it again with `fmnist train`"
        )
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError/RuntimeError/EOFError for bad files
        raise RunDirError(
            f"checkpoint {path} cannot be loaded safely "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); "
            "it is corrupt or not an fmnist checkpoint"
        ) from None
