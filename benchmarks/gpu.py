"""GPU benchmark: fmnist's GPU recipes against the peer's loop on CUDA, in one invocation.

    # fast_gpu for 5 seeds, the peer on CUDA for 12 epochs (past its best)
    python benchmarks/gpu.py
    # as much as one 10-minute command holds: fast_gpu x 5, a compiled fast_gpu, then `best`
    # trained for as many epochs as the time left holds (paced by 1- and 3-epoch probes)
    python benchmarks/gpu.py --budget 550 --recipe fast_gpu:5 \
        --recipe "fast_gpu:1 train.compile=true" --recipe "best:1 train.epochs=fit"
    # a check of this script on a CPU (tiny runs; the numbers mean nothing)
    python benchmarks/gpu.py --device cpu --recipe fast:1 --peer-epochs 1 --set train.epochs=1

Every program runs as a fresh process, one after the other; wall times are from process start.
Each fmnist run also records its training seconds (the figure the GPU aims are stated in) and the
training time at the end of each epoch (so a compile's one-off cost shows apart from the pace).
The peer is `plain_torch_cuda.py`: the conventional loop of `plain_torch_cnn.py` (--peer, default
../shared/peers/ or $FMNIST_PEER), moved to the GPU. Both read the IDX files locally
($FMNIST_PEER_DATA and $FMNIST_DATA, else /usr/share/datasets/fashion-mnist): a GPU machine
without a network needs them copied along.

GPU time is lent by the quarter hour: with --budget the script starts no run that the time left
cannot hold (judged by the same item's previous run) and records what it skipped; a run still going
at the budget's end is interrupted like Ctrl-C and its epochs so far are recorded; a run that fails
is recorded with its exit code and the next item goes on.

Prints a table and writes benchmarks/results/gpu-<date>-<gpu>.json (again after every run, so a
command stopped at its time limit keeps what it measured) and, at the end, the .png.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from speed import (
    DEFAULT_PEER,
    ROOT,
    RunStopped,
    mean_std,
    peer_point_at,
    plot_points,
    run_fmnist,
    run_peer,
    write_json,
    write_record,
)

CUDA_PEER = Path(__file__).resolve().parent / "plain_torch_cuda.py"


FIT = "train.epochs=fit"
# Two short runs: the wall time that two more epochs add is an epoch's pace, checkpoints included.
PROBE_EPOCHS = (1, 3)
FIT_SAFETY = 0.9  # of the time left: validations the probes did not see, slower epochs


@dataclass
class Item:
    """One --recipe: a recipe, how many seeds, and overrides for its runs."""

    name: str
    seeds: int
    overrides: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return label(self.name, self.overrides)


def label(recipe: str, overrides: list[str]) -> str:
    """How tables and plots name an item: 'fast_gpu train.compile=true'."""
    return " ".join([recipe, *overrides])


def parse_item(text: str) -> Item:
    """'fast_gpu:1 train.compile=true' -> Item('fast_gpu', 1, ['train.compile=true'])."""
    head, *overrides = shlex.split(text) or [""]
    name, _, seeds = head.partition(":")
    if not name or not seeds.isdigit() or int(seeds) < 1:
        sys.exit(f"--recipe wants 'NAME:SEEDS [KEY=VALUE ...]' (seeds >= 1), got '{text}'")
    bad = [o for o in overrides if "=" not in o]
    if bad:
        sys.exit(f"--recipe overrides are KEY=VALUE, got '{bad[0]}' in '{text}'")
    return Item(name, int(seeds), overrides)


class Clock:
    """Seconds left of --budget (infinite without one), from this script's start."""

    def __init__(self, budget: float | None) -> None:
        self.start, self.budget = time.perf_counter(), budget

    def left(self) -> float:
        if self.budget is None:
            return math.inf
        return self.budget - (time.perf_counter() - self.start)


def device_record(device: str) -> dict:
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        return {
            "name": props.name,
            "memory_gib": round(props.total_memory / 2**30, 1),
            "capability": f"{props.major}.{props.minor}",
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
        }
    return {"name": "cpu", "threads": torch.get_num_threads()}


