"""Which device a run trains on, which precision that device runs fast, and whether the run fits
its memory.

bf16 autocast is a large win only where the hardware multiplies bf16 natively: GPUs with bf16
tensor cores, and CPUs where oneDNN has bf16 kernels (AMX or AVX-512-BF16). Elsewhere (AVX2-only
CPUs: most laptops and older AMD servers) oneDNN emulates it, about 10x slower than fp32, so
``precision: auto`` asks the hardware instead of assuming this machine's.

Memory is checked before it is spent: what a run needs, estimated before the model is built,
against what the device has free.

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

import os
import platform
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psutil
import torch
from torch import nn

from fmnist.config import RunConfig
from fmnist.errors import ConfigError
from fmnist.models import create_model
from fmnist.recipes import Machine

Precision = Literal["fp32", "bf16"]


def resolve_device(name: str) -> torch.device:
    """``train.device`` as a torch device: auto takes CUDA, then an Apple GPU (MPS), then the CPU.
    A device named but not there is refused in one line, before any work."""
    if name == "auto":
        return torch.device(_best_device())
    device = torch.device(name)
    missing = _why_missing(device)
    if missing:
        raise ConfigError(
            f"train.device={name}, but {missing}",
            allowed=", ".join(available_devices()),
            fix="--set train.device=auto",
        )
    return device


def available_devices() -> list[str]:
    """The ``train.device`` values that this machine can train on."""
    gpus = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if cuda_available() else []
    return [
        "auto",
        "cpu",
        *(["cuda", *gpus] if gpus else []),
        *(["mps"] if mps_available() else []),
    ]


def cuda_available() -> bool:
    return torch.cuda.is_available()


def mps_available() -> bool:
    """An Apple GPU through Metal (macOS 12.3 or later on Apple silicon or an AMD GPU)."""
    return torch.backends.mps.is_available()


def _best_device() -> str:
    if cuda_available():
        return "cuda"
    return "mps" if mps_available() else "cpu"


def _why_missing(device: torch.device) -> str | None:
    """Why this machine cannot train on ``device``, or None when it can."""
    if device.type == "cuda" and not cuda_available():
        return "no CUDA device is visible (a CPU-only torch, no driver, or CUDA_VISIBLE_DEVICES)"
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        return f"this machine has {torch.cuda.device_count()} CUDA device(s), counted from 0"
    if device.type == "mps" and not mps_available():
        return "no Apple GPU (MPS) is here: it needs a Mac with macOS 12.3+ and torch's MPS build"
    return None


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bf16 in hardware (not by emulation). An Apple GPU (MPS)
    counts as not: bf16's speed there is not measured, so auto keeps it in fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "cpu" and cpu_bf16_is_native(
        avx512_bf16=torch.cpu._is_avx512_bf16_supported(),
        amx=torch.cpu._is_amx_tile_supported(),
        onednn_bf16=torch.ops.mkldnn._is_mkldnn_bf16_supported(),
        isa_limit=_onednn_isa_limit(),
    )


def cpu_bf16_is_native(
    *, avx512_bf16: bool, amx: bool, onednn_bf16: bool, isa_limit: str | None
) -> bool:
    """bf16 is native on a CPU whose chip has bf16 instructions (AVX-512-BF16 or AMX) and whose
    oneDNN may use them. oneDNN's own "bf16 supported" is not enough: it is also true on AVX-512
    chips without them (Skylake to Ice Lake servers), where it converts in software and a bf16
    step of ``fast`` takes twice an fp32 one. ``ONEDNN_MAX_CPU_ISA`` below AVX512_CORE_BF16 (AVX2,
    as on most laptops) turns them off."""
    allowed = isa_limit is None or any(
        word in isa_limit.upper() for word in ("BF16", "AMX", "FP16", "AVX10", "ALL")
    )
    return (avx512_bf16 or amx) and onednn_bf16 and allowed


def _onednn_isa_limit() -> str | None:
    return os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")


def this_machine() -> Machine:
    """The facts of this machine that resolving a config needs (``fmnist.recipes.Machine``)."""
    return Machine(
        cuda=cuda_available(),
        mps=mps_available(),
        cpu_native_bf16=native_bf16(torch.device("cpu")),
    )


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a run trains in, and the reason, as printed and recorded in env.json."""

    precision: Precision
    reason: str
    warning: str | None = None


def choose_precision(requested: str, device_type: str, native: bool) -> PrecisionChoice:
    """Resolve ``train.precision`` (auto, fp32 or bf16) for a device that has (``native``) bf16 or
    not."""
    if requested == "fp32":
        return PrecisionChoice("fp32", "train.precision=fp32")
    if native:
        where = "this GPU" if device_type == "cuda" else "this CPU"
        reason = (
            "train.precision=bf16" if requested == "bf16" else f"auto: {where} runs bf16 natively"
        )
        return PrecisionChoice("bf16", reason)
    why_fp32, bf16_warning = _without_native_bf16(device_type)
    if requested == "bf16":
        return PrecisionChoice("bf16", "train.precision=bf16", bf16_warning)
    return PrecisionChoice("fp32", f"auto: {why_fp32}")


