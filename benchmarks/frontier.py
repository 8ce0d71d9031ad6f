"""Accuracy-vs-time frontier and time to accuracy: the plain PyTorch peer to its best, fmnist's
`fast` and `strong` and the points between them, side by side in one invocation.

    # make bench-frontier: the peer for 12 epochs, fast at 3 epochs and strong at a third of its
    # epochs, then fast and strong in full with a test curve (about 55 minutes on 2 AVX2 cores)
    python benchmarks/frontier.py
    # a check of this script (a few minutes; the numbers mean little)
    python benchmarks/frontier.py --peer-epochs 1 --points fast:1 --curves fast:2

Every program runs as a fresh process, one after the other, on this machine; wall seconds run
from process start to exit (speed.py's `run_fmnist` and `run_peer`). The peer prints its test
accuracy after every epoch, so its curve is one process; fmnist evaluates the test set once per
run, so each of its points is a complete run with its own epoch budget (a whole one-cycle
schedule), seed 0. A point's epochs are a number or a fraction of the recipe's own epochs as
resolved on this machine (`strong:1/3`: a third of the fp32 variant's epochs on a CPU without
native bf16).

A curve (`--curves`) is one complete run whose test accuracy is also measured after every epoch,
for this benchmark only (`benchmarks/test_curve.py`: the evaluations choose nothing, and their
time is left out of the run's); its last epoch is the run's own result, a point like the others.
From the curves and the peer's, the record gives each program's time to first reach 92, 93, 94
and 95 % test (`time_to`), the speed-run way, beside the peer's time to its best.

fmnist's frontier is the best accuracy any of its points reached by a given time; the record says
whether it lies above the peer at every peer epoch (`above_peer_everywhere`), and by how much at
the closest one. Writes benchmarks/results/frontier-<date>-<cpu kind>.json, .png and the points'
test predictions (.predictions.npz).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import torch

from fmnist import resolve_config
from fmnist.training.hardware import cpu_features
from speed import DEFAULT_PEER, ROOT, plot_points, run_fmnist, run_peer, slug, write_record

DEFAULT_POINTS = "fast:3,strong:1/3"
DEFAULT_CURVES = "fast,strong"
THRESHOLDS = (0.92, 0.93, 0.94, 0.95)
CURVE = Path(__file__).with_name("test_curve.py")


def point_epochs(spec: str) -> tuple[str, int]:
    """'strong:1/3' -> ('strong', a third of strong's epochs here, at least 1); 'fast' -> all."""
    recipe, _, budget = spec.partition(":")
    full = resolve_config(recipe=recipe, machine="here").train.epochs
    if not budget:
        return recipe, full
    share = Fraction(budget)
    return recipe, max(1, round(full * share)) if share.denominator > 1 else int(share)


def run_curve(recipe: str, epochs: int) -> tuple[list[dict], dict]:
    """``recipe``'s test curve (benchmarks/test_curve.py, seed 0) and the complete run as a point:
    its own summary's test accuracy at its last epoch's time, with its test predictions."""
    with tempfile.TemporaryDirectory() as kept:
        curve = run_peer(CURVE, epochs, 0, recipe, kept, own_elapsed=True)
        summary = json.loads((Path(kept) / "summary.json").read_text())
        predictions = (Path(kept) / "test_predictions.txt").read_text().split()
    return curve, {
        "recipe": recipe,
        "seed": 0,
        "epochs": summary["epochs_run"],
        "precision": summary["precision"],
        "wall": curve[-1]["wall"],
        "accuracy": summary["test_accuracy"],
        "val_accuracy": summary["val_accuracy"],
        "train_seconds": summary["train_seconds"],
        "predictions": [int(p) for p in predictions],
    }


def time_to(curve: list[dict]) -> dict[str, float | None]:
    """Wall seconds at the first epoch of ``curve`` at or above each threshold (None: never)."""
    return {
        f"{round(100 * t)}%": next((p["wall"] for p in curve if p["accuracy"] >= t), None)
        for t in THRESHOLDS
    }


def frontier_at(points: list[dict], wall: float) -> float | None:
    """The best test accuracy any fmnist point reached within ``wall`` seconds (None: none yet)."""
    reached = [p["accuracy"] for p in points if p["wall"] <= wall]
    return max(reached) if reached else None


def compare(peer: list[dict], points: list[dict]) -> dict:
    """fmnist's frontier against the peer at each of its epochs: the margin in points."""
    margins = []
    for p in peer:
        best = frontier_at(points, p["wall"])
        margin = None if best is None else 100 * (best - p["accuracy"])
        margins.append({"epoch": p["epoch"], "wall": p["wall"], "margin_points": margin})
    known = [m["margin_points"] for m in margins]
    return {
        "per_peer_epoch": margins,
        "above_peer_everywhere": all(m is not None and m > 0 for m in known),
        "smallest_margin_points": min((m for m in known if m is not None), default=None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--points", default=DEFAULT_POINTS, help="Comma list of RECIPE[:EPOCHS or FRACTION]."
    )
    parser.add_argument(
        "--curves",
        default=DEFAULT_CURVES,
        help="Comma list of RECIPE[:EPOCHS or FRACTION]: complete runs with a test curve.",
    )
    parser.add_argument(
        "--peer", type=Path, default=Path(os.environ.get("FMNIST_PEER", DEFAULT_PEER))
    )
    parser.add_argument("--peer-epochs", type=int, default=12, help="Past the peer's best.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress lines reach a log as they happen

    cpu = cpu_features()
    print(f"CPU: {cpu['model']}, {cpu['cores']} cores, kind {cpu['kind']}", flush=True)
    plan = [point_epochs(spec.strip()) for spec in args.points.split(",") if spec.strip()]
    curve_plan = [point_epochs(spec.strip()) for spec in args.curves.split(",") if spec.strip()]
    print(f"peer: {args.peer.name}, {args.peer_epochs} epochs", flush=True)
    peer = run_peer(args.peer, args.peer_epochs, seed=0)
    points = []
    for recipe, epochs in plan:
        run = run_fmnist(recipe, 0, [f"train.epochs={epochs}"], "cpu")
        points.append({"recipe": recipe, **run})
        print(f"  {recipe} {epochs} epochs: {run['accuracy']:.4f} in {run['wall']:.1f}s")
    curves = []
    for recipe, epochs in curve_plan:
        curve, point = run_curve(recipe, epochs)
        curves.append({"recipe": recipe, "epochs": epochs, "curve": curve})
        curves[-1]["time_to"] = time_to(curve)
        points.append(point)

    peer_best = max(p["accuracy"] for p in peer)
    best_epoch = next(p["epoch"] for p in peer if p["accuracy"] == peer_best)
    record = {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu,
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "peer": {
            "script": args.peer.name,
            "curve": peer,
            "best_accuracy": peer_best,
            "best_epoch": best_epoch,
            "best_is_last_epoch": best_epoch == peer[-1]["epoch"],
        },
        "points": points,
        "curves": curves,
        "peer_time_to": time_to(peer),
        "against_peer": compare(peer, points),
    }
    print_summary(record)
    save(record, args.out)


def print_summary(record: dict) -> None:
    peer, against = record["peer"], record["against_peer"]
    print(f"\n| {'program':<34} | {'epochs':>6} | {'test %':>7} | {'wall s':>7} |")
    print(f"|{'-' * 36}|{'-' * 8}|{'-' * 9}|{'-' * 9}|")
    for p in peer["curve"]:
        print(f"| {'peer ' + peer['script']:<34} | {p['epoch']:>6} | "
              f"{100 * p['accuracy']:>7.2f} | {p['wall']:>7.1f} |")  # fmt: skip
    for p in record["points"]:
        name = f"fmnist {p['recipe']} ({p['precision']})"
        print(f"| {name:<34} | {p['epochs']:>6} | {100 * p['accuracy']:>7.2f} | "
              f"{p['wall']:>7.1f} |")  # fmt: skip
    marks = [f"{round(100 * t)}%" for t in THRESHOLDS]
    print(f"\n| {'time to accuracy (wall s)':<34} | " + " | ".join(f"{m:>6}" for m in marks) + " |")
    print(f"|{'-' * 36}|" + "|".join("-" * 8 for _ in marks) + "|")
    rows = [(f"peer {peer['script']}", record["peer_time_to"])]
    for c in record["curves"]:
        rows.append((f"fmnist {c['recipe']} ({c['epochs']} epochs)", c["time_to"]))
    for name, times in rows:
        cells = ["-" if times[m] is None else f"{times[m]:.0f}" for m in marks]
        print(f"| {name:<34} | " + " | ".join(f"{c:>6}" for c in cells) + " |")
    print(f"peer's best: {100 * peer['best_accuracy']:.2f} % at epoch {peer['best_epoch']}, "
          f"{peer['curve'][peer['best_epoch'] - 1]['wall']:.0f} s")  # fmt: skip
    smallest = against["smallest_margin_points"]
    print(
        f"\nfmnist above the peer at every peer epoch: {against['above_peer_everywhere']} "
        f"(smallest margin {'n/a' if smallest is None else f'{smallest:+.2f}'} points)"
    )


def save(record: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    kind = record["cpu"]["kind"]
    stem = out / f"frontier-{record['date']}-cpu-{slug(kind)}"
    _, ax = plt.subplots(figsize=(7.5, 4.8))
    plot_points(ax, record["peer"]["curve"], "o-", f"peer: {record['peer']['script']} (per epoch)")
    for recipe in dict.fromkeys(p["recipe"] for p in record["points"]):
        mine = [p for p in record["points"] if p["recipe"] == recipe]
        mine.sort(key=lambda p: p["wall"])
        plot_points(ax, mine, "s--", f"fmnist {recipe} (one run each)")
        for p in mine:
            ax.annotate(f"{p['epochs']} ep", (p["wall"], 100 * p["accuracy"]), fontsize=8,
                        xytext=(4, -10), textcoords="offset points")  # fmt: skip
    for c in record["curves"]:
        plot_points(ax, c["curve"], ".-", f"fmnist {c['recipe']}: test after every epoch")
    ax.set_xscale("log")
    ax.set_xlabel("wall time from process start (s, log scale)")
    write_record(
        record, stem, ax, f"Fashion-MNIST test accuracy vs wall time\n{record['cpu']['model']}, "
        f"{kind}, {record['cpu_threads']} threads, torch {record['torch']} ({record['date']})"
    )  # fmt: skip


if __name__ == "__main__":
    main()
