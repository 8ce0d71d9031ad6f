"""Speed benchmark: fmnist's `fast` recipe against the conventional PyTorch loop, in one invocation.

    # 5 seeds, the peer for 6 epochs (about 12 minutes on 2 cores)
    python benchmarks/speed.py
    # a quick look (about 4 minutes)
    python benchmarks/speed.py --seeds 2 --peer-epochs 2 --budgets ""
    # as on an AVX2-only CPU
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/speed.py

Both programs run as fresh processes, one after the other, on the same machine; every wall time
is measured from process start (interpreter start-up and imports included) to the line reporting
a result. fmnist evaluates the test set once per run, so its accuracy-vs-time curve is a ladder
of separate runs with smaller epoch budgets (each a complete one-cycle schedule), not test
evaluations in the middle of one run. Speed-ups are quoted for the mean run and the slowest one.

The CPU's kind decides the precision (bf16 where oneDNN runs it natively, fp32 elsewhere), so the
record names it, with the instruction sets seen and any ISA limit in force (ONEDNN_MAX_CPU_ISA,
ATEN_CPU_CAPABILITY: the way to measure an AVX2-only CPU on a newer one; both programs inherit it).

Prints the table, and writes benchmarks/results/speed-<date>.json and .png.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from fmnist.records.verify import record_dicts
from fmnist.training.hardware import cpu_features, gpu_name, native_bf16, synchronize

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PEER = ROOT.parent / "shared" / "peers" / "plain_torch_cnn.py"
PEER_LINE = re.compile(r"epoch (\d+) elapsed ([\d.]+) test_accuracy ([\d.]+)")


def matmul_peak_gflops(device: str, dtype: torch.dtype, n: int = 4096, repeats: int = 10) -> float:
    """The machine's practical matmul peak: a large square torch.mm, timed after a warm-up."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    synchronize(torch.device(device))
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(torch.device(device))
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def run_peer(
    peer: Path, epochs: int, seed: int, *more: str, own_elapsed: bool = False
) -> list[dict]:
    """The peer's curve: one point per epoch, wall seconds from its process start (as this script
    sees its lines arrive; with ``own_elapsed``, the ``elapsed`` the program prints, for
    benchmarks/test_curve.py, which leaves its own test evaluations out)."""
    start = time.perf_counter()
    command = [sys.executable, str(peer), str(epochs), str(seed), *more]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    curve = []
    for line in proc.stdout:
        match = PEER_LINE.search(line)
        if match:
            wall = float(match[2]) if own_elapsed else time.perf_counter() - start
            curve.append({"epoch": int(match[1]), "wall": wall, "accuracy": float(match[3])})
            print(
                f"  {peer.stem} {' '.join(more[:1])} epoch {match[1]}: {float(match[3]):.4f} at "
                f"{wall:.1f}s",
                flush=True,
            )
    if proc.wait():
        sys.exit(f"{peer} failed with exit code {proc.returncode}")
    return curve


class RunStopped(Exception):
    """A run interrupted at its time limit, with the epochs it finished."""

    def __init__(self, wall: float, metrics: list[dict]) -> None:
        super().__init__(f"stopped at the time limit after {len(metrics)} epoch(s), {wall:.0f} s")
        self.wall, self.metrics = wall, metrics


