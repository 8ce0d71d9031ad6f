"""Data audit: exact and near duplicates, and suspected label errors (confident learning with
cleanlab).

It informs; it never changes a label, a split or any reported accuracy. Indices are those of the
official files (train 0-59,999, test 0-9,999), so every finding can be looked up.

Method:
- exact duplicates: identical bytes (hash of the 784 pixels), within train and between train and
  test.
- near duplicates: candidates are the 5 nearest neighbours in a 50-d PCA space of the training
  images; a pair counts when the RMS pixel difference (pixels in [0, 1]) is <= ``near`` (default
  0.02, about 5 grey levels of 255) but not 0.
- label errors: out-of-fold class probabilities from a cheap model (PCA to 64 dims, then a
  256-unit MLP, scikit-learn) over stratified k folds of the training images; cleanlab's
  ``find_label_issues`` ranks the suspects by self-confidence. Test images are scored by the same
  model fitted on all audited training images (they are never trained on).

This module computes and writes tables; ``fmnist.viz.audit`` draws what they hold.
"""

from __future__ import annotations

import csv
import hashlib
import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fmnist.data.loader import CLASS_NAMES, kfold_splits, stratified_subset
from fmnist.data.sources import load_arrays
from fmnist.runs import atomic_write

QUICK = {"train_subset": 10000, "folds": 3}
# the two tables, their columns and the type of each: the tables are what fmnist.viz.audit reads
DUPLICATES_TABLE, ISSUES_TABLE = "duplicates.csv", "label_issues.csv"
DUPLICATE_COLUMNS = {
    "kind": str,
    "split_a": str,
    "index_a": int,
    "label_a": int,
    "split_b": str,
    "index_b": int,
    "label_b": int,
    "rms_difference": float,
}
ISSUE_COLUMNS = {
    "split": str,
    "index": int,
    "given": int,
    "given_name": str,
    "suggested": int,
    "suggested_name": str,
    "confidence": float,
    "given_probability": float,
    "rank": int,
}


# -- duplicates ---------------------------------------------------------------------------------
def _hashes(images: np.ndarray) -> list[bytes]:
    return [hashlib.blake2b(img.tobytes(), digest_size=16).digest() for img in images]


def exact_duplicates(train: np.ndarray, test: np.ndarray) -> list[tuple[str, int, str, int]]:
    """(split_a, i, split_b, j) for identical images: each train repeat paired with its first copy,
    each test image with a train copy."""
    first: dict[bytes, int] = {}
    pairs = []
    for i, h in enumerate(_hashes(train)):
        if h in first:
            pairs.append(("train", first[h], "train", i))
        else:
            first[h] = i
    pairs += [("train", first[h], "test", j) for j, h in enumerate(_hashes(test)) if h in first]
    return pairs


def near_duplicates(
    train: np.ndarray, test: np.ndarray, near: float = 0.02, k: int = 5, seed: int = 0
) -> list[tuple[str, int, str, int, float]]:
    """(split_a, i, split_b, j, rms) for distinct images with RMS pixel difference in (0, near]."""
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    flat = {
        "train": train.reshape(len(train), -1) / 255.0,
        "test": test.reshape(len(test), -1) / 255.0,
    }
    pca = PCA(50, random_state=seed).fit(flat["train"])
    index = NearestNeighbors(n_neighbors=min(k + 1, len(train))).fit(pca.transform(flat["train"]))
    pairs: dict[tuple, float] = {}
    for split in ("train", "test"):
        _, neighbours = index.kneighbors(pca.transform(flat[split]))
        for i, row in enumerate(neighbours):
            for j in row:
                if split == "train" and j == i:
                    continue
                rms = float(np.sqrt(((flat[split][i] - flat["train"][j]) ** 2).mean()))
                if 0 < rms <= near:
                    key = (
                        ("train", int(min(i, j)), "train", int(max(i, j)))
                        if split == "train"
                        else ("train", int(j), "test", i)
                    )
                    pairs[key] = rms
    return [(*key, rms) for key, rms in sorted(pairs.items(), key=lambda kv: kv[1])]


