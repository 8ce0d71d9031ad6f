"""Recipes, sweeps, resume, k-fold, baselines and the results table, on small real runs."""

from __future__ import annotations

import csv
import json
import statistics

import numpy as np
import pytest

import fmnist
from conftest import tiny
from fmnist.analysis.table import build_table, recount, table_rows, to_csv, to_markdown
from fmnist.api import run_recipes
from fmnist.data import DeviceSplits
from fmnist.errors import ConfigError, RunDirError
from fmnist.recipes import (
    expand_points,
    list_recipes,
    load_recipe,
    match_recipes,
    parse_recipe,
    point_name,
    recipe_names,
)
from fmnist.runner.resolve import plan
from fmnist.runs import RunDir
from fmnist.training import Trainer


def recipe(**fields):
    base = {
        "name": "t",
        "description": "test",
        "config": tiny(train={"epochs": 2, "batch_size": 100}),
    }
    return parse_recipe({**base, **fields})


# -- declarations ---------------------------------------------------------------------------
def test_one_d_grid_and_point_sweeps_expand_to_named_points():
    one_d = recipe(
        sweep={"param": "model.hidden", "values": [[5], [10, 20]], "reported": {"hidden-5": 65.9}}
    )
    assert [(p.name, p.fields, p.reported) for p in expand_points(one_d)] == [
        ("hidden-5", {"model.hidden": [5]}, 65.9),
        ("hidden-10x20", {"model.hidden": [10, 20]}, None),
    ]
    grid = recipe(
        sweep={
            "grid": {"model.activation": ["relu", "elu"], "optim.name": ["adam", "sgd", "nadam"]}
        }
    )
    names = [p.name for p in expand_points(grid)]
    assert (
        len(names) == 6
        and names[0] == "activation-relu__optim-adam"
        and names[-1] == "activation-elu__optim-nadam"
    )
    points = recipe(sweep={"points": [{"name": "l1", "set": {"optim.l1": 1e-5}, "reported": 90.9}]})
    assert expand_points(points)[0].fields == {"optim.l1": 1e-5}
    assert (
        point_name({"train.early_stopping": None, "optim.lr": 0.001, "model.batch_norm": True})
        == "early_stopping-none__lr-0.001__batch_norm-true"
    )


def test_single_run_recipe_has_one_point_with_the_recipe_number(tmp_path):
    jobs = plan(recipe(reported=88.0, seeds=3), out=tmp_path)
    assert [j.path.relative_to(tmp_path).as_posix() for j in jobs] == [
        "t/seed0",
        "t/seed1",
        "t/seed2",
    ]
    assert [j.seed for j in jobs] == [0, 1, 2] and jobs[0].point.reported == 88.0


def test_points_patterns_plan_only_the_points_they_name(tmp_path):
    grid = recipe(
        sweep={"grid": {"model.activation": ["relu", "elu"], "optim.name": ["adam", "rmsprop"]}}
    )
    jobs = plan(grid, out=tmp_path, seeds=2, points=["*rmsprop", "activation-relu__optim-adam"])
    assert [j.path.relative_to(tmp_path / "t").as_posix() for j in jobs] == [
        "activation-relu__optim-adam/seed0",
        "activation-relu__optim-adam/seed1",
        "activation-relu__optim-rmsprop/seed0",
        "activation-relu__optim-rmsprop/seed1",
        "activation-elu__optim-rmsprop/seed0",
        "activation-elu__optim-rmsprop/seed1",
    ]
    with pytest.raises(ConfigError, match="'\\*sgd' matches no point .*allowed: activation-relu"):
        plan(grid, out=tmp_path, points=["*rmsprop", "*sgd"])
    with pytest.raises(ConfigError, match="has one point .*fix: leave --points out"):
        plan(recipe(), out=tmp_path, points=["*"])


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"sweep": {"param": "model.hidden"}}, "needs both param"),
        (
            {"sweep": {"param": "model.hidden", "values": [[5]], "grid": {"optim.name": ["sgd"]}}},
            "exactly one of",
        ),
        ({"sweep": {}}, "exactly one of"),
        ({"sweep": {"grid": {"optim.name": []}}}, "non-empty list"),
        (
            {"sweep": {"param": "model.hidden", "values": [[5], [5]]}},
            "lists a point twice; got: 'hidden-5'",
        ),
        (
            {"sweep": {"param": "model.hidden", "values": [[5]], "reported": {"hidden-6": 1.0}}},
            "unknown points; allowed: .*; got: .hidden-6.",
        ),
        ({"sweep": {"points": [{"name": "a/b", "set": {}}]}}, "plain folder name"),
        ({"sweep": {"param": "optim.nme", "values": [1]}}, "unknown config field 'optim.nme'"),
        ({"sweep": {"param": "optim.lr", "values": [-1]}}, "optim.lr"),
        ({"sweep": {"param": "model.hiden", "values": [[5]]}}, "has no option 'hiden'"),
        ({"seeds": 0}, "seeds"),
        ({"sweeps": {}}, "sweeps"),
    ],
)
def test_bad_declarations_get_one_clear_error(tmp_path, fields, message):
    with pytest.raises(ConfigError, match=message) as info:
        plan(recipe(**fields), out=tmp_path)
    assert "\n" not in str(info.value)


