"""Image grids of what the data audit found: the most suspicious labels and duplicate pairs.

``fmnist.data.audit`` finds them and writes its tables; the grids are drawn from those tables.
"""

from __future__ import annotations

from pathlib import Path

from fmnist.data import CLASS_NAMES, audit, load_arrays
from fmnist.viz.plot import image_grid, save

GRID_ISSUES = 30  # the most suspicious labels shown
GRID_PAIRS = 12  # duplicate pairs shown, exact ones first


def draw_audit(out: str | Path, *, data_dir: str | Path | None = None) -> list[Path]:
    """label_issues.png and duplicates.png beside the audit tables in ``out``."""
    out = Path(out)
    arrays, _ = load_arrays(data_dir)
    images = {"train": arrays["train_images"], "test": arrays["test_images"]}
    duplicates, issues = audit.read_findings(out)
    return [
        issue_grid(issues[:GRID_ISSUES], images, out / "label_issues.png"),
        duplicate_grid(duplicates[:GRID_PAIRS], images, out / "duplicates.png"),
    ]


def issue_grid(rows: list[dict], images: dict, path: Path) -> Path:
    fig, _ = image_grid(
        [images[r["split"]][r["index"]] for r in rows],
        [
            f"{r['split']} #{r['index']}\ngiven: {r['given_name']}\n"
            f"suggested: {r['suggested_name']} ({r['confidence']:.2f})"
            for r in rows
        ],
        cols=6,
        cmap="gray",
        title_size=7,
        suptitle="Suspected label errors (cleanlab, out-of-fold probabilities); labels unchanged",
    )
    return save(fig, path)


def duplicate_grid(rows: list[dict], images: dict, path: Path) -> Path:
    """One pair a row, side by side."""
    sides = [(r[f"split_{s}"], r[f"index_{s}"], r[f"label_{s}"]) for r in rows for s in "ab"]
    fig, _ = image_grid(
        [images[split][i] for split, i, _ in sides],
        [f"{split} #{i} ({CLASS_NAMES[label]})" for split, i, label in sides],
        cols=2,
        cell=(2.0, 2.2),
        cmap="gray",
        title_size=7,
        suptitle="Duplicate pairs (exact first, then near by RMS)",
    )
    return save(fig, path)
