"""The dataset: its files verified, audited for duplicates and label errors, explored, and an
augmentation shown.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fmnist.api.runs import OverridesLike, resolve_config
from fmnist.errors import ConfigError

__all__ = [
    "verify_data",
    "audit_data",
    "explore_data",
    "augment_grid",
]


def verify_data(data_dir: str | Path | None = None) -> tuple[Path, dict[str, int]]:
    """Check the four IDX files (size, magic number, shape, label range, SHA-256); returns their
    folder and the images per split."""
    from fmnist.data import load_arrays

    arrays, source = load_arrays(data_dir)
    return source, {"train": len(arrays["train_labels"]), "test": len(arrays["test_labels"])}


def audit_data(
    out: str | Path = "runs/audit",
    *,
    quick: bool = False,
    train_subset: int | None = None,
    folds: int = 5,
    data_dir: str | Path | None = None,
    echo: Callable[[str], None] = print,
) -> list[Path]:
    """Exact and near duplicates and suspected label errors, written to ``out`` as tables and
    image grids; changes nothing. ``train_subset``: audit that many stratified training images
    (default: all 60,000)."""
    from fmnist.data.audit import run_audit
    from fmnist.viz.audit import draw_audit

    tables = run_audit(
        out, quick=quick, train_subset=train_subset, folds=folds, data_dir=data_dir, echo=echo
    )
    return sorted(tables + draw_audit(out, data_dir=data_dir))


def explore_data(
    out: str | Path = "explore", *, sample: int = 2000, data_dir: str | Path | None = None
) -> Path:
    """Class counts, sample grid, mean images, PCA and t-SNE maps; returns the index.html path."""
    if not 100 <= sample <= 20000:
        raise ConfigError(
            "--sample is out of range (t-SNE slows down beyond 20,000 images)",
            allowed="100 to 20000 images",
            got=sample,
        )
    from fmnist.report.explore import explore

    return explore(out, data_dir=data_dir, sample=sample)


def augment_grid(
    overrides: OverridesLike = (), output: str | Path = "augment.png"
) -> tuple[Path, dict[str, Any]]:
    """A PNG of training images (first column) beside augmented copies, for the augmentation the
    overrides set (default: flips, 2-pixel shifts and 10-degree rotations); returns the file and
    the settings shown."""
    cfg = resolve_config(overrides=overrides)
    if not cfg.augment.enabled:
        cfg.augment = cfg.augment.model_copy(update={"hflip": True, "shift": 2, "rotate": 10})
    from fmnist.viz.augment import save_augment_grid

    return save_augment_grid(cfg, Path(output)), cfg.augment.model_dump(exclude_defaults=True)
