"""The facts of a machine that a run's config depends on, as data.

A recipe may carry a variant for hardware that runs it differently (``fp32_variant``: fewer epochs
where a CPU has no native bf16). The resolver takes these facts as an argument rather than asking
the hardware itself, so that resolving a config imports no torch, a plan says which machine it was
made for, and a test can resolve for a machine it does not run on. ``fmnist.training.hardware``
measures the machine it runs on (``this_machine``); ``MACHINES`` names the kinds a user can ask
``fmnist config --machine`` about.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Machine:
    """What ``train.device: auto`` finds there (CUDA, else an Apple GPU, else the CPU), and
    whether its CPU multiplies bf16 natively."""

    cuda: bool
    cpu_native_bf16: bool
    mps: bool = False

    def trains_emulated_bf16_on_cpu(self, device: str, precision: str) -> bool:
        """Whether a run with these ``train.device`` and ``train.precision`` settings trains on
        a CPU without native bf16, leaving the precision to fmnist (the case of a recipe's
        ``fp32_variant``)."""
        on_cpu = device == "cpu" or (device == "auto" and not (self.cuda or self.mps))
        return precision == "auto" and on_cpu and not self.cpu_native_bf16


MACHINES = {
    "cpu-fp32": Machine(cuda=False, cpu_native_bf16=False),  # AVX2-only CPUs: most laptops
    "cpu-bf16": Machine(cuda=False, cpu_native_bf16=True),  # AMX or AVX-512-BF16 CPUs
    "cuda": Machine(cuda=True, cpu_native_bf16=True),  # GPU servers: AMX or AVX-512-BF16 CPUs
    "mps": Machine(cuda=False, mps=True, cpu_native_bf16=False),  # Macs with an Apple GPU
}
