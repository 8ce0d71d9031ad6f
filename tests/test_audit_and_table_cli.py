"""The data audit (duplicates, cleanlab label issues) and the recipe/table commands end to end."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import fmnist as fmnist_package
from fmnist import api
from fmnist.data.audit import exact_duplicates, near_duplicates, read_findings


def test_duplicate_finders_on_planted_copies():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    train[7] = train[3]  # exact within train
    test[4] = train[10]  # exact train-test
    train[20] = train[15]
    train[20, 0, 0] ^= 8  # near within train: one pixel off
    test[9] = train[30]
    test[9, 5, 5] ^= 16  # near train-test
    assert exact_duplicates(train, test) == [("train", 3, "train", 7), ("train", 10, "test", 4)]
    near = [(a, i, b, j) for a, i, b, j, _ in near_duplicates(train, test, near=0.02)]
    assert sorted(near) == [("train", 15, "train", 20), ("train", 30, "test", 9)]


def test_audit_writes_tables_and_grids_and_changes_nothing(tmp_path, real_data_dir):
    files = api.audit_data(
        tmp_path, train_subset=2000, folds=3, data_dir=real_data_dir, echo=lambda _: None
    )
    assert {p.name for p in files} == {
        "duplicates.csv",
        "label_issues.csv",
        "audit.json",
        "audit.md",
        "label_issues.png",
        "duplicates.png",
    }
    for png in ("label_issues.png", "duplicates.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((tmp_path / "audit.json").read_text())
    assert (
        report["settings"]["train_images"] == 2000 and 0.7 < report["settings"]["oof_accuracy"] < 1
    )
    from fmnist.data import load_arrays

    arrays = load_arrays(real_data_dir)[0]
    with open(tmp_path / "label_issues.csv") as f:
        issues = list(csv.DictReader(f))
    assert issues and report["counts"]["suspected_label_errors_train"] == sum(
        r["split"] == "train" for r in issues
    )
    for row in issues[:50]:
        labels = arrays["train_labels" if row["split"] == "train" else "test_labels"]
        assert int(row["given"]) == labels[int(row["index"])]  # the official label, untouched
        assert int(row["suggested"]) != int(row["given"])
    # the grids are drawn from the tables read back with their types
    duplicates, typed_issues = read_findings(tmp_path)
    assert [(r["split"], r["index"], r["confidence"]) for r in typed_issues] == [
        (r["split"], int(r["index"]), float(r["confidence"])) for r in issues
    ]
    assert len(duplicates) == sum(
        v for k, v in report["counts"].items() if k.startswith(("exact ", "near "))
    )


def fmnist(*args, cwd):
    """The CLI in a subprocess from another folder, importing this checkout's fmnist."""
    env = {**os.environ, "PYTHONPATH": str(Path(fmnist_package.__file__).parents[1])}
    return subprocess.run(
        [sys.executable, "-m", "fmnist", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def test_cli_recipes_run_quick_and_table(tmp_path):
    listing = fmnist("recipes", cwd=tmp_path)
    assert (
        listing.returncode == 0 and "s000_softmax" in listing.stdout and "83.13%" in listing.stdout
    )
    quick_run = (
        "run",
        "s000_softmax",
        "--quick",
        "--seeds",
        "2",
        "--out",
        "runs",
        "-q",
        "--set",
        "data.train_subset=1000",
        "--set",
        "train.epochs=1",
    )
    out = fmnist(*quick_run, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (
        "QUICK settings" in out.stdout and "[2/2] trained" in out.stdout and "83.13" in out.stdout
    )
    again = fmnist(*quick_run, cwd=tmp_path)  # the same command again: nothing to train
    assert again.stdout.count("skipped") == 2
    table = fmnist("table", "runs", cwd=tmp_path)
    assert (
        table.returncode == 0
        and "QUICK" in table.stdout
        and (tmp_path / "runs/results.csv").is_file()
    )
    series = fmnist("train", "--recipe", "s004_kfold", cwd=tmp_path)
    assert (
        series.returncode == 2
        and "fmnist run s004_kfold" in series.stderr
        and "Traceback" not in series.stderr
    )
    empty = fmnist("table", ".", cwd=tmp_path / "runs" / "s000_softmax-quick" / "seed0" / "ckpt")
    assert empty.returncode == 2 and "no finished runs" in empty.stderr