def _without_native_bf16(device_type: str) -> tuple[str, str]:
    """Why auto takes fp32 on a device without native bf16, and the warning for asking bf16."""
    if device_type == "mps":  # no Mac here: fp32 until a measurement says bf16 pays there
        return (
            "bf16 is not measured on Apple GPUs, so fp32",
            "bf16 on an Apple GPU is not measured by fmnist; train.precision=auto (fp32) is the "
            "tested path",
        )
    where = "this GPU" if device_type == "cuda" else "this CPU"
    return (
        f"{where} has no native bf16, and emulated bf16 is several times slower",
        f"{where} has no native bf16, so bf16 is emulated and slow; "
        "train.precision=auto or fp32 is likely much faster here",
    )


def pin_precision(cfg: RunConfig, recorded: str | None, *, device: str | None = None) -> RunConfig:
    """``cfg`` with ``precision: auto`` replaced by the precision a run computed in, so that
    resuming or re-evaluating it elsewhere computes what it computed, whatever auto means there.

    ``recorded`` is None for runs from before it was recorded; auto then meant bf16 on CUDA and
    fp32 on a CPU (``device``: the run's device, e.g. 'cuda:0').
    """
    legacy = {"cpu": "fp32", "cuda": "bf16"}.get(str(device or "").split(":")[0])
    pinned = recorded or legacy
    if cfg.train.precision != "auto" or not pinned:
        return cfg
    return cfg.model_copy(update={"train": cfg.train.model_copy(update={"precision": pinned})})


def autocast(device: torch.device, precision: Precision) -> AbstractContextManager:
    """bf16 autocast on ``device`` for bf16 runs; nothing for fp32."""
    return (
        torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
    )


# -- the device-specific calls, in one place ----------------------------------------------------
def prepare_device(device: torch.device) -> None:
    """Settings that make ``device`` fast for training; call before the first op on it."""
    if device.type == "cuda":
        # Every step has the same shapes: cuDNN times its algorithms once and keeps the fastest.
        torch.backends.cudnn.benchmark = True
    if device.type == "cpu":
        # Denormal floats make CPU math 10-100x slower and carry no signal. Set before the first
        # parallel op: worker threads inherit the flag only when they are created after it.
        torch.set_flush_denormal(True)


def synchronize(device: torch.device) -> None:
    """Wait for ``device``'s queued work, so that a clock read afterwards counts it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def cuda_free_bytes(device: torch.device) -> int:
    """Bytes free on a CUDA device, by the driver's count."""
    return torch.cuda.mem_get_info(device)[0]


def gpu_name(device: torch.device) -> str | None:
    """The GPU's name for records ("NVIDIA H100 80GB HBM3"); None on a CPU."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "Apple GPU (MPS)" if device.type == "mps" else None


def device_rng_state(device: torch.device) -> dict[str, Any]:
    """The state of ``device``'s own generators (dropout draws from them on a GPU), for a
    checkpoint: ``cuda`` (one per GPU; empty off CUDA, as checkpoints have always held it) and,
    on an Apple GPU, ``mps``."""
    if device.type == "mps":
        return {"cuda": [], "mps": torch.mps.get_rng_state()}
    return {"cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else []}


def restore_device_rng_state(device: torch.device, state: dict[str, Any]) -> None:
    """Put back what ``device_rng_state`` kept, for the device a run resumes on (a state of
    another kind of device has no generator here to go to)."""
    if device.type == "cuda" and state.get("cuda"):
        torch.cuda.set_rng_state_all(state["cuda"])
    if device.type == "mps" and state.get("mps") is not None:
        torch.mps.set_rng_state(state["mps"].cpu())


def cpu_features() -> dict[str, object]:
    """The CPU's instruction sets that decide training speed, and oneDNN's view of them."""
    cpu = torch.cpu  # cpuinfo's flags (what the chip has, whatever oneDNN is limited to)
    isa_limit = _onednn_isa_limit()
    native = native_bf16(torch.device("cpu"))
    amx = cpu._is_amx_tile_supported()
    return {
        "model": cpu_model(),
        "cores": os.cpu_count(),
        "kind": cpu_kind(native=native, amx=amx, isa_limit=isa_limit),
        "native_bf16": native,
        "amx": amx,
        "avx512_bf16": cpu._is_avx512_bf16_supported(),
        "avx512": cpu._is_avx512_supported(),
        "avx2": cpu._is_avx2_supported(),
        "onednn_max_cpu_isa": isa_limit,
        # ATEN_CPU_CAPABILITY can lower it
        "aten_capability": torch.backends.cpu.get_cpu_capability(),
    }


def cpu_model() -> str | None:
    """The CPU's marketing name ("AMD EPYC 9R14 96-Core Processor"), from Linux's /proc/cpuinfo;
    elsewhere what Python's ``platform`` knows ("Intel64 Family 6 Model 158 ..." on Windows, "arm"
    on an Apple silicon Mac), or None. Records name it, so text quoting a machine can point at
    one."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:  # not Linux
        pass
    return platform.processor() or None


def cpu_kind(*, native: bool, amx: bool, isa_limit: str | None) -> str:
    """A short name for the speed class of a CPU: 'AMX bf16', 'AVX-512 bf16' or 'fp32 (no native
    bf16)'."""
    if not native:
        return "fp32 (no native bf16)"
    amx_allowed = isa_limit is None or "AMX" in isa_limit.upper() or isa_limit.upper() == "ALL"
    return "AMX bf16" if amx and amx_allowed else "AVX-512 bf16"


# -- memory

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
    "muon": 1,
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