def test_recipe_names_and_patterns_select_recipes_in_order_once():
    assert match_recipes(["s000_softmax", "s000_*"])[:2] == ["s000_softmax", "s000_cnn"]
    assert len(match_recipes(["s000_*"])) == 11 and match_recipes(["*"]) == recipe_names()
    with pytest.raises(ConfigError, match="no recipe matches 's9\\*'"):
        match_recipes(["s9*"])
    with pytest.raises(ConfigError, match="unknown recipe 's000_cnm'"):
        match_recipes(["s000_cnm"])


def test_every_shipped_recipe_validates_full_and_quick(tmp_path):
    recipes = list_recipes()
    assert {r.study for r in recipes} >= {"000", "001", "002", "003", "004"}
    for r in recipes:
        assert r.description and (r.notes or r.baseline or r.study is None), r.name
        for quick in (False, True):
            jobs = plan(r, out=tmp_path, quick=quick)
            assert len({j.path for j in jobs}) == len(jobs) >= 1


def test_quick_changes_are_declared_and_kept_apart(tmp_path):
    vgg = load_recipe("s002_vgg16")
    full, quick = plan(vgg, out=tmp_path)[0], plan(vgg, out=tmp_path, quick=True)[0]
    assert full.config.train.epochs == 50 and quick.config.train.epochs == 1
    assert quick.config.data.train_subset == 2000 and quick.path.parent.name == "s002_vgg16-quick"


# -- running, skipping, resuming ------------------------------------------------------------
def test_interrupted_sweep_skips_finished_points_and_resumes_the_rest(tmp_path, monkeypatch):
    r = recipe(sweep={"param": "model.hidden", "values": [[16], [32]]})
    original = Trainer._end_epoch
    calls = {"n": 0}

    def crash_in_second_point(self, row):
        original(self, row)
        calls["n"] += 1
        if calls["n"] == 3:  # point 1 did epochs 1-2; die after point 2's first epoch
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_end_epoch", crash_in_second_point)
    with pytest.raises(KeyboardInterrupt):
        run_recipes([r], out=tmp_path, verbose=False)
    monkeypatch.setattr(Trainer, "_end_epoch", original)
    first, second = tmp_path / "t/hidden-16/seed0", tmp_path / "t/hidden-32/seed0"
    assert (
        RunDir(first).is_complete
        and not RunDir(second).is_complete
        and len(RunDir(second).read_metrics()) == 1
    )
    first_summary = (first / "summary.json").read_text()

    statuses = [status for _, status in run_recipes([r], out=tmp_path, verbose=False).results]
    assert statuses == ["skipped", "resumed"]
    assert (first / "summary.json").read_text() == first_summary
    resumed = json.loads((second / "summary.json").read_text())
    clean = run_recipes([r], out=tmp_path / "clean", verbose=False).results[1][0].path
    assert (
        resumed["test_accuracy"]
        == json.loads((clean / "summary.json").read_text())["test_accuracy"]
    )
    timeless = lambda path: [  # noqa: E731
        {k: v for k, v in row.items() if k != "seconds"} for row in RunDir(path).read_metrics()
    ]
    assert timeless(second) == timeless(clean) and len(timeless(second)) == 2
    assert [s for _, s in run_recipes([r], out=tmp_path, verbose=False).results] == [
        "skipped",
        "skipped",
    ]