def run_fmnist(
    recipe: str, seed: int, overrides: list[str], device: str, time_limit: float | None = None
) -> dict:
    """One complete `fmnist train --recipe` process; wall seconds from process start to exit.

    Past ``time_limit`` seconds the run is interrupted as Ctrl-C would, and RunStopped carries the
    epochs it finished (the run folder is a temporary one)."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [
            sys.executable,
            "-m",
            "fmnist",
            "train",
            "--recipe",
            recipe,
            "--seed",
            str(seed),
            "--out",
            out,
            "--quiet",
            "--set",
            f"train.device={device}",
            *sum((["--set", o] for o in overrides), []),
        ]
        start, stopped = time.perf_counter(), False
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        try:
            proc.wait(timeout=time_limit)
        except subprocess.TimeoutExpired:
            stopped = True
            proc.send_signal(signal.SIGINT)  # as Ctrl-C: it ends its epoch's lines and exits
            with contextlib.suppress(subprocess.TimeoutExpired):  # else it is killed below
                proc.wait(timeout=60)
        finally:
            if proc.poll() is None:  # it ignored the interrupt, or this script is being stopped
                proc.kill()
                proc.wait()
        wall = time.perf_counter() - start
        run_dir = Path(out) / recipe / f"seed{seed}"  # where `fmnist run RECIPE` puts it too
        metrics_file = run_dir / "metrics.jsonl"
        lines = metrics_file.read_text().splitlines() if metrics_file.is_file() else []
        metrics = [json.loads(line) for line in lines]
        if stopped:
            raise RunStopped(wall, metrics)
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, cmd)
        summary = json.loads((run_dir / "summary.json").read_text())
        env = json.loads((run_dir / "env.json").read_text())
        predictions = (run_dir / "test_predictions.txt").read_text().split()
    return {
        "seed": seed,
        "wall": wall,
        "accuracy": summary["test_accuracy"],
        "val_accuracy": summary["val_accuracy"],
        "train_seconds": summary["train_seconds"],
        "epochs": summary["epochs_run"],
        "epoch_seconds": [row["seconds"] for row in metrics],  # training time at each epoch's end
        "macs": summary["macs"],
        "train_images": summary["train_images"],
        "precision": env["precision"],
        "precision_reason": env["precision_reason"],
        "variant": env.get("variant"),
        "overrides": overrides,
        # The predicted class of each official test image, in order: write_record keeps them
        # beside the JSON (one byte an image) so that the accuracy can be recounted.
        "predictions": [int(p) for p in predictions],
    }


def mean_std(values: list[float]) -> tuple[float, float]:
    t = torch.tensor(values, dtype=torch.float64)
    return t.mean().item(), (t.std().item() if len(values) > 1 else 0.0)


def peer_point_at(curve: list[dict], wall: float) -> dict:
    """The peer's first epoch finished at or after ``wall`` seconds: the peer gets at least as much
    time (its last epoch if it finished every epoch sooner)."""
    return next((p for p in curve if p["wall"] >= wall), curve[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="fast")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--peer", type=Path, default=Path(os.environ.get("FMNIST_PEER", DEFAULT_PEER))
    )
    parser.add_argument("--peer-epochs", type=int, default=6)
    parser.add_argument(
        "--budgets",
        default="3",
        help="Comma list of shorter epoch budgets for the accuracy-vs-time ladder (seed 0).",
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    cpu = cpu_features()
    limits = ", ".join(f"{k}={cpu[k]}" for k in ("onednn_max_cpu_isa",) if cpu[k]) or "none"
    print(
        f"CPU kind: {cpu['kind']} (AMX {cpu['amx']}, AVX-512-BF16 {cpu['avx512_bf16']}, "
        f"AVX2 {cpu['avx2']}; ISA limit: {limits}; ATen kernels: {cpu['aten_capability']})",
        flush=True,
    )
    fp32_peak = matmul_peak_gflops(args.device, torch.float32)
    # Emulated bf16 matmul runs at a few GFLOP/s: minutes for nothing the table needs.
    bf16_peak = (
        matmul_peak_gflops(args.device, torch.bfloat16)
        if native_bf16(torch.device(args.device))
        else None
    )
    bf16_text = "n/a (not native)" if bf16_peak is None else f"{bf16_peak:.0f} GFLOP/s"
    print(
        f"matmul peak on {args.device}: fp32 {fp32_peak:.0f} GFLOP/s, bf16 {bf16_text}  "
        f"(torch threads {torch.get_num_threads()})",
        flush=True,
    )

    print(f"peer: {args.peer.name}, {args.peer_epochs} epochs", flush=True)
    peer = run_peer(args.peer, args.peer_epochs, seed=0)
    peer_best = max(p["accuracy"] for p in peer)
    peer_time_to_best = min(p["wall"] for p in peer if p["accuracy"] == peer_best)

    print(f"fmnist: recipe {args.recipe}, {args.seeds} seeds", flush=True)
    runs = []
    for seed in range(args.seeds):
        runs.append(run_fmnist(args.recipe, seed, [], args.device))
        print(
            f"  seed {seed}: {runs[-1]['accuracy']:.4f} in {runs[-1]['wall']:.1f}s wall", flush=True
        )
    ladder = []
    for epochs in [int(e) for e in args.budgets.split(",") if e.strip()]:
        ladder.append(run_fmnist(args.recipe, 0, [f"train.epochs={epochs}"], args.device))
        print(
            f"  {epochs} epochs: {ladder[-1]['accuracy']:.4f} in {ladder[-1]['wall']:.1f}s wall",
            flush=True,
        )

    report = summarize(
        args, cpu, peer, peer_best, peer_time_to_best, runs, ladder, fp32_peak, bf16_peak
    )
    print_table(report)
    save(report, args.out)


def summarize(
    args, cpu, peer, peer_best, peer_time_to_best, runs, ladder, fp32_peak, bf16_peak
) -> dict:
    acc_mean, acc_std = mean_std([r["accuracy"] for r in runs])
    wall_mean, wall_std = mean_std([r["wall"] for r in runs])
    wall_max = max(r["wall"] for r in runs)
    # The mean run must reach the peer's best; the speed-up is then quoted for the mean and the
    # slowest run.
    reaches = acc_mean >= peer_best
    peer_at_equal_time = peer_point_at(peer, wall_mean)
    first = runs[0]
    images_per_second = first["epochs"] * first["train_images"] / first["train_seconds"]
    # fwd + bwd ~ 3x the forward multiply-adds, 2 FLOPs each.
    achieved_gflops = 6 * first["macs"] * images_per_second / 1e9
    return {
        "date": time.strftime("%Y-%m-%d"),
        "device": gpu_name(torch.device(args.device)) or args.device,
        "cpu": cpu,
        "aten_cpu_capability_env": os.environ.get("ATEN_CPU_CAPABILITY"),
        "cpu_threads": torch.get_num_threads(),
        "recipe": args.recipe,
        "precision": sorted({r["precision"] for r in runs}),
        "variant": runs[0]["variant"],
        "peer": {
            "script": args.peer.name,
            "curve": peer,
            "best_accuracy": peer_best,
            "time_to_best": peer_time_to_best,
        },
        "fmnist": {
            "runs": runs,
            "ladder": ladder,
            "accuracy_mean": acc_mean,
            "accuracy_std": acc_std,
            "wall_mean": wall_mean,
            "wall_std": wall_std,
            "wall_max": wall_max,
            "seeds_reaching_peer_best": sum(r["accuracy"] >= peer_best for r in runs),
        },
        "ratios": {
            "mean_run_reaches_peer_best": reaches,
            "fraction_of_peer_time_mean_run": wall_mean / peer_time_to_best if reaches else None,
            "speedup_to_peer_best_mean_run": peer_time_to_best / wall_mean if reaches else None,
            "speedup_to_peer_best_slowest_run": peer_time_to_best / wall_max if reaches else None,
            "peer_at_fmnist_time": peer_at_equal_time,
            "accuracy_gain_at_equal_time": acc_mean - peer_at_equal_time["accuracy"],
        },
        "throughput": {
            "train_images_per_second": images_per_second,
            "achieved_gflops": achieved_gflops,
            "matmul_peak_fp32_gflops": fp32_peak,
            "matmul_peak_bf16_gflops": bf16_peak,
        },
    }


def print_table(r: dict) -> None:
    f, p, q, t = r["fmnist"], r["peer"], r["ratios"], r["throughput"]
    fmt = lambda v, spec: "n/a" if v is None else format(v, spec)  # noqa: E731
    print()
    print(f"| {'':<48} | {'value':>22} |")
    print(f"|{'-' * 50}|{'-' * 24}|")
    rows = [
        (
            "CPU kind (precision)" if r["device"] == "cpu" else "device (precision)",
            f"{r['cpu']['kind'] if r['device'] == 'cpu' else r['device']} "
            f"({'/'.join(r['precision'])})",
        ),
        ("recipe variant", (r["variant"] or "none").split(":")[0]),
        (f"peer best test accuracy ({len(p['curve'])} epochs)", f"{p['best_accuracy']:.4f}"),
        ("peer wall s to its best", f"{p['time_to_best']:.1f}"),
        (
            f"fmnist {r['recipe']} test accuracy, {len(f['runs'])} seeds",
            f"{f['accuracy_mean']:.4f} ± {f['accuracy_std']:.4f}",
        ),
        (
            "fmnist wall s per run (mean ± std / max)",
            f"{f['wall_mean']:.1f} ± {f['wall_std']:.1f} / {f['wall_max']:.1f}",
        ),
        (
            "seeds at or above the peer's best",
            f"{f['seeds_reaching_peer_best']} of {len(f['runs'])}",
        ),
        (
            "mean run's time / peer's time to its best",
            fmt(q["fraction_of_peer_time_mean_run"], ".3f"),
        ),
        (
            "speed-up to the peer's best: mean / slowest run",
            f"{fmt(q['speedup_to_peer_best_mean_run'], '.2f')}x / "
            f"{fmt(q['speedup_to_peer_best_slowest_run'], '.2f')}x",
        ),
        (
            "peer accuracy given >= fmnist's mean wall time",
            f"{q['peer_at_fmnist_time']['accuracy']:.4f} at "
            f"{q['peer_at_fmnist_time']['wall']:.1f} s",
        ),
        ("accuracy gain at equal time (points)", f"{100 * q['accuracy_gain_at_equal_time']:+.2f}"),
        ("training images / s", f"{t['train_images_per_second']:.0f}"),
        ("achieved GFLOP/s (fwd+bwd ~ 6 x MACs)", f"{t['achieved_gflops']:.1f}"),
        (
            "matmul peak GFLOP/s fp32 / bf16",
            f"{t['matmul_peak_fp32_gflops']:.0f} / {fmt(t['matmul_peak_bf16_gflops'], '.0f')}",
        ),
    ]
    for name, value in rows:
        print(f"| {name:<48} | {value:>22} |")


def save(r: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    kind = r["cpu"]["kind"] if r["device"] == "cpu" else r["device"]
    stem = out / f"speed-{r['date']}-{r['device']}-{slug(kind)}"
    _, ax = plt.subplots(figsize=(7, 4.5))
    peer = r["peer"]["curve"]
    plot_points(ax, peer, "o-", f"peer: {r['peer']['script']} (per epoch)")
    points = sorted(r["fmnist"]["ladder"] + r["fmnist"]["runs"], key=lambda x: x["wall"])
    plot_points(ax, points, "s", f"fmnist {r['recipe']} (one run each)")
    ax.axhline(100 * r["peer"]["best_accuracy"], color="gray", linestyle=":", label="peer's best")
    ax.set_xlabel("wall time from process start (s)")
    write_record(r, stem, ax, f"Fashion-MNIST accuracy vs wall time: {kind} ({r['date']})")


def slug(kind: str) -> str:
    """A CPU kind or device in a file name: "fp32 (no native bf16)" -> "fp32-no-native-bf16"."""
    return re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-")


def plot_points(ax, points: list[dict], style: str, label: str) -> None:
    """Test accuracy (%) against wall seconds, one marker per point."""
    ax.plot([p["wall"] for p in points], [100 * p["accuracy"] for p in points], style, label=label)


def write_json(record: dict, stem: Path) -> None:
    """The record as STEM.json, its runs' test predictions as STEM.predictions.npz.

    Each run's predictions leave the JSON for the .npz (uint8, one byte a test image, under the
    key its JSON entry names as `predictions`), so `fmnist verify` can recount them.
    """
    record = json.loads(json.dumps(record))  # the caller's record keeps its predictions
    predictions = {}
    runs = [run for run in record_dicts(record) if isinstance(run.get("predictions"), list)]
    for run in runs:
        key = f"run{len(predictions)}"
        predictions[key] = np.asarray(run.pop("predictions"), dtype=np.uint8)
        run["predictions"] = f"{stem.name}.predictions.npz:{key}"
    if predictions:
        np.savez_compressed(stem.with_name(f"{stem.name}.predictions.npz"), **predictions)
    stem.with_suffix(".json").write_text(json.dumps(record, indent=2))


def write_record(record: dict, stem: Path, ax, title: str) -> None:
    """The record (``write_json``) and its accuracy-vs-time axes, finished, as STEM.png."""
    import matplotlib.pyplot as plt

    write_json(record, stem)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right")
    ax.figure.tight_layout()
    ax.figure.savefig(stem.with_suffix(".png"), dpi=120)
    plt.close(ax.figure)
    print(f"\nsaved {stem.with_suffix('.json')} and {stem.with_suffix('.png')}")


if __name__ == "__main__":
    main()