def summarize_recipe(item: Item, runs: list[dict], peer: dict, **extra) -> dict:
    """The item's runs so far with their mean ± std; ``extra`` holds a probe, a skip or an error."""
    summary = {"recipe": item.name, "overrides": item.overrides, "runs": runs, **extra}
    if not runs:
        return summary
    acc_mean, acc_std = mean_std([r["accuracy"] for r in runs])
    wall_mean, _ = mean_std([r["wall"] for r in runs])
    wall_max = max(r["wall"] for r in runs)
    train_mean, train_std = mean_std([r["train_seconds"] for r in runs])
    reaches = acc_mean >= peer["best_accuracy"]
    return summary | {
        "accuracy_mean": acc_mean,
        "accuracy_std": acc_std,
        "wall_mean": wall_mean,
        "train_seconds_mean": train_mean,
        "train_seconds_std": train_std,
        "wall_max": wall_max,
        # The mean run and the slowest one, as speed.py quotes them: a user waits for a run.
        "speedup_to_peer_best": peer["time_to_best"] / wall_mean if reaches else None,
        "speedup_to_peer_best_slowest_run": peer["time_to_best"] / wall_max if reaches else None,
        "peer_at_equal_time": peer_point_at(peer["curve"], wall_mean),
    }


def fitted_epochs(short: dict, long: dict, seconds_left: float) -> int:
    """Epochs a full run can train in ``seconds_left``, from two probes of different lengths:
    their wall times' difference is the pace of an epoch (checkpoint included), the rest of the
    shorter one's wall time the costs paid once (start-up, data, first-epoch warm-up, test). The
    pace is never taken below the longer probe's training time per epoch after its first: start-up
    times vary by a second or so, more than a short epoch (its last epoch holds a validation, which
    errs on the safe side)."""
    wall_pace = (long["wall"] - short["wall"]) / (long["epochs"] - short["epochs"])
    seconds = long["epoch_seconds"]
    pace = max(wall_pace, (seconds[-1] - seconds[0]) / (len(seconds) - 1))
    once = short["wall"] - short["epochs"] * pace
    return math.floor((FIT_SAFETY * seconds_left - max(once, 0.0)) / pace)


