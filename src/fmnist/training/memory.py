"""Memory before it is spent: what a run needs, estimated before the model is built, against what
the device has free.

A width of 1,000,000 is a valid number but not a trainable model: allocating it would end in the
kernel killing the process (or a CUDA out-of-memory error mid-epoch). So the model is first built
on PyTorch's ``meta`` device, where tensors have shapes and no storage, and one batch is passed
through it to see every layer's output. The estimate is a rough upper bound:

    weights x (1 + gradients + the optimizer's state per weight + an EMA copy), fp32
  + every layer's output at the batch size, twice (kept for backward, and its gradient), fp32
  + the data set on the device and some slack

It errs high (bf16 outputs are counted at 4 bytes, in-place layers as new tensors) so that a
refusal is never the wrong call by much, and it says which knob to turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psutil
import torch
from torch import nn

from fmnist.config import RunConfig
from fmnist.errors import ConfigError
from fmnist.models import create_model
from fmnist.training.hardware import cuda_free_bytes

FLOAT_BYTES = 4
DATA_AND_SLACK = 512 * 2**20  # 70,000 images as uint8 and float batches, allocator slack
# Tensors an optimizer keeps per weight (momentum, squared averages...), at most.
OPTIMIZER_SLOTS = {
    "sgd": 1,
    "rmsprop": 2,
    "adagrad": 1,
    "adadelta": 2,
    "adam": 2,
    "adamw": 2,
    "adamax": 2,
    "nadam": 2,
}
GiB = 2**30


@dataclass(frozen=True)
class MemoryEstimate:
    params: int  # number of weights
    weight_bytes: int  # weights, gradients, optimizer state, EMA
    activation_bytes: int  # the larger of a training batch and an evaluation batch
    total_bytes: int


def estimate_memory(cfg: RunConfig) -> MemoryEstimate:
    """What training ``cfg`` needs at most, from the model built on the meta device."""
    with torch.device("meta"):
        model = create_model(cfg.model.name, **cfg.model.options)
    params = sum(p.numel() for p in model.parameters())
    copies = 2 + OPTIMIZER_SLOTS[cfg.optim.name] + (1 if cfg.train.ema else 0)
    weight_bytes = params * copies * FLOAT_BYTES
    train_outputs, _ = _layer_outputs(model, cfg.train.batch_size, train=True)
    _, eval_largest = _layer_outputs(model, cfg.train.eval_batch_size, train=False)
    activation_bytes = max(2 * train_outputs, 2 * eval_largest) * FLOAT_BYTES
    total = weight_bytes + activation_bytes + DATA_AND_SLACK
    return MemoryEstimate(params, weight_bytes, activation_bytes, total)


def check_memory(cfg: RunConfig, device: torch.device, available: int | None = None) -> None:
    """Refuse, in one line, a run that needs more memory than ``device`` has free (``available``
    bytes, default: measured now)."""
    need = estimate_memory(cfg)
    free = free_bytes(device) if available is None else available
    if free is None or need.total_bytes <= free:  # unknown: train rather than guess
        return
    raise ConfigError(
        f"the run needs about {need.total_bytes / GiB:,.1f} GiB ({need.params:,} weights with "
        f"their gradients and optimizer state {need.weight_bytes / GiB:,.1f} GiB, layer outputs "
        f"at batch {cfg.train.batch_size} {need.activation_bytes / GiB:,.1f} GiB), more than the "
        f"{free / GiB:,.1f} GiB free on {device.type}",
        fix="lower the model's widths or depth (its weights are most of it)"
        if need.weight_bytes > need.activation_bytes
        else "lower train.batch_size or train.eval_batch_size (layer outputs grow with them), "
        "or the model's widths",
    )


def free_bytes(device: torch.device) -> int | None:
    """Bytes free on ``device``: CUDA's own count, else the memory the system can give without
    swapping, within this process's cgroup limit where a container sets one (an Apple GPU shares
    that memory with the CPU); None where neither can be read."""
    if device.type == "cuda":
        return cuda_free_bytes(device)
    return min((b for b in (_ram_available(), _cgroup_room()) if b is not None), default=None)


def _layer_outputs(model: nn.Module, batch: int, *, train: bool) -> tuple[int, int]:
    """(sum, largest) of the element counts of every leaf layer's output for one batch."""
    sizes: list[int] = []

    def record(_module, _inputs, output) -> None:
        if isinstance(output, torch.Tensor):
            sizes.append(output.numel())

    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(record) for m in leaves]
    model.train(train)
    try:
        with torch.no_grad():
            model(torch.empty(batch, 1, 28, 28, device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    return sum(sizes), max(sizes, default=0)


def _ram_available() -> int | None:
    """psutil's available memory: MemAvailable of /proc/meminfo on Linux, the system's own count on
    Windows and macOS."""
    try:
        return psutil.virtual_memory().available
    except OSError:  # a Linux without /proc (some sandboxes)
        return None


def _cgroup_room() -> int | None:
    """Room left under a cgroup v2 memory limit (containers), if there is one."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text(encoding="utf-8").strip()
        if limit == "max":
            return None
        return int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
