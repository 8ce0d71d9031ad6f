"""Holdout and k-fold splits of the training set, and stratified samples of any split: all seeded;
the test set is never split."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split


def holdout_split(labels: np.ndarray, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val) with ``val_size`` stratified validation images; val is empty for 0."""
    all_idx = np.arange(len(labels))
    if val_size == 0:
        return all_idx, all_idx[:0]
    train, val = train_test_split(all_idx, test_size=val_size, stratify=labels, random_state=seed)
    return np.sort(train), np.sort(val)


def kfold_splits(labels: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``folds`` stratified (train, val) index pairs whose val parts partition the training set."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(train, val) for train, val in splitter.split(np.zeros(len(labels)), labels)]


def stratified_subset(indices: np.ndarray, labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A stratified subset of ``indices`` of ``size`` images (all of them if size >= len)."""
    if size >= len(indices):
        return indices
    subset, _ = train_test_split(
        indices, train_size=size, stratify=labels[indices], random_state=seed
    )
    return np.sort(subset)


def stratified_sample(labels: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``size`` images, the same number per class (all of them if size >= len).

    Unlike ``stratified_subset`` (proportional to the class sizes), every class gets an equal
    share, so a map of the sample shows each class alike; its own numpy generator leaves torch's
    random state untouched.
    """
    if size >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = size // len(classes)
    return np.sort(
        np.concatenate(
            [rng.choice(np.flatnonzero(labels == k), per_class, replace=False) for k in classes]
        )
    )
