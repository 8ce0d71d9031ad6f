"""Trained runs on product-style photos: how much of each run's accuracy survives the way from a
photo to the 28x28 input, measured for several runs on the same photos.

    python benchmarks/photos.py results/robustness/runs/{fast,strong}/seed0
    python benchmarks/photos.py RUN [RUN ...] --images 200      # a quick look

No real garment photos can be had here, so each of the first N test images is made back into a
studio shot (``fmnist.data.photos.studio_shots``: enlarged 4, 10 or 25 times, off-centre on a light
or dark background, sensor noise), prepared by ``prepare_photo`` exactly as a user's photo is, and
classified; the same run on the same N original images is the reference. Nothing is tuned on
these photos. Each run after the first is compared with the first on the photos (``fmnist
compare``'s McNemar test and paired bootstrap interval). Each run's predictions on both are kept
(one byte an image), so ``fmnist verify`` recounts every accuracy against the official labels.

Prints a table and writes benchmarks/results/photos-<date>-<kind>.json and .predictions.npz.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from fmnist import load_run
from fmnist.analysis.compare import Side, compare_sides
from fmnist.data.photos import prepare_photo, studio_shots
from fmnist.data.sources import load_arrays
from fmnist.training.hardware import cpu_features
from speed import ROOT, slug, write_json


def prepared_photos(images: np.ndarray) -> tuple[np.ndarray, float]:
    """The images as studio shots, prepared as photos are: (N, 28, 28) uint8, and the seconds a
    photo took to prepare."""
    shots = studio_shots(images)
    start = time.perf_counter()
    prepared = np.stack([prepare_photo(shot).pixels for shot in shots])
    return prepared, (time.perf_counter() - start) / len(shots)


def measure(run_dir: Path, inputs: dict[str, np.ndarray], labels: np.ndarray) -> dict:
    """One run's accuracy and predictions on each set of inputs."""
    run = load_run(run_dir)
    entry = {"run": str(run_dir), "recipe": run.config.name, "model": run.config.model.name}
    for name, images in inputs.items():
        predicted = run.predict(images).argmax(1)
        entry[name] = {
            "accuracy": float(np.mean(predicted == labels)),
            "test_images": len(labels),  # the first N of the official test set
            "predictions": predicted.tolist(),
        }
    return entry


def against_first(runs: list[dict], labels: np.ndarray) -> None:
    """Each run after the first, against the first on the same photos: ``fmnist compare``'s
    McNemar test and paired bootstrap interval, so a reader sees whether one is really better."""
    first = _photo_side(runs[0], labels)
    for entry in runs[1:]:
        comparison = compare_sides(first, _photo_side(entry, labels))
        entry["photos"]["against_first_run"] = comparison.to_dict()


def _photo_side(entry: dict, labels: np.ndarray) -> Side:
    """A run's correct-or-not on the photos, as ``fmnist compare`` takes one side."""
    correct = np.asarray([entry["photos"]["predictions"]]) == labels
    return Side(entry["run"], [entry["run"]], correct)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="Finished run directories (final.pt).")
    parser.add_argument("--images", type=int, default=1000, help="The first N test images.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    arrays = load_arrays()[0]
    originals = arrays["test_images"][: args.images]
    labels = arrays["test_labels"][: args.images]
    photos, seconds = prepared_photos(originals)
    inputs = {"photos": photos, "originals": originals}
    cpu = cpu_features()
    record = {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu,
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "images": args.images,
        "seconds_to_prepare_a_photo": seconds,
        "runs": [measure(run, inputs, labels) for run in args.runs],
    }
    against_first(record["runs"], labels)
    print(f"{args.images} test images as product photos ({1000 * seconds:.0f} ms to prepare one)")
    print("| run | model | photos % | originals % |\n|---|---|---|---|")
    for entry in record["runs"]:
        print(f"| {entry['run']} | {entry['model']} | {100 * entry['photos']['accuracy']:.1f} | "
              f"{100 * entry['originals']['accuracy']:.1f} |")  # fmt: skip
    for entry in record["runs"][1:]:
        pair = entry["photos"]["against_first_run"]
        print(f"{entry['run']} against {pair['a']} on the photos: right where the other is "
              f"wrong {pair['only_b_right']} / {pair['only_a_right']}, "
              f"McNemar p = {pair['mcnemar_p']:.2f}")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"photos-{record['date']}-cpu-{slug(cpu['kind'])}"
    write_json(record, stem)
    print(f"saved {stem.with_suffix('.json')}")


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    main()
