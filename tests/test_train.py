"""The trainer: schedules, early stopping, divergence, determinism, kill-and-resume (optimisers:
test_behaviour)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

import fmnist
from fmnist.config import OptimConfig, ScheduleConfig
from fmnist.errors import TrainingDiverged
from fmnist.runs import RunDir
from fmnist.training.optim import build_optimizer, lr_factor
from fmnist.training.trainer import load_checkpoint
from tests.conftest import tiny


def test_momentum_defaults_to_0_9_for_sgd_and_to_0_for_rmsprop_unless_set():
    model = torch.nn.Linear(4, 2)
    momentum = lambda **optim: (  # noqa: E731
        build_optimizer(model, OptimConfig(**optim)).param_groups[0]["momentum"]
    )
    assert (
        momentum(name="sgd") == 0.9
        and momentum(name="rmsprop") == 0.0
        and momentum(name="rmsprop", momentum=0.5) == 0.5
    )


@pytest.mark.parametrize(
    "schedule", ["constant", "exponential", "step", "plateau", "onecycle", "cosine"]
)
def test_every_schedule_runs_and_sets_the_learning_rate(tmp_path, schedule):
    cfg = tiny(
        optim={"lr": 0.01},
        schedule={"name": schedule, "gamma": 0.5, "step_size": 1, "patience": 0},
        train={"epochs": 3},
    )
    run = fmnist.train(cfg, out=tmp_path, verbose=False)
    lrs = [row["lr"] for row in run.metrics]
    assert len(lrs) == 3
    if schedule == "constant":
        assert lrs == [0.01] * 3
    elif schedule in ("exponential", "step", "onecycle", "cosine"):
        assert lrs[-1] < lrs[0]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's jit, loaded by Dynamo
def test_a_compiled_step_follows_the_schedule_without_compiling_again(tmp_path, monkeypatch):
    """The LR changes every step: the compiled step must read it, not bake it in, so a run of
    three epochs compiles no more graphs than a run of one. (On an H200, torch 2.11 baked a float
    LR into the compiled optimizer step and compiled it again for each new value, so the trainer
    hands it a tensor; a CPU's Dynamo lifts the float, so this checks the tensor path on a CPU.)
    """
    import torch._dynamo

    graphs = []

    def counting_backend(graph, example_inputs):  # Dynamo's graphs, run eagerly (no C++ build)
        graphs.append(graph)
        return graph.forward

    original = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn: original(fn, backend=counting_backend))
    # Dynamo gives up recompiling after 8 tries: above the 30 steps, so every recompile counts.
    monkeypatch.setattr(torch._dynamo.config, "recompile_limit", 100)

    def compiled_graphs(epochs: int) -> int:
        torch._dynamo.reset()
        graphs.clear()
        cfg = tiny(
            optim={"name": "sgd", "lr": 0.01},
            schedule={"name": "onecycle"},
            train={"epochs": epochs, "compile": True},
        )
        run = fmnist.train(cfg, out=tmp_path / str(epochs), verbose=False)
        lrs = [row["lr"] for row in run.metrics]
        assert all(isinstance(lr, float) for lr in lrs) and len(set(lrs)) == epochs
        return len(graphs)

    assert compiled_graphs(3) == compiled_graphs(1) < 10  # 10 steps an epoch


def test_schedule_shapes():
    total, per_epoch = 100, 10
    onecycle = [
        lr_factor(
            ScheduleConfig(name="onecycle", warmup=0.2, start_factor=0.1), s, total, per_epoch
        )
        for s in range(total)
    ]
    assert (
        onecycle[0] == pytest.approx(0.1)
        and max(onecycle) == pytest.approx(1.0)
        and onecycle.index(1.0) == 20
    )
    assert onecycle[-1] < 0.02
    cosine = [
        lr_factor(ScheduleConfig(name="cosine", warmup=0.0), s, total, per_epoch)
        for s in range(total)
    ]
    assert cosine[0] == 1.0 and cosine == sorted(cosine, reverse=True)
    assert lr_factor(
        ScheduleConfig(name="step", gamma=0.1, step_size=3), 35, total, per_epoch
    ) == pytest.approx(0.1)
    assert lr_factor(
        ScheduleConfig(name="exponential", gamma=0.5), 20, total, per_epoch
    ) == pytest.approx(0.25)
    # Study 000's lr = 0.0001 + 0.003 * e^(-step/2000), as peak 0.0031 decaying towards 1/31 of it.
    floored = ScheduleConfig(name="exponential", gamma=math.exp(-550 / 2000), end_factor=1 / 31)
    for step in (0, 1000, 10_000):
        assert 0.0031 * lr_factor(floored, step, 10_000, 550) == pytest.approx(
            0.0001 + 0.003 * math.exp(-step / 2000)
        )


def test_label_smoothing_l1_l2_ema_and_tta_train(tmp_path):
    cfg = tiny(
        model={"name": "cnn", "filters": [8, 16], "dense": [32], "batch_norm": True},
        optim={"l1": 1e-5, "l2": 1e-4},
        train={"epochs": 5, "label_smoothing": 0.1, "ema": 0.9, "tta_flip": True},
        augment={"hflip": True, "shift": 2},
    )
    run = fmnist.train(cfg, out=tmp_path, verbose=False)
    assert run.summary["test_accuracy"] > 0.5


def test_l2_penalty_shrinks_weights(tmp_path):
    sgd = {"name": "sgd", "lr": 0.1}
    plain = fmnist.train(tiny(optim=sgd, train={"epochs": 5}), out=tmp_path / "a", verbose=False)
    l2 = fmnist.train(
        tiny(optim={**sgd, "l2": 0.05}, train={"epochs": 5}), out=tmp_path / "b", verbose=False
    )
    norm = lambda run: sum(p.pow(2).sum() for p in run.model.parameters() if p.ndim > 1).item()  # noqa: E731
    assert norm(l2) < 0.7 * norm(plain)


def test_same_seed_same_result_different_seed_different(tmp_path):
    a = fmnist.train(tiny(seed=1), out=tmp_path / "a", verbose=False)
    b = fmnist.train(tiny(seed=1), out=tmp_path / "b", verbose=False)
    c = fmnist.train(tiny(seed=2), out=tmp_path / "c", verbose=False)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(a.metrics) == strip(b.metrics)
    assert strip(a.metrics) != strip(c.metrics)


def test_early_stopping_restores_the_best_epoch(tmp_path):
    cfg = tiny(optim={"lr": 0.05}, train={"epochs": 30, "early_stopping": 2})
    run = fmnist.train(cfg, out=tmp_path, verbose=False)
    rows = run.metrics
    best = max(rows, key=lambda r: r["val_accuracy"])
    assert len(rows) < 30
    assert run.summary["best_epoch"] == best["epoch"] == len(rows) - 2
    assert run.evaluate("val")["accuracy"] == pytest.approx(best["val_accuracy"])


def test_divergence_stops_with_a_clear_error_and_keeps_the_record(tmp_path, monkeypatch):
    # A schedule that is sane for two epochs, then multiplies the LR by a million.
    steps_per_epoch = 1000 // 100
    monkeypatch.setattr(
        "fmnist.training.trainer.lr_factor",
        lambda cfg, step, *_: 1.0 if step < 2 * steps_per_epoch else 1e6,
    )
    cfg = tiny(optim={"name": "sgd", "lr": 0.1, "momentum": 0.9}, train={"epochs": 5})
    with pytest.raises(
        TrainingDiverged, match="diverged: loss is (nan|inf) in epoch 3.*epoch 2.*lower optim.lr"
    ):
        fmnist.train(cfg, run_dir=tmp_path / "run", verbose=False)
    run_dir = RunDir(tmp_path / "run")
    assert not run_dir.is_complete
    assert [row["epoch"] for row in run_dir.read_metrics()] == [1, 2]
    state = load_checkpoint(run_dir.last_ckpt)
    assert state["epoch"] == 2 and all(torch.isfinite(t).all() for t in state["model"].values())


def _train_cmd(config_path, out):
    return [
        sys.executable,
        "-m",
        "fmnist",
        "train",
        "--config",
        str(config_path),
        "--out",
        str(out),
        "--quiet",
    ]


def _only_run(out):
    (run,) = list(out.iterdir())
    return run


def test_kill_minus_9_and_resume_gives_the_same_final_model(tmp_path):
    cfg = tiny(
        data={"train_subset": 6000, "val_size": 1000},
        model={
            "name": "cnn",
            "filters": [8, 16],
            "dense": [32],
            "batch_norm": True,
            "dropout": 0.2,
        },
        augment={"hflip": True, "shift": 1},
        schedule={"name": "onecycle"},
        train={"epochs": 6, "batch_size": 64},
    )
    config_path = tmp_path / "cfg.yaml"
    config_path.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(_train_cmd(config_path, tmp_path / "straight"), check=True, env=env)
    reference = _only_run(tmp_path / "straight")

    out = tmp_path / "killed"
    kills = 0
    for wait_epochs in (2, 4):  # kill twice, at different moments of training
        proc = (
            subprocess.Popen(_train_cmd(config_path, out), env=env)
            if kills == 0
            else subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "fmnist",
                    "train",
                    "--resume",
                    str(_only_run(out)),
                    "--quiet",
                ],
                env=env,
            )
        )
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            runs = list(out.iterdir()) if out.exists() else []
            if runs and len(RunDir(runs[0]).read_metrics()) >= wait_epochs:
                time.sleep(0.3)  # land somewhere inside the next epoch
                break
            time.sleep(0.05)
        assert proc.poll() is None, (
            "training finished before it could be killed; make the test run longer"
        )
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    resumed = _only_run(out)
    assert not RunDir(resumed).is_complete
    subprocess.run(
        [sys.executable, "-m", "fmnist", "train", "--resume", str(resumed), "--quiet"],
        check=True,
        env=env,
    )

    final_a = load_checkpoint(reference / "ckpt" / "final.pt")["model"]
    final_b = load_checkpoint(resumed / "ckpt" / "final.pt")["model"]
    assert final_a.keys() == final_b.keys()
    assert all(torch.equal(final_a[k], final_b[k]) for k in final_a)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(RunDir(reference).read_metrics()) == strip(RunDir(resumed).read_metrics())
    summary_a, summary_b = RunDir(reference).read_summary(), RunDir(resumed).read_summary()
    assert summary_a["test_accuracy"] == summary_b["test_accuracy"]
    assert summary_a["confusion_matrix"] == summary_b["confusion_matrix"]


@pytest.mark.parametrize("restore_best, kept", [(True, 0.9), (False, 0.8)])
def test_the_summary_gives_the_validation_accuracy_of_the_model_the_run_keeps(
    tmp_path, restore_best, kept
):
    run = RunDir.make(tmp_path / "run")
    run.write_config({"train": {"restore_best": restore_best}})
    for row in [{"epoch": 1, "val_accuracy": 0.9}, {"epoch": 2}, {"epoch": 3, "val_accuracy": 0.8}]:
        run.append_metrics(row)
    assert run.kept_val_accuracy() == kept  # best.pt is restored, or the last epoch is kept
