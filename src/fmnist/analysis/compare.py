"""Is the difference between two models real? ``fmnist compare A B`` on their test predictions.

A and B are each a finished run or a group of them (a folder of seeds, e.g. results/runs/strong).
Every verdict is computed from the kept ``test_predictions.txt`` against the official test
labels (the runs' own numbers are recounted on the way), never from a summary's rounded number:

- McNemar's exact test, per pair of runs (the first seed of each group): on the images one model
  gets right and the other wrong, whether the split is more lopsided than a fair coin makes it
  (scipy's binomial test, two-sided). The images both get right or both wrong say nothing
  about which is better, and the test leaves them out.
- A bootstrap 95 % interval of the accuracy difference (B minus A) over the test images, paired:
  each resample takes the same images for both (scipy's percentile bootstrap, fixed seed).
- With several seeds on both sides: the mean difference over seeds with Welch's 95 % interval,
  which says how much of a difference the seeds' spread alone explains.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fmnist.analysis.collect import find_runs
from fmnist.errors import RunDirError
from fmnist.runs import RunDir

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


@dataclass
class Side:
    """One side of a comparison: its runs' correct-or-not per test image."""

    path: str
    runs: list[str]
    correct: np.ndarray  # (runs, test images), bool

    @property
    def accuracies(self) -> list[float]:
        return [float(row.mean()) for row in self.correct]


@dataclass
class Comparison:
    a: str
    b: str
    a_accuracies: list[float]
    b_accuracies: list[float]
    only_a_right: int  # images the first run of A gets right and the first of B wrong
    only_b_right: int
    mcnemar_p: float
    difference: float  # accuracy of B's first run minus A's
    difference_interval: tuple[float, float]
    seed_difference: float | None = None  # mean over B's seeds minus mean over A's
    seed_interval: tuple[float, float] | None = None
    seed_p: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _repr_markdown_(self) -> str:  # how Jupyter shows it: the lines fmnist compare prints
        return "\n".join(f"- {line}" for line in self.lines())

    def lines(self) -> list[str]:
        def pct(values: list[float]) -> str:
            mean = 100 * float(np.mean(values))
            spread = f" ± {100 * float(np.std(values, ddof=1)):.2f}" if len(values) > 1 else ""
            return f"{mean:.2f}{spread} % ({len(values)} run{'s' * (len(values) > 1)})"

        low, high = (100 * v for v in self.difference_interval)
        out = [
            f"A: {self.a}: {pct(self.a_accuracies)}",
            f"B: {self.b}: {pct(self.b_accuracies)}",
            f"McNemar (first run of each): {self.only_a_right} images only A gets right, "
            f"{self.only_b_right} only B; exact p = {self.mcnemar_p:.3g}",
            f"B - A: {100 * self.difference:+.2f} points, 95 % bootstrap interval over the test "
            f"images [{low:+.2f}, {high:+.2f}]",
        ]
        if self.seed_difference is not None:
            s_low, s_high = (100 * v for v in self.seed_interval)
            out.append(
                f"over seeds: B - A {100 * self.seed_difference:+.2f} points, Welch 95 % interval "
                f"[{s_low:+.2f}, {s_high:+.2f}], p = {self.seed_p:.3g}"
            )
        out.append(f"verdict: {self.verdict}")
        return out

    @property
    def verdict(self) -> str:
        seeds_say = self.seed_interval is not None
        low, high = self.seed_interval if seeds_say else self.difference_interval
        basis = "over seeds" if seeds_say else "on the test images"
        if low > 0 or high < 0:
            better, side = ("B", "above") if low > 0 else ("A", "below")
            return f"{better} is better: the 95 % interval of B - A {basis} lies {side} 0"
        return f"no real difference: the 95 % interval of B - A {basis} includes 0"


def side(path: str | Path, test_labels: np.ndarray) -> Side:
    """The runs at ``path`` (one run, or every finished run under a folder), each recounted from
    its test_predictions.txt."""
    runs = find_runs(path)
    if not runs:
        raise RunDirError(
            f"{path} holds no finished run",
            fix="name a run folder (with summary.json) or a folder of seeds, e.g. runs/fast",
        )
    rows = [_correct(run, test_labels) for run in runs]
    return Side(str(path), [str(run.path) for run in runs], np.stack(rows))


def _correct(run: RunDir, test_labels: np.ndarray) -> np.ndarray:
    predicted = run.read_test_predictions()
    if predicted is None or len(predicted) != len(test_labels):
        raise RunDirError(
            f"{run.path} keeps no test predictions for the {len(test_labels):,} test images "
            "(test_predictions.txt)",
            fix="train it again with this version of fmnist, which keeps them",
        )
    return predicted == test_labels


def compare_sides(a: Side, b: Side) -> Comparison:
    from scipy import stats

    first_a, first_b = a.correct[0], b.correct[0]
    only_a, only_b = int(np.sum(first_a & ~first_b)), int(np.sum(~first_a & first_b))
    mcnemar_p = stats.binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    per_image = first_b.astype(float) - first_a.astype(float)
    interval = _bootstrap_interval(per_image) if only_a + only_b else (0.0, 0.0)
    result = Comparison(
        a.path,
        b.path,
        a.accuracies,
        b.accuracies,
        only_a,
        only_b,
        float(mcnemar_p),
        float(per_image.mean()),
        interval,
    )
    spread = np.std(a.accuracies) + np.std(b.accuracies)
    if len(a.accuracies) > 1 and len(b.accuracies) > 1 and spread > 0:  # else Welch is undefined
        welch = stats.ttest_ind(b.accuracies, a.accuracies, equal_var=False)
        interval = welch.confidence_interval(0.95)
        result.seed_difference = float(np.mean(b.accuracies) - np.mean(a.accuracies))
        result.seed_interval = (float(interval.low), float(interval.high))
        result.seed_p = float(welch.pvalue)
    return result


def _bootstrap_interval(per_image: np.ndarray) -> tuple[float, float]:
    """95 % percentile interval of the mean per-image difference, resampling images (paired)."""
    from scipy import stats

    boot = stats.bootstrap(
        (per_image,),
        np.mean,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=0.95,
        method="percentile",  # BCa's jackknife over 10,000 images costs seconds for nothing here
        random_state=np.random.default_rng(BOOTSTRAP_SEED),
    )
    return float(boot.confidence_interval.low), float(boot.confidence_interval.high)


def compare(a: str | Path, b: str | Path, test_labels: np.ndarray | None = None) -> Comparison:
    if test_labels is None:
        from fmnist.data.sources import load_arrays  # the verified official files

        test_labels = load_arrays()[0]["test_labels"]
    return compare_sides(side(a, test_labels), side(b, test_labels))