def test_runs_trained_in_parallel_processes_write_the_same_records_as_in_order(tmp_path):
    r = recipe(sweep={"param": "model.hidden", "values": [[16], [32]]})
    in_order = {
        job.point.name: job.path
        for job, _ in run_recipes([r], out=tmp_path / "in_order", verbose=False).results
    }
    parallel = run_recipes([r], out=tmp_path / "parallel", jobs=2, verbose=False).results
    assert sorted((job.point.name, status) for job, status in parallel) == [
        ("hidden-16", "trained"),
        ("hidden-32", "trained"),
    ]
    for job, _ in parallel:
        ours, theirs = (
            RunDir(job.path).read_metrics(),
            RunDir(in_order[job.point.name]).read_metrics(),
        )
        assert [row["epoch"] for row in ours] == [row["epoch"] for row in theirs] == [1, 2]
        # Same seed, same data order; only the CPU thread count differs (1 per worker vs 2), which
        # moves float sums a little.
        assert [row["train_loss"] for row in ours] == pytest.approx(
            [row["train_loss"] for row in theirs], rel=1e-3
        )
        summary = json.loads((job.path / "summary.json").read_text())
        assert summary["test_accuracy"] == pytest.approx(
            json.loads((in_order[job.point.name] / "summary.json").read_text())["test_accuracy"],
            abs=0.005,
        )
    assert [
        s for _, s in run_recipes([r], out=tmp_path / "parallel", jobs=2, verbose=False).results
    ] == [
        "skipped",
        "skipped",
    ]
    with pytest.raises(ConfigError, match="--jobs must be at least 1; got: 0"):
        run_recipes([r], out=tmp_path / "parallel", jobs=0, verbose=False)


def test_a_run_directory_with_another_config_is_refused(tmp_path):
    run_recipes([recipe()], out=tmp_path, verbose=False)
    with pytest.raises(ConfigError, match="different config .*optim.lr"):
        run_recipes([recipe()], out=tmp_path, overrides=["optim.lr=0.5"], verbose=False)


def test_a_run_made_before_an_option_existed_is_still_the_same_run(tmp_path):
    """Runs are kept for years while options are added: a stored config without today's newer
    field (at its default) is the same run, skipped; one without a field that is now set is not."""
    run_recipes([recipe()], out=tmp_path, verbose=False)
    run = RunDir(tmp_path / "t" / "seed0")
    older = run.read_config()
    del older["train"]["compile"]  # as written before train.compile existed
    run.write_config(older)
    assert [s for _, s in run_recipes([recipe()], out=tmp_path, verbose=False).results] == [
        "skipped"
    ]
    with pytest.raises(ConfigError, match="different config .*train.compile"):
        run_recipes([recipe()], out=tmp_path, overrides=["train.compile=true"], verbose=False)


# -- k-fold ---------------------------------------------------------------------------------
def test_kfold_recipe_folds_are_disjoint_stratified_and_cover_the_training_set(tmp_path):
    jobs = plan(load_recipe("s004_kfold"), out=tmp_path)
    assert [j.fold for j in jobs] == [0, 1, 2, 3, 4]
    vals = [DeviceSplits(j.config.data) for j in jobs]
    indices = [v.indices["val"] for v in vals]
    everything = np.concatenate(indices)
    assert len(everything) == len(set(everything)) == 60000
    for v in vals:
        assert not set(v.indices["train"]) & set(v.indices["val"])
        counts = np.bincount(v.labels["val"].numpy(), minlength=10)
        assert counts.min() == counts.max() == 1200  # 6,000 per class / 5 folds


