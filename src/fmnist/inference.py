"""A trained model on its own: ``fmnist.load("runs/<run>/ckpt/final.pt")`` gives a ``Predictor``.

final.pt carries all that inference needs: the weights, the resolved config (the model, and how the
run evaluated it: precision, layout, flip TTA), the normalisation and the class names. So a
checkpoint file is usable without its run directory, and it is still loaded with
``weights_only=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fmnist.config import RunConfig, build_config
from fmnist.data import CLASS_NAMES
from fmnist.errors import RunDirError
from fmnist.models import create_model
from fmnist.training.checkpoint import load_checkpoint
from fmnist.training.hardware import Precision, choose_precision, native_bf16, resolve_device
from fmnist.training.trainer import predict_logits


def final_checkpoint(
    model: nn.Module, cfg: RunConfig, *, mean: float, std: float, precision: Precision
) -> dict[str, Any]:
    """What final.pt holds: plain data only, so it loads with weights_only=True."""
    return {
        "model": model.state_dict(),
        "config": cfg.to_dict(),
        "precision": precision,
        "mean": mean,
        "std": std,
        "class_names": list(CLASS_NAMES),
    }


class Predictor:
    """A trained model ready to predict: (N, 28, 28) uint8 images -> (N, 10) class probabilities.

    Args:
        state: the model's weights.
        config: the run's resolved config (an ``auto`` precision is resolved for ``device``).
        mean, std: the normalisation of the training split.
        class_names: the label of each output.
        device: where to compute (default: a GPU when there is one, else the CPU).
    """

    def __init__(
        self,
        state: dict[str, torch.Tensor],
        config: RunConfig,
        *,
        mean: float,
        std: float,
        class_names: tuple[str, ...] | list[str] = CLASS_NAMES,
        device: torch.device | str | None = None,
    ) -> None:
        self.config, self.mean, self.std, self.class_names = config, mean, std, tuple(class_names)
        self.device = torch.device(device) if device is not None else resolve_device("auto")
        self.precision = choose_precision(
            config.train.precision, self.device.type, native_bf16(self.device)
        ).precision
        module = create_model(config.model.name, **config.model.options)
        module.load_state_dict(state)
        if config.train.channels_last:
            module = module.to(memory_format=torch.channels_last)  # the layout the run evaluated in
        self.module = module.to(self.device).eval()

    def inputs(self, images: np.ndarray) -> torch.Tensor:
        """(N, 28, 28) uint8 images -> the (N, 1, 28, 28) normalised tensor the model takes, on its
        device."""
        x = (
            torch.from_numpy(np.array(images, dtype=np.float32))
            .reshape(-1, 1, 28, 28)
            .to(self.device)
            / 255
        )
        return (x - self.mean) / self.std

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 10) for (N, 28, 28) uint8 images (0-255), light object on
        black."""
        train = self.config.train
        batches = self.inputs(images).split(train.eval_batch_size)
        logits = torch.cat([predict_logits(self.module, x, train, self.precision) for x in batches])
        return torch.softmax(logits, 1).cpu().numpy()


def load(path: str | Path, *, device: torch.device | str | None = None) -> Predictor:
    """The model in a final.pt checkpoint, with the precision, layout and TTA its run evaluated it
    with."""
    state = load_checkpoint(Path(path))
    if "config" not in state:
        raise RunDirError(
            f"{path} holds weights without their config (made before checkpoints carried it); "
            "load its run instead: fmnist.load_run(RUN_DIR)"
        )
    config = build_config(state["config"])
    if config.train.precision == "auto":
        config.train.precision = state[
            "precision"
        ]  # what the run computed in, whatever auto means here
    return Predictor(
        state["model"],
        config,
        mean=state["mean"],
        std=state["std"],
        class_names=state["class_names"],
        device=device,
    )
