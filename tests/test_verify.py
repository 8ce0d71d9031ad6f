"""`fmnist verify`: every committed run and benchmark record recounts from its predictions."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from conftest import ROOT
from fmnist import api
from fmnist.data.sources import load_arrays
from fmnist.errors import RunDirError


def test_the_committed_records_recount_and_the_readmes_quote_them(monkeypatch):
    monkeypatch.chdir(ROOT)  # make verify's view: the committed records and documentation
    verified = api.verify()
    assert verified.runs > 100 and verified.runs_recounted >= 40
    assert verified.runs_recounted + len(verified.runs_without_predictions) == verified.runs
    # Rows: every row either recounts, waits for a GPU, or is a CPU row still to re-make.
    assert verified.rows > 100 and verified.rows_recounted >= 38
    assert verified.rows_recounted + verified.rows_waiting_for_a_gpu <= verified.rows
    assert verified.quotes.numbers >= 40 and verified.quotes.files >= 1


FRONTIER = "benchmarks/results/frontier-2026-12-02-cpu-fp32-no-native-bf16.json"


def _page(tmp_path, text: str):
    page = tmp_path / "page.md"
    page.write_text(text)
    return page


def test_a_quoted_number_that_its_record_does_not_hold_is_refused(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    quoted = f"<!-- from: {FRONTIER} -->\n| fmnist `fast` (fp32 variant) | 9 | 92.84 | 123.0 |\n"
    checked = api.verify(ROOT / "benchmarks" / "results", pages=[_page(tmp_path, quoted)]).quotes
    assert (checked.numbers, checked.mismatches) == (3, [])
    with pytest.raises(RunDirError, match=r"page.md:2: 92.48 is not a value of frontier-"):
        api.verify(
            ROOT / "benchmarks" / "results",
            pages=[_page(tmp_path, quoted.replace("92.84", "92.48"))],
        )
    # A mark shown in a sentence (documentation about marks) is not a mark.
    about = f"Write `<!-- from: {FRONTIER} -->` above a table.\n| 1.234 |\n"
    assert (
        api.verify(ROOT / "benchmarks" / "results", pages=[_page(tmp_path, about)]).quotes.blocks
        == 0
    )
    # Names, dates, code, link targets and an interval's confidence level are not quotes.
    names = (
        f"<!-- from: {FRONTIER} -->\n"
        "ResNet-18 in fp32 on 2026-12-02, `--seeds 7`, [x](a/b3.md), a 95 % interval\n"
    )
    assert (
        api.verify(ROOT / "benchmarks" / "results", pages=[_page(tmp_path, names)]).quotes.numbers
        == 0
    )


def test_a_signed_difference_must_match_a_value_of_its_sign(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    runs = ROOT / "results" / "runs" / "s000_cnn"
    below = "<!-- from: results/runs/s000_cnn -->\n`s000_cnn` (\u22120.40, 3 seeds at ± 0.02)\n"
    assert api.verify(runs, pages=[_page(tmp_path, below)]).quotes.numbers == 3
    # The same digits with the other sign are another claim: ours above the study.
    with pytest.raises(RunDirError, match=r"page.md:2: \+0.40 is not a value of s000_cnn"):
        api.verify(runs, pages=[_page(tmp_path, below.replace("\u2212", "+"))])
    # A range's dash is not a sign.
    assert (
        api.verify(
            runs, pages=[_page(tmp_path, "<!-- from: results/runs/s000_cnn -->\n90.47-90.54\n")]
        ).quotes.mismatches
        == []
    )


def test_a_number_after_an_experiments_name_is_checked_against_that_experiment(
    monkeypatch, tmp_path
):
    monkeypatch.chdir(ROOT)
    runs = ROOT / "results" / "runs"
    mark = "<!-- from: results/runs -->\n"
    # 90.51 is s000_cnn's mean, 84.14 s000_softmax's: each only where its experiment is named.
    right = mark + "- `s000_cnn` (90.51), then `s000_softmax` (84.14)\n- and 90.51 again\n"
    assert api.verify(runs, pages=[_page(tmp_path, right)]).quotes.mismatches == []
    swapped = mark + "- `s000_cnn` (84.14), then `s000_softmax` (90.51)\n"
    with pytest.raises(RunDirError, match=r"page.md:2: 84.14 is not a value of runs \(and 1 more"):
        api.verify(runs, pages=[_page(tmp_path, swapped)])


def test_a_number_only_a_runs_per_class_scores_hold_is_not_a_quote(monkeypatch, tmp_path):
    # A run's per-class scores and confusion matrix hold 140 numbers: "7 layers" or a stale
    # accuracy after `s000_cnn` would match one of them by chance and pass as a quote.
    monkeypatch.chdir(ROOT)
    runs = ROOT / "results" / "runs" / "s000_cnn"
    summary = json.loads((runs / "seed0" / "summary.json").read_text())
    assert any(7 in row for row in summary["confusion_matrix"])
    assert round(100 * summary["per_class"]["Shirt"]["recall"], 1) == 70.3
    mark = "<!-- from: results/runs/s000_cnn -->\n"
    for quoted in ("7", "70.3"):
        with pytest.raises(RunDirError, match=rf"page.md:2: {quoted} is not a value of s000_cnn"):
            api.verify(runs, pages=[_page(tmp_path, f"{mark}`s000_cnn` scores {quoted}\n")])


def test_a_tables_percentage_is_not_read_as_a_fraction(monkeypatch, tmp_path):
    # The table shows s000_cnn's T-scaled ECE as 0.69 (%): read as a fraction it would make "69"
    # (a count, a stale number) pass as a quote; seed 0's accuracy, 0.9049, still reads as 90.49.
    monkeypatch.chdir(ROOT)
    runs = ROOT / "results" / "runs" / "s000_cnn"
    row = api.table(runs, output=tmp_path / "table").rows[0]
    assert round(row["test_ece_scaled_mean"], 2) == 0.69
    mark = "<!-- from: results/runs/s000_cnn -->\n"
    seed0 = json.loads((runs / "seed0" / "summary.json").read_text())["test_accuracy"]
    quoted = f"{mark}`s000_cnn` seed 0: {100 * seed0:.2f} %\n"
    assert api.verify(runs, pages=[_page(tmp_path, quoted)]).quotes.mismatches == []
    with pytest.raises(RunDirError, match=r"page.md:2: 69 is not a value of s000_cnn"):
        api.verify(runs, pages=[_page(tmp_path, f"{mark}`s000_cnn` scores 69\n")])


def test_a_marked_table_must_be_what_fmnist_table_prints(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    table = api.table("results/runs/strong", output=tmp_path / "table").markdown
    page = _page(tmp_path, f"<!-- table: results/runs/strong -->\n{table}\nprose")
    assert api.verify(ROOT / "results" / "runs" / "strong", pages=[page]).quotes.tables == 1
    mean = re.search(r"(\d+\.\d\d) ±", table).group(1)  # the row's mean test accuracy
    changed = table.replace(f"{mean} ±", f"{float(mean) + 0.09:.2f} ±")
    assert changed != table
    with pytest.raises(
        RunDirError, match="differs from `fmnist table results/runs/strong` at its line 3"
    ):
        api.verify(
            ROOT / "results" / "runs" / "strong",
            pages=[_page(tmp_path, f"<!-- table: results/runs/strong -->\n{changed}")],
        )


def test_a_run_or_benchmark_whose_number_does_not_recount_is_refused(tmp_path):
    labels = load_arrays()[0]["test_labels"]
    kept = min(p.parent for p in (ROOT / "results" / "runs").rglob("test_predictions.txt"))
    run = shutil.copytree(kept, tmp_path / "runs" / "one")
    summary = json.loads((run / "summary.json").read_text())
    summary["test_accuracy"] += 0.001  # ten images more than the predictions hold
    (run / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RunDirError, match="recounts"):
        api.verify(tmp_path / "runs")

    bench = tmp_path / "bench"
    bench.mkdir()
    predicted = labels.copy()
    predicted[:25] = (predicted[:25] + 1) % 10  # 25 wrong: 99.75 %
    np.savez_compressed(bench / "speed-x.predictions.npz", run0=predicted.astype(np.uint8))
    entry = {"seed": 0, "wall": 1.0, "accuracy": 0.9975}
    entry["predictions"] = "speed-x.predictions.npz:run0"
    (bench / "speed-x.json").write_text(json.dumps({"fmnist": {"runs": [entry]}}))
    assert api.verify(bench).benchmark_runs_recounted == 1
    entry["accuracy"] = 0.9985
    (bench / "speed-x.json").write_text(json.dumps({"fmnist": {"runs": [entry]}}))
    with pytest.raises(RunDirError, match="recount 0.9975"):
        api.verify(bench)

    # A record measured on the first N test images (benchmarks/photos.py) recounts against those.
    (bench / "speed-x.json").unlink()
    np.savez_compressed(bench / "photos-x.predictions.npz", run0=predicted[:100].astype(np.uint8))
    first_100 = {"accuracy": 0.75, "test_images": 100}
    first_100["predictions"] = "photos-x.predictions.npz:run0"
    (bench / "photos-x.json").write_text(json.dumps({"runs": [{"photos": first_100}]}))
    assert api.verify(bench).benchmark_runs_recounted == 1  # 25 of the first 100 wrong
    first_100["test_images"] = 10_000
    (bench / "photos-x.json").write_text(json.dumps({"runs": [{"photos": first_100}]}))
    with pytest.raises(RunDirError, match="hold 100 labels for 10000 test images"):
        api.verify(bench)


def test_a_rows_interval_is_over_seeds_where_there_are_several_else_over_the_test_images():
    from scipy import stats

    from fmnist.analysis.table import accuracy_interval

    low, high, over = accuracy_interval([0.91, 0.92, 0.93])
    half = stats.t.ppf(0.975, 2) * 0.01 / 3**0.5  # sample std 0.01, three seeds
    assert over == "seeds" and (low, high) == pytest.approx((92 - 100 * half, 92 + 100 * half))
    z, n, p = stats.norm.ppf(0.975), 10_000, 0.9
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5 / (1 + z * z / n)
    wilson = pytest.approx((100 * (centre - half), 100 * (centre + half)))
    low, high, over = accuracy_interval([0.9])  # 9,000 of 10,000: Wilson's score interval
    assert over == "images" and (low, high) == wilson
    # Seeds of a deterministic method agree on the count; their float mean may not be exact, and
    # a 0-width interval "over seeds" would claim a certainty the 10,000 images do not give.
    same_count = [0.9, 0.9 + 1e-15, 0.9 - 1e-15]
    low, high, over = accuracy_interval(same_count)
    assert over == "images" and (low, high) == wilson