# -- table ----------------------------------------------------------------------------------
def test_table_rows_equal_the_summaries_with_mean_and_std(tmp_path):
    r = recipe(
        seeds=2,
        reported=80.0,
        folds=2,
        config=tiny(data={"train_subset": 1000}, train={"epochs": 1, "batch_size": 100}),
    )
    results = run_recipes([r], out=tmp_path, verbose=False).results
    summaries = [json.loads((job.path / "summary.json").read_text()) for job, _ in results]
    accs = [100 * summary["test_accuracy"] for summary in summaries]
    seconds = [summary["train_seconds"] for summary in summaries]
    folds = [100 * RunDir(job.path).read_metrics()[-1]["val_accuracy"] for job, _ in results]
    (row,) = build_table(tmp_path)
    assert row["n"] == 4 and row["experiment"] == "t" and row["reported"] == 80.0
    assert row["test_accuracy_mean"] == pytest.approx(statistics.fmean(accs))
    assert row["test_accuracy_std"] == pytest.approx(statistics.stdev(accs))
    assert row["train_seconds_std"] == pytest.approx(statistics.stdev(seconds))
    assert row["difference"] == pytest.approx(statistics.fmean(accs) - 80.0)
    assert row["cv_accuracy_mean"] == pytest.approx(
        statistics.fmean(folds)
    )  # restore_best: that fold's best epoch = its only epoch
    assert row["params"] == summaries[0]["params"] and row["macs"] == summaries[0]["macs"]
    assert f"{statistics.fmean(accs):.2f} ± {statistics.stdev(accs):.2f}" in to_markdown([row])
    parsed = next(csv.DictReader(to_csv([row]).splitlines()))
    assert float(parsed["test_accuracy_mean"]) == pytest.approx(row["test_accuracy_mean"])


def test_table_orders_sweep_points_by_their_numbers():
    def record(point):
        recipe_record = {
            "study": "001",
            "name": "s001_hidden_sweep",
            "point": point,
            "quick": False,
            "reported": None,
        }
        return {
            "recipe": recipe_record,
            "test_accuracy": 0.8,
            "fold": None,
            "config": {},
            "model": "mlp",
            "params": 1,
            "macs": 1,
            "train_seconds": 1.0,
            "precision": "fp32",
            "val_accuracy": None,
        }

    rows = table_rows([record(p) for p in ["hidden-100", "hidden-5", "hidden-20"]])
    assert [r["point"] for r in rows] == ["hidden-5", "hidden-20", "hidden-100"]
    assert rows[0]["group"] == "s001_hidden_sweep:hidden-5"  # the run name, as figures show it
    single = rows[0]
    assert single["test_accuracy_std"] is None and single["train_seconds_std"] is None
    assert "| 80.00 | 1 |" in to_markdown([single])  # one run: no "± 0.00"
    assert next(csv.DictReader(to_csv([single]).splitlines()))["test_accuracy_std"] == ""


