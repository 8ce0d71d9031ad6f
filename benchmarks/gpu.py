"""GPU benchmark: fmnist's GPU recipes against the peer's loop on CUDA, in one invocation.

    # fast_gpu for 5 seeds, the peer on CUDA for 3 epochs
    python benchmarks/gpu.py
    # the accuracy recipe, one seed (aim: at most 9 minutes; keep it a command of its own)
    python benchmarks/gpu.py --recipes best:1 --peer-epochs 3
    # a check of this script on a CPU (tiny runs; the numbers mean nothing)
    python benchmarks/gpu.py --device cpu --recipes fast:1 --peer-epochs 1 --set train.epochs=1

Every program runs as a fresh process, one after the other; wall times are from process start.
Each fmnist run also records its training seconds (the figure the GPU aims are stated in). The
peer is `plain_torch_cuda.py`: the conventional loop of `plain_torch_cnn.py` (--peer, default
../shared/peers/ or $FMNIST_PEER), moved to the GPU. Both read the IDX files locally
($FMNIST_PEER_DATA and $FMNIST_DATA, else /usr/share/datasets/fashion-mnist): a GPU machine
without a network needs them copied along.

Prints a table and writes benchmarks/results/gpu-<date>-<gpu>.json (again after every run, so a
command stopped at its time limit keeps what it measured) and, at the end, the .png.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import torch

from speed import (
    DEFAULT_PEER,
    ROOT,
    mean_std,
    peer_point_at,
    plot_points,
    run_fmnist,
    run_peer,
    write_record,
)

CUDA_PEER = Path(__file__).resolve().parent / "plain_torch_cuda.py"


def parse_recipes(text: str) -> list[tuple[str, int]]:
    """'fast_gpu:5,best:1' -> [('fast_gpu', 5), ('best', 1)]."""
    recipes = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, seeds = item.partition(":")
        if not seeds.isdigit() or int(seeds) < 1:
            sys.exit(f"--recipes wants NAME:SEEDS items (seeds >= 1), got '{item}'")
        recipes.append((name, int(seeds)))
    return recipes


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


def summarize_recipe(name: str, runs: list[dict], peer: dict) -> dict:
    acc_mean, acc_std = mean_std([r["accuracy"] for r in runs])
    wall_mean, _ = mean_std([r["wall"] for r in runs])
    train_mean, train_std = mean_std([r["train_seconds"] for r in runs])
    reaches = acc_mean >= peer["best_accuracy"]
    return {
        "recipe": name,
        "runs": runs,
        "accuracy_mean": acc_mean,
        "accuracy_std": acc_std,
        "wall_mean": wall_mean,
        "train_seconds_mean": train_mean,
        "train_seconds_std": train_std,
        "speedup_to_peer_best": peer["time_to_best"] / wall_mean if reaches else None,
        "peer_at_equal_time": peer_point_at(peer["curve"], wall_mean),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="fast_gpu:5", help="NAME:SEEDS, comma list.")
    parser.add_argument(
        "--peer", type=Path, default=Path(os.environ.get("FMNIST_PEER", DEFAULT_PEER))
    )
    parser.add_argument("--peer-epochs", type=int, default=3)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--set", action="append", default=[], help="Override for every run.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    recipes = parse_recipes(args.recipes)
    if not args.peer.is_file():
        sys.exit(f"the peer {args.peer} is missing: pass --peer PATH to plain_torch_cnn.py")
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device here: run on a GPU machine, or --device cpu to check the script")
    record = {
        "date": time.strftime("%Y-%m-%d"),
        "device": device_record(args.device),
        "torch": torch.__version__,
        "overrides": args.set,
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
    }
    for name, seeds in recipes:
        print(f"fmnist: recipe {name}, {seeds} seed(s)", flush=True)
        runs: list[dict] = []
        record["recipes"].append({})
        for seed in range(seeds):
            runs.append(run_fmnist(name, seed, args.set, args.device))
            print(
                f"  seed {seed}: {runs[-1]['accuracy']:.4f} in {runs[-1]['train_seconds']:.1f} s"
                f" training, {runs[-1]['wall']:.1f} s wall",
                flush=True,
            )
            record["recipes"][-1] = summarize_recipe(name, runs, record["peer"])
            stem.with_suffix(".json").write_text(json.dumps(record, indent=2))
    print_table(record)
    save(record, stem)


def print_table(record: dict) -> None:
    peer = record["peer"]
    print(f"\n{record['device']['name']}: the peer's best {100 * peer['best_accuracy']:.2f} %")
    print(
        "| recipe | seeds | test % (mean ± std) | training s | wall s | speed-up to peer's best |"
    )
    print("|---|---|---|---|---|---|")
    for r in record["recipes"]:
        speedup = r["speedup_to_peer_best"]
        print(
            f"| {r['recipe']} | {len(r['runs'])} "
            f"| {100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f} "
            f"| {r['train_seconds_mean']:.1f} ± {r['train_seconds_std']:.1f} "
            f"| {r['wall_mean']:.1f} "
            f"| {'n/a' if speedup is None else f'{speedup:.2f}x'} |"
        )


def save(record: dict, stem: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(7, 4.5))
    peer = record["peer"]
    plot_points(ax, peer["curve"], "o-", f"peer on the GPU: {peer['script']} (per epoch)")
    for r in record["recipes"]:
        plot_points(ax, r["runs"], "s", f"fmnist {r['recipe']} (one run each)")
    ax.set_xscale("log")
    ax.set_xlabel("wall time from process start (s, log scale)")
    write_record(
        record, stem, ax, f"Fashion-MNIST accuracy vs wall time: {record['device']['name']}"
    )


if __name__ == "__main__":
    main()