def run_item(item: Item, args: argparse.Namespace, clock: Clock, peer: dict, save) -> dict:
    """Runs one --recipe's seeds, saving the record after each run; stops at a failure, at the
    budget's end (keeping the stopped run's epochs), or when the time left cannot hold another
    run like the last."""
    overrides, extra, runs = [*args.set, *item.overrides], {}, []

    def run(seed: int, epochs: list[str]) -> dict:
        if clock.left() <= 0:
            raise RunStopped(0.0, [])
        return run_fmnist(item.name, seed, [*overrides, *epochs], args.device, clock.left())

    try:
        if FIT in overrides:
            overrides.remove(FIT)
            probes = [run(0, [f"train.epochs={n}"]) for n in PROBE_EPOCHS]
            epochs = fitted_epochs(*probes, clock.left())
            extra = {"probes": probes, "fitted_epochs": epochs}
            print(f"  probes: {[round(p['wall'], 1) for p in probes]} s wall -> {epochs} epochs")
            save(summarize_recipe(item, runs, peer, **extra))
            if epochs < 1:
                return summarize_recipe(item, runs, peer, **extra, skipped="no time for an epoch")
            overrides.append(f"train.epochs={epochs}")
        for seed in range(item.seeds):
            if runs and clock.left() < max(r["wall"] for r in runs):
                print(f"  skipped seeds {seed}-{item.seeds - 1}: {clock.left():.0f} s left")
                extra["skipped"] = f"seeds {seed}-{item.seeds - 1}: over the budget"
                break
            runs.append(run(seed, []))
            print(
                f"  seed {seed}: {runs[-1]['accuracy']:.4f} in {runs[-1]['train_seconds']:.1f} s"
                f" training, {runs[-1]['wall']:.1f} s wall",
                flush=True,
            )
            save(summarize_recipe(item, runs, peer, **extra))
    except subprocess.CalledProcessError as failure:
        print(f"  failed: exit code {failure.returncode} (its error is above)", flush=True)
        extra["error"] = f"exit code {failure.returncode}"
    except RunStopped as stopped:
        print(f"  {stopped}", flush=True)
        extra |= {"stopped": str(stopped), "stopped_epochs": stopped.metrics}
    return summarize_recipe(item, runs, peer, **extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--recipe",
        action="append",
        type=parse_item,
        help="'NAME:SEEDS [KEY=VALUE ...]', repeatable (default fast_gpu:5); "
        f"'{FIT}' trains as many epochs as the budget's time left holds.",
    )
    parser.add_argument(
        "--peer", type=Path, default=Path(os.environ.get("FMNIST_PEER", DEFAULT_PEER))
    )
    # Enough for the peer to pass its best (its accuracy still rose at epoch 3 on an H200); the
    # record says when the best was the last epoch, and the speed-up is then a lower bound.
    parser.add_argument("--peer-epochs", type=int, default=12)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--set", action="append", default=[], help="Override for every run.")
    parser.add_argument("--budget", type=float, help="Wall seconds this command may take.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    items = args.recipe or [parse_item("fast_gpu:5")]
    if any(FIT in [*args.set, *item.overrides] for item in items) and args.budget is None:
        sys.exit(f"'{FIT}' needs --budget SECONDS: the time it fits the epochs into")
    if not args.peer.is_file():
        sys.exit(f"the peer {args.peer} is missing: pass --peer PATH to plain_torch_cnn.py")
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device here: run on a GPU machine, or --device cpu to check the script")
    clock = Clock(args.budget)
    record = {
        "date": time.strftime("%Y-%m-%d"),
        "device": device_record(args.device),
        "torch": torch.__version__,
        "overrides": args.set,
        "budget_s": args.budget,
        "recipes": [],
    }
    print(f"device: {record['device']}", flush=True)
    gpu = re.sub(r"[^a-z0-9]+", "-", record["device"]["name"].lower()).strip("-")
    stem = args.out / f"gpu-{record['date']}-{gpu}"
    args.out.mkdir(parents=True, exist_ok=True)

    os.environ.update(FMNIST_PEER=str(args.peer), FMNIST_PEER_DEVICE=args.device)
    print(f"peer: {CUDA_PEER.name} on {args.device}, {args.peer_epochs} epochs", flush=True)
    curve = run_peer(CUDA_PEER, args.peer_epochs, seed=0)
    best = max(p["accuracy"] for p in curve)
    time_to_best = min(p["wall"] for p in curve if p["accuracy"] == best)
    record["peer"] = {
        "script": CUDA_PEER.name,
        "curve": curve,
        "best_accuracy": best,
        "time_to_best": time_to_best,
        # At its last epoch the peer may still have been rising: then its best is a lower bound.
        "best_is_last_epoch": curve[-1]["accuracy"] == best,
    }
    if record["peer"]["best_is_last_epoch"]:
        print("  the peer's best is its last epoch: raise --peer-epochs to see it level off")

    def save(summary: dict) -> None:
        record["recipes"][-1] = summary
        write_json(record, stem)

    for item in items:
        print(f"fmnist: {item.label}, {item.seeds} seed(s); {clock.left():.0f} s left", flush=True)
        record["recipes"].append({})
        save(run_item(item, args, clock, record["peer"], save))
    print_table(record)
    save_plot(record, stem)


def print_table(record: dict) -> None:
    peer = record["peer"]
    print(f"\n{record['device']['name']}: the peer's best {100 * peer['best_accuracy']:.2f} %")
    print(
        "| recipe | seeds | test % (mean ± std) | training s | wall s (max) "
        "| speed-up to peer's best: mean / slowest run |"
    )
    print("|---|---|---|---|---|---|")
    for r in record["recipes"]:
        name = label(r["recipe"], r["overrides"])
        if not r["runs"]:
            why = r.get("error") or r.get("skipped") or r.get("stopped")
            print(f"| {name} | 0 | {why} | | | |")
            continue
        speedup, slowest = r["speedup_to_peer_best"], r.get("speedup_to_peer_best_slowest_run")
        print(
            f"| {name} | {len(r['runs'])} "
            f"| {100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f} "
            f"| {r['train_seconds_mean']:.1f} ± {r['train_seconds_std']:.1f} "
            f"| {r['wall_mean']:.1f} ({r.get('wall_max', r['wall_mean']):.1f}) "
            f"| {'n/a' if speedup is None else f'{speedup:.2f}x / {slowest:.2f}x'} |"
        )


def save_plot(record: dict, stem: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(7, 4.5))
    peer = record["peer"]
    plot_points(ax, peer["curve"], "o-", f"peer on the GPU: {peer['script']} (per epoch)")
    for r in filter(lambda r: r["runs"], record["recipes"]):
        name = label(r["recipe"], r["overrides"])
        plot_points(ax, r["runs"], "s", f"fmnist {name} (one run each)")
    ax.set_xscale("log")
    ax.set_xlabel("wall time from process start (s, log scale)")
    write_record(
        record, stem, ax, f"Fashion-MNIST accuracy vs wall time: {record['device']['name']}"
    )


if __name__ == "__main__":
    main()
