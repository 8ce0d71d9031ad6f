"""Which device a run trains on, and which precision that device runs fast.

bf16 autocast is a large win only where the hardware multiplies bf16 natively: GPUs with bf16
tensor cores, and CPUs where oneDNN has bf16 kernels (AMX or AVX-512-BF16). Elsewhere (AVX2-only
CPUs: most laptops and older AMD servers) oneDNN emulates it, about 10x slower than fp32, so
``precision: auto`` asks the hardware instead of assuming this machine's.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Literal

import torch

from fmnist.config import RunConfig
from fmnist.errors import ConfigError
from fmnist.machine import Machine

Precision = Literal["fp32", "bf16"]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "train.device=cuda but no CUDA device is visible",
            allowed="auto, cpu",
            fix="--set train.device=auto",
        )
    return torch.device(name)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bf16 in hardware (not by emulation)."""
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
    """The facts of this machine that resolving a config needs (``fmnist.machine``)."""
    return Machine(cuda=torch.cuda.is_available(), cpu_native_bf16=native_bf16(torch.device("cpu")))


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a run trains in, and the reason, as printed and recorded in env.json."""

    precision: Precision
    reason: str
    warning: str | None = None


def choose_precision(requested: str, device_type: str, native: bool) -> PrecisionChoice:
    """Resolve ``train.precision`` (auto, fp32 or bf16) for a device that has (``native``) bf16 or
    not."""
    where = "this GPU" if device_type == "cuda" else "this CPU"
    if requested == "fp32":
        return PrecisionChoice("fp32", "train.precision=fp32")
    if requested == "bf16":
        slow = (
            None
            if native
            else (
                f"{where} has no native bf16, so bf16 is emulated and slow; "
                "train.precision=auto or fp32 is likely much faster here"
            )
        )
        return PrecisionChoice("bf16", "train.precision=bf16", slow)
    if native:
        return PrecisionChoice("bf16", f"auto: {where} runs bf16 natively")
    return PrecisionChoice(
        "fp32", f"auto: {where} has no native bf16, and emulated bf16 is several times slower"
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
    None elsewhere. Records name it, so text quoting a machine can point at one."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return None


def cpu_kind(*, native: bool, amx: bool, isa_limit: str | None) -> str:
    """A short name for the speed class of a CPU: 'AMX bf16', 'AVX-512 bf16' or 'fp32 (no native
    bf16)'."""
    if not native:
        return "fp32 (no native bf16)"
    amx_allowed = isa_limit is None or "AMX" in isa_limit.upper() or isa_limit.upper() == "ALL"
    return "AMX bf16" if amx and amx_allowed else "AVX-512 bf16"
