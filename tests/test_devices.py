"""train.device: auto takes CUDA, then an Apple GPU (MPS), then the CPU; a device named but not
there is one line and exit 2 before any work. There is no GPU here, so CUDA and MPS are simulated
by replacing the availability checks."""

from __future__ import annotations

import pytest
import torch

from fmnist.config import build_config
from fmnist.errors import ConfigError
from fmnist.recipes import MACHINES, load_recipe
from fmnist.runner.resolve import plan
from fmnist.training import hardware
from fmnist.training.hardware import choose_precision, resolve_device
from tests.conftest import fmnist_cli
from tests.test_bad_input import assert_one_line_on_stderr


@pytest.fixture
def machine(monkeypatch):
    """Pretend this machine has ``cuda`` GPUs and an Apple GPU or not."""

    def have(*, cuda: int = 0, mps: bool = False) -> None:
        monkeypatch.setattr(hardware, "cuda_available", lambda: cuda > 0)
        monkeypatch.setattr(hardware, "mps_available", lambda: mps)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)

    return have


@pytest.mark.parametrize(
    ("cuda", "mps", "chosen"),
    [(2, True, "cuda"), (1, False, "cuda"), (0, True, "mps"), (0, False, "cpu")],
)
def test_auto_takes_cuda_then_an_apple_gpu_then_the_cpu(machine, cuda, mps, chosen):
    machine(cuda=cuda, mps=mps)
    assert resolve_device("auto").type == chosen
    assert resolve_device("cpu") == torch.device("cpu")


def test_a_named_device_that_is_there_is_taken(machine):
    machine(cuda=2, mps=True)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("mps") == torch.device("mps")
    assert hardware.available_devices() == ["auto", "cpu", "cuda", "cuda:0", "cuda:1", "mps"]


@pytest.mark.parametrize(
    ("cuda", "mps", "asked", "why"),
    [
        (0, False, "cuda", "no CUDA device is visible"),
        (0, True, "cuda:0", "no CUDA device is visible"),
        (1, False, "cuda:3", "this machine has 1 CUDA device(s), counted from 0"),
        (1, False, "mps", "no Apple GPU (MPS) is here"),
    ],
)
def test_a_device_that_is_not_there_is_refused_with_what_is(machine, cuda, mps, asked, why):
    machine(cuda=cuda, mps=mps)
    with pytest.raises(ConfigError) as refused:
        resolve_device(asked)
    message = str(refused.value)
    assert message.startswith(f"train.device={asked}, but {why}") and "\n" not in message
    assert "fix: --set train.device=auto" in message
    assert f"allowed: auto, cpu{', cuda, cuda:0' if cuda else ''}{', mps' if mps else ''};" in (
        message
    )


@pytest.mark.parametrize("device", ["mps", "cuda:3"])
def test_the_cli_refuses_a_missing_device_in_one_line_before_any_work(tmp_path, device):
    """This machine has no GPU: both are missing here."""
    result = fmnist_cli(
        "train", "--recipe", "fast", "--set", f"train.device={device}", "--out", tmp_path / "runs"
    )
    assert f"train.device={device}, but" in assert_one_line_on_stderr(result)
    assert not list((tmp_path / "runs").rglob("*")), "no run folder or lock is made"


def test_device_names_are_checked_with_the_config():
    assert build_config({"train": {"device": "cuda:1"}}).train.device == "cuda:1"
    for wrong in ("gpu", "cuda:", "cuda:-1", "mps:0", "CPU"):
        with pytest.raises(ConfigError, match="'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"):
            build_config({"train": {"device": wrong}})


def test_an_apple_gpu_trains_in_fp32_unless_asked_and_then_is_warned():
    auto = choose_precision("auto", "mps", hardware.native_bf16(torch.device("mps")))
    assert auto.precision == "fp32" and "not measured on Apple GPUs" in auto.reason
    asked = choose_precision("bf16", "mps", native=False)
    assert asked.precision == "bf16" and "not measured" in asked.warning


def test_a_mac_runs_fast_as_written_not_the_cpu_variant():
    """auto on a Mac trains on its GPU, not on a CPU without native bf16."""
    resolved = plan(load_recipe("fast"), machine=MACHINES["mps"])[0].config
    assert resolved.variant is None and resolved.train.epochs == 13
    on_its_cpu = plan(
        load_recipe("fast"), overrides={"train.device": "cpu"}, machine=MACHINES["mps"]
    )
    assert on_its_cpu[0].config.variant is not None


def test_memory_that_cannot_be_measured_does_not_refuse_a_run(monkeypatch):
    """No /proc on a Linux sandbox: psutil raises, there is no cgroup file, so nothing is known."""

    def no_proc():
        raise FileNotFoundError("/proc/meminfo")

    monkeypatch.setattr(hardware.psutil, "virtual_memory", no_proc)
    monkeypatch.setattr(hardware, "_cgroup_room", lambda: None)
    assert hardware.free_bytes(torch.device("cpu")) is None
    hardware.check_memory(build_config({}), torch.device("cpu"))  # no refusal