# -- baselines ------------------------------------------------------------------------------
def baseline_recipe(name, **options):
    baseline = {"name": name, "options": options}
    return parse_recipe(
        {
            "name": f"b_{name}",
            "description": "d",
            "baseline": baseline,
            "config": {"data": {"train_subset": 500, "val_size": 500}},
        }
    )


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("logreg", {}),
        ("hog_svm", {}),
        ("svm", {"kernel": "poly", "standardize": True}),
        ("mlp", {"max_iter": 30}),
        ("boosted_trees", {"max_iter": 10}),
    ],
)
def test_baseline_writes_a_valid_run_directory(tmp_path, name, options, real_data_dir):
    r = baseline_recipe(name, **options)
    ((job, status),) = run_recipes([r], out=tmp_path, verbose=False).results
    summary = json.loads((job.path / "summary.json").read_text())
    assert (
        status == "trained"
        and summary["model"] == f"sklearn_{name}"
        and summary["train_images"] == 500
    )
    with open(job.path / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10000
    from fmnist.data import load_arrays

    labels = load_arrays(real_data_dir)[0]["test_labels"]
    assert summary["test_accuracy"] == pytest.approx(
        np.mean([int(row["predicted"]) == y for row, y in zip(rows, labels)])
    )
    assert summary["test_accuracy"] > 0.5
    (table_row,) = build_table(tmp_path)
    assert table_row["model"] == f"sklearn_{name}" and table_row["params"] == summary["params"]
    assert [s for _, s in run_recipes([r], out=tmp_path, verbose=False).results] == ["skipped"]


def test_a_baseline_option_scikit_learn_refuses_is_one_config_error(tmp_path, real_data_dir):
    for options, refusal in [({"max_iter": -1}, "max_iter"), ({"n_trees": 5}, "n_trees")]:
        with pytest.raises(ConfigError, match=f"does not take these options .*{refusal}"):
            run_recipes([baseline_recipe("boosted_trees", **options)], out=tmp_path / refusal)


def test_a_baseline_run_has_a_report_but_refuses_evaluate(tmp_path, real_data_dir):
    from fmnist.report import build_report

    ((job, _),) = run_recipes([baseline_recipe("logreg")], out=tmp_path, verbose=False).results
    run = fmnist.load_run(job.path)
    with pytest.raises(
        RunDirError, match="is a scikit-learn baseline run: it keeps no fitted model"
    ):
        run.evaluate()
    page = build_report(job.path).read_text()
    assert (
        f"{run.summary['test_accuracy']:.2%}" in page
        and "Confusion matrix" in page
        and "Learning curves" not in page
    )


def test_the_table_recounts_test_accuracy_from_the_predictions_and_refuses_a_mismatch(tmp_path):
    labels = np.arange(10_000) % 10
    predicted = labels.copy()
    predicted[:800] = (predicted[:800] + 1) % 10  # 800 mistakes: 92.00 %
    run = RunDir(tmp_path)
    run.write_predictions(labels, predicted, np.eye(10)[predicted])
    record = {"path": str(tmp_path), "test_accuracy": 0.92}
    recount([record], labels)
    assert record["recounted"]
    with pytest.raises(RunDirError, match="says test accuracy 0.9300 but .* recounts 0.9200"):
        recount([{"path": str(tmp_path), "test_accuracy": 0.93}], labels)
    with pytest.raises(RunDirError, match="holds 10,000 labels, the official test set 9,999"):
        recount([{"path": str(tmp_path), "test_accuracy": 0.92}], labels[:9_999])
    absent = {"path": str(tmp_path / "older-run"), "test_accuracy": 0.5}
    recount([absent], labels)
    assert absent["recounted"] is False


def test_a_study_number_on_validation_is_compared_with_our_validation_accuracy():
    recipe_record = {
        "study": "002",
        "name": "s002_cnn1_tuning",
        "point": "no-batchnorm",
        "quick": False,
        "reported": None,
        "reported_val": 92.52,
    }
    record = {
        "recipe": recipe_record,
        "test_accuracy": 0.92,
        "val_accuracy": 0.93,
        "fold": None,
        "config": {},
        "model": "cnn",
        "params": 1,
        "macs": 1,
        "train_seconds": 1.0,
        "precision": "bf16",
        "recounted": True,
    }
    (row,) = table_rows([record])
    assert row["difference"] is None and row["val_difference"] == pytest.approx(0.48)
    assert "| val 92.52 | val +0.48 | 1/1 |" in to_markdown([row])
    # A run trained on a GPU before predictions were kept: the row says what re-making it needs.
    (gpu_row,) = table_rows([{**record, "recounted": False, "device": "cuda"}])
    assert "| val +0.48 | 0/1 GPU, not yet recounted |" in to_markdown([gpu_row])
    (cpu_row,) = table_rows([{**record, "recounted": False, "device": "cpu"}])
    assert "| val +0.48 | 0/1 |" in to_markdown([cpu_row])