# -- label errors -------------------------------------------------------------------------------
def _cheap_model(seed: int):
    from sklearn.decomposition import PCA
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        PCA(64, random_state=seed), MLPClassifier((256,), max_iter=30, random_state=seed)
    )


def out_of_fold_probabilities(
    images: np.ndarray, labels: np.ndarray, folds: int, seed: int = 0
) -> np.ndarray:
    """Class probabilities of each image from a model that never saw it (stratified k folds)."""
    x = images.reshape(len(images), -1) / 255.0
    probs = np.zeros((len(images), len(CLASS_NAMES)))
    for train_idx, val_idx in kfold_splits(labels, folds, seed):
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # MLP convergence warnings: 30 epochs is the documented budget
            probs[val_idx] = (
                _cheap_model(seed).fit(x[train_idx], labels[train_idx]).predict_proba(x[val_idx])
            )
    return probs


def label_issues(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Positions of suspected label errors, most suspicious first (cleanlab, confident learning)."""
    from cleanlab.filter import find_label_issues

    return find_label_issues(labels, probs, return_indices_ranked_by="self_confidence")


def _issue_rows(
    split: str, index: np.ndarray, labels: np.ndarray, probs: np.ndarray, ranked: np.ndarray
) -> list[dict]:
    rows = []
    for rank, pos in enumerate(ranked, 1):
        given, suggested = int(labels[pos]), int(probs[pos].argmax())
        rows.append(
            {
                "split": split,
                "index": int(index[pos]),
                "given": given,
                "given_name": CLASS_NAMES[given],
                "suggested": suggested,
                "suggested_name": CLASS_NAMES[suggested],
                "confidence": round(float(probs[pos, suggested]), 4),
                "given_probability": round(float(probs[pos, given]), 4),
                "rank": rank,
            }
        )
    return rows


# -- the audit ----------------------------------------------------------------------------------
def run_audit(
    out: str | Path,
    *,
    quick: bool = False,
    train_subset: int | None = None,
    folds: int = 5,
    near: float = 0.02,
    seed: int = 0,
    data_dir: str | Path | None = None,
    echo: Callable[[str], None] = print,
) -> list[Path]:
    """Audit the training (sub)set and the test set; write the tables and a summary into ``out``.

    Args:
        quick: 10,000 training images and 3 folds (stated in the output).
        train_subset: audit only this many stratified training images (None: all 60,000).
        folds: k of the out-of-fold probabilities.
        near: RMS pixel-difference threshold of a near duplicate (pixels in [0, 1]).
    Returns:
        The files written.
    """
    if quick:
        train_subset, folds = QUICK["train_subset"], QUICK["folds"]
        echo(
            f"QUICK audit: {train_subset:,} stratified training images, {folds} folds "
            "(the full audit uses all 60,000 and 5)"
        )
    arrays, source = load_arrays(data_dir)
    labels_all = arrays["train_labels"].astype(np.int64)
    index = (
        stratified_subset(np.arange(len(labels_all)), labels_all, train_subset, seed)
        if train_subset
        else np.arange(len(labels_all))
    )
    train, labels = arrays["train_images"][index], labels_all[index]
    test, test_labels = arrays["test_images"], arrays["test_labels"].astype(np.int64)
    echo(f"duplicates among {len(train):,} training and {len(test):,} test images ...")
    exact = [
        (a, int(index[i]) if a == "train" else i, b, int(index[j]) if b == "train" else j, 0.0)
        for a, i, b, j in exact_duplicates(train, test)
    ]
    close = [
        (a, int(index[i]), b, int(index[j]) if b == "train" else j, rms)
        for a, i, b, j, rms in near_duplicates(train, test, near, seed=seed)
    ]
    echo(f"out-of-fold probabilities ({folds} folds, PCA-64 + MLP-256) and cleanlab ...")
    probs = out_of_fold_probabilities(train, labels, folds, seed)
    x_test = test.reshape(len(test), -1) / 255.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test_probs = (
            _cheap_model(seed)
            .fit(train.reshape(len(train), -1) / 255.0, labels)
            .predict_proba(x_test)
        )
    issues = _issue_rows("train", index, labels, probs, label_issues(labels, probs))
    issues += _issue_rows(
        "test", np.arange(len(test)), test_labels, test_probs, label_issues(test_labels, test_probs)
    )
    settings = {
        "source": str(source),
        "train_images": len(train),
        "quick": quick,
        "folds": folds,
        "near_rms": near,
        "seed": seed,
        "oof_accuracy": float((probs.argmax(1) == labels).mean()),
        "test_accuracy_of_audit_model": float((test_probs.argmax(1) == test_labels).mean()),
    }
    return _write(
        Path(out), exact + close, issues, settings, {"train": labels_all, "test": test_labels}
    )


def _write(
    out: Path,
    duplicates: list[tuple],
    issues: list[dict],
    settings: dict,
    labels: dict[str, np.ndarray],
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    dup_rows = [
        {
            "kind": ("exact" if rms == 0 else "near") + f" {a}-{b}",
            "split_a": a,
            "index_a": i,
            "label_a": int(labels[a][i]),
            "split_b": b,
            "index_b": j,
            "label_b": int(labels[b][j]),
            "rms_difference": round(rms, 5),
        }
        for a, i, b, j, rms in duplicates
    ]
    counts = {
        kind: sum(r["kind"] == kind for r in dup_rows)
        for kind in ("exact train-train", "exact train-test", "near train-train", "near train-test")
    }
    counts["label_conflicts_in_duplicates"] = sum(r["label_a"] != r["label_b"] for r in dup_rows)
    counts["suspected_label_errors_train"] = sum(r["split"] == "train" for r in issues)
    counts["suspected_label_errors_test"] = sum(r["split"] == "test" for r in issues)
    paths = [out / DUPLICATES_TABLE, out / ISSUES_TABLE, out / "audit.json", out / "audit.md"]
    _write_csv(paths[0], dup_rows, DUPLICATE_COLUMNS)
    _write_csv(paths[1], issues, ISSUE_COLUMNS)
    atomic_write(paths[2], json.dumps({"settings": settings, "counts": counts}, indent=2))
    atomic_write(paths[3], _markdown(settings, counts, issues))
    return paths


def read_findings(out: str | Path) -> tuple[list[dict], list[dict]]:
    """The duplicate pairs and the suspected label errors of the audit in ``out``, in table order,
    with numbers as numbers."""
    out = Path(out)
    return (
        _read_csv(out / DUPLICATES_TABLE, DUPLICATE_COLUMNS),
        _read_csv(out / ISSUES_TABLE, ISSUE_COLUMNS),
    )


def _read_csv(path: Path, columns: dict[str, type]) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return [{c: cast(row[c]) for c, cast in columns.items()} for row in csv.DictReader(f)]


def _write_csv(path: Path, rows: list[dict], columns: dict[str, type]) -> None:
    from io import StringIO

    buffer = StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, buffer.getvalue())


def _markdown(settings: dict, counts: dict, issues: list[dict]) -> str:
    lines = [
        "# Fashion-MNIST data audit",
        "",
        "Informs only: no label, split or reported accuracy is changed.",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in settings.items()] + [""]
    lines += (
        ["| finding | count |", "|---|---|"] + [f"| {k} | {v} |" for k, v in counts.items()] + [""]
    )
    lines += [
        "## Most suspicious labels",
        "",
        "| split | index | given | suggested | confidence |",
        "|---|---|---|---|---|",
    ]
    lines += [
        (
            f"| {r['split']} | {r['index']} | {r['given_name']} | {r['suggested_name']} | "
            f"{r['confidence']:.2f} |"
        )
        for r in issues[:20]
    ]
    return "\n".join(lines) + "\n"
