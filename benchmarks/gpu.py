"""GPU benchmark: fmnist's GPU recipes against the peer's loop on CUDA, in one invocation.

    # fast_gpu for 5 seeds, best for 1, the peer on CUDA for 5 epochs (about 12 minutes on an H100)
    python benchmarks/gpu.py
    # one recipe, fewer seeds
    python benchmarks/gpu.py --recipes fast_gpu:3 --peer-epochs 2
    # a check of this script on a CPU (tiny runs; the numbers mean nothing)
    python benchmarks/gpu.py --device cpu --recipes fast:1 --peer-epochs 1 --set train.epochs=1

Every program runs as a fresh process, one after the other; wall times are from process start.
Each fmnist run also records its training seconds (from the first step to the last, the figure
the GPU aims are stated in). The peer is `plain_torch_cuda.py`: the conventional loop of
`../shared/peers/plain_torch_cnn.py`, moved to the GPU.

Prints a table and writes benchmarks/results/gpu-<date>-<gpu>.json and .png.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import torch

from speed import ROOT, mean_std, peer_point_at, plot_points, run_fmnist, run_peer, write_record

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


def summarize_recipe(name: str, runs: list[dict], peer: list[dict], peer_best: float) -> dict:
    acc_mean, acc_std = mean_std([r["accuracy"] for r in runs])
    wall_mean, _ = mean_std([r["wall"] for r in runs])
    train_mean, train_std = mean_std([r["train_seconds"] for r in runs])
    peer_time_to_best = min(p["wall"] for p in peer if p["accuracy"] == peer_best)
    return {
        "recipe": name,
        "runs": runs,
        "accuracy_mean": acc_mean,
        "accuracy_std": acc_std,
        "wall_mean": wall_mean,
        "train_seconds_mean": train_mean,
        "train_seconds_std": train_std,
        "speedup_to_peer_best": peer_time_to_best / wall_mean if acc_mean >= peer_best else None,
        "peer_at_equal_time": peer_point_at(peer, wall_mean),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="fast_gpu:5,best:1", help="NAME:SEEDS, comma list.")
    parser.add_argument("--peer-epochs", type=int, default=5)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--set", action="append", default=[], help="Override for every run.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    recipes = parse_recipes(args.recipes)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device here: run on a GPU machine, or --device cpu to check the script")
    device = device_record(args.device)
    print(f"device: {device}", flush=True)

    os.environ["FMNIST_PEER_DEVICE"] = args.device
    print(f"peer: {CUDA_PEER.name} on {args.device}, {args.peer_epochs} epochs", flush=True)
    peer = run_peer(CUDA_PEER, args.peer_epochs, seed=0)
    peer_best = max(p["accuracy"] for p in peer)

    results = []
    for name, seeds in recipes:
        print(f"fmnist: recipe {name}, {seeds} seed(s)", flush=True)
        runs = []
        for seed in range(seeds):
            runs.append(run_fmnist(name, seed, args.set, args.device))
            run = runs[-1]
            print(
                f"  seed {seed}: {run['accuracy']:.4f} in {run['train_seconds']:.1f} s training,"
                f" {run['wall']:.1f} s wall",
                flush=True,
            )
        results.append(summarize_recipe(name, runs, peer, peer_best))

    record = {
        "date": time.strftime("%Y-%m-%d"),
        "device": device,
        "torch": torch.__version__,
        "overrides": args.set,
        "peer": {"script": CUDA_PEER.name, "curve": peer, "best_accuracy": peer_best},
        "recipes": results,
    }
    print_table(record)
    save(record, args.out)


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


def save(record: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    gpu = re.sub(r"[^a-z0-9]+", "-", record["device"]["name"].lower()).strip("-")
    stem = out / f"gpu-{record['date']}-{gpu}"
    fig, ax = plt.subplots(figsize=(7, 4.5))
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
