"""Precision chosen by the hardware: auto is bf16 only where the device multiplies bf16 natively."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import torch

import fmnist
from fmnist.config import RunConfig
from fmnist.recipes import MACHINES, load_recipe
from fmnist.runner.resolve import plan
from fmnist.schema import parse_overrides
from fmnist.training.hardware import choose_precision, cpu_bf16_is_native, native_bf16
from tests.conftest import ROOT, fmnist_cli, tiny


@pytest.mark.parametrize("device_type", ["cpu", "cuda"])
def test_auto_is_bf16_only_where_it_is_native(device_type):
    assert choose_precision("auto", device_type, native=True).precision == "bf16"
    assert choose_precision("auto", device_type, native=False).precision == "fp32"


def test_explicit_precision_is_kept_and_emulated_bf16_is_warned_about():
    assert choose_precision("fp32", "cpu", native=True).precision == "fp32"
    emulated = choose_precision("bf16", "cpu", native=False)
    assert emulated.precision == "bf16" and "no native bf16" in emulated.warning
    assert choose_precision("bf16", "cpu", native=True).warning is None


def test_native_bf16_follows_what_the_cpu_reports():
    """oneDNN limited to AVX2 (as on most laptops and older AMD servers) reports no native bf16."""
    probe = (
        "import torch; from fmnist.training.hardware import native_bf16; "
        "print(native_bf16(torch.device('cpu')))"
    )
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
    if "ONEDNN_MAX_CPU_ISA" not in os.environ and (
        torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    ):
        assert native_bf16(torch.device("cpu"))


def test_a_run_on_a_cpu_without_native_bf16_trains_in_fp32_records_why_and_resumes_in_fp32(
    tmp_path, real_data_dir
):
    script = (
        "import sys, fmnist; from tests.conftest import tiny; "
        "print(fmnist.train(tiny(train={'epochs': 1}), out=sys.argv[1], verbose=False).path)"
    )
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "FMNIST_DATA": str(real_data_dir)}
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    run = fmnist.load_run(out.stdout.strip().splitlines()[-1])
    recorded = json.loads((run.path / "env.json").read_text())
    assert (
        recorded["precision"] == run.summary["precision"] == "fp32"
        and "no native bf16" in recorded["precision_reason"]
    )
    assert (
        recorded["cpu"]["native_bf16"] is False and recorded["cpu"]["onednn_max_cpu_isa"] == "AVX2"
    )
    # Finishing it here, where auto may mean bf16, keeps the precision the run started in.
    (run.path / "summary.json").unlink()
    assert fmnist.resume(run.path, verbose=False).summary["precision"] == "fp32"


def _resolved_fast(*overrides: str, machine: str) -> RunConfig:
    fields = parse_overrides(overrides)
    return plan(load_recipe("fast"), overrides=fields, machine=MACHINES[machine])[0].config


def test_fast_takes_its_fp32_variant_on_a_cpu_without_native_bf16():
    variant = load_recipe("fast").fp32_variant
    resolved = _resolved_fast(machine="cpu-fp32")
    assert (
        resolved.train.epochs
        == variant.set["train.epochs"]
        != load_recipe("fast").config["train"]["epochs"]
        and resolved.variant == f"fp32: {variant.why}"
    )
    # --set wins over the variant; an explicit precision means the user chose, so no variant is
    # taken; nor where the run trains in bf16 (a bf16 CPU, a GPU) or without a machine in view.
    assert _resolved_fast("train.epochs=2", machine="cpu-fp32").train.epochs == 2
    assert _resolved_fast("train.precision=fp32", machine="cpu-fp32").variant is None
    assert (
        _resolved_fast("train.device=cpu", machine="cuda").variant is None
    )  # bf16 CPU in MACHINES
    assert all(_resolved_fast(machine=kind).variant is None for kind in ("cpu-bf16", "cuda"))
    assert plan(load_recipe("fast"))[0].config.variant is None


@pytest.mark.parametrize(
    ("chip", "avx512_bf16", "amx", "onednn_bf16", "isa_limit", "native"),
    [
        ("Sapphire Rapids", True, True, True, None, True),
        ("Zen 4", True, False, True, None, True),
        ("Ice Lake / Cascade Lake (oneDNN converts in software)", False, False, True, None, False),
        ("an AVX2-only laptop", False, False, False, None, False),
        ("Sapphire Rapids limited to AVX2", True, True, False, "AVX2", False),
        ("Sapphire Rapids limited to AVX-512 without bf16", True, True, True, "AVX512_CORE", False),
        ("Sapphire Rapids limited to its AMX", True, True, True, "AVX512_CORE_AMX", True),
    ],
)
def test_bf16_is_native_only_where_the_chip_has_bf16_instructions(
    chip, avx512_bf16, amx, onednn_bf16, isa_limit, native
):
    assert (
        cpu_bf16_is_native(
            avx512_bf16=avx512_bf16, amx=amx, onednn_bf16=onednn_bf16, isa_limit=isa_limit
        )
        is native
    ), chip


def test_a_slow_epoch_reports_its_progress_in_a_log_and_quiet_stays_quiet(
    tmp_path, monkeypatch, capsys
):
    """Where no live bar can be drawn (a pipe, a log file), a line with images/s and time left."""
    monkeypatch.setattr(
        "fmnist.training.progress.LOG_EVERY_S", 0.0
    )  # every epoch counts as slow here
    fmnist.train(tiny(train={"epochs": 1}), out=tmp_path / "loud", verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert any(
        re.fullmatch(r"  epoch 1/1: [\d,]+/1,000 images \(\d+%\), [\d,]+ img/s, \d+ s left", line)
        for line in lines
    ), lines
    assert any(line.startswith("precision: ") for line in lines)
    fmnist.train(tiny(train={"epochs": 1}), out=tmp_path / "quiet", verbose=False)
    assert capsys.readouterr().out == ""


def test_a_run_from_before_precision_was_recorded_keeps_the_fp32_it_trained_in_on_a_cpu(tmp_path):
    """Older run folders have no precision in env.json; auto then meant fp32 on a CPU."""
    run = fmnist.train(tiny(train={"epochs": 1}), out=tmp_path, verbose=False)
    assert fmnist.load_run(run.path).config.train.precision == run.summary["precision"]
    env_path = run.path / "env.json"
    env = json.loads(env_path.read_text())
    for key in ("precision", "precision_reason", "variant", "cpu"):
        env.pop(key)
    env_path.write_text(json.dumps(env))
    assert fmnist.load_run(run.path).config.train.precision == "fp32"


def test_fmnist_config_shows_a_recipe_as_written_or_for_the_machine_asked_for():
    written = fmnist_cli("config", "--recipe", "fast")
    assert written.returncode == 0, written.stderr
    recipe = load_recipe("fast")
    written_epochs, epochs = (
        recipe.config["train"]["epochs"],
        recipe.fp32_variant.set["train.epochs"],
    )
    assert f"epochs: {written_epochs}" in written.stdout and "--machine cpu-fp32" in written.stdout
    fp32 = fmnist_cli("config", "--recipe", "fast", "--machine", "cpu-fp32")
    assert f"epochs: {epochs}" in fp32.stdout and "variant: 'fp32:" in fp32.stdout
    unknown = fmnist_cli("config", "--recipe", "fast", "--machine", "mars")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
    assert "unknown machine 'mars'" in unknown.stderr and "cpu-fp32" in unknown.stderr
