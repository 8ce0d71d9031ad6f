"""RunDir alone, without training: every run file reads back what was written, a crash's torn line
is ignored, and no file may lead outside the run directory."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist.errors import RunDirError
from fmnist.runs import RunDir


@pytest.fixture
def run(tmp_path) -> RunDir:
    (tmp_path / "run").mkdir()
    return RunDir(tmp_path / "run")


def _predictions(n: int = 12, classes: int = 10):
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(classes), n)
    labels = rng.integers(0, classes, n)
    return labels, probabilities.argmax(1), probabilities


@pytest.mark.parametrize("kind", ["metrics", "histograms"])
def test_a_torn_last_line_from_a_crash_mid_append_is_ignored(run, kind):
    append, read = getattr(run, f"append_{kind}"), getattr(run, f"read_{kind}")
    rows = [{"epoch": 1, "value": 0.5}, {"epoch": 2, "value": 0.25}]
    for row in rows:
        append(row)
    with open(run.path / f"{kind}.jsonl", "a") as f:
        f.write('{"epoch": 3, "val')  # the process died here
    assert read() == rows


def test_rewriting_a_jsonl_record_keeps_only_the_given_rows(run):
    for epoch in range(4):
        run.append_histograms({"epoch": epoch})
    run.write_histograms([r for r in run.read_histograms() if r["epoch"] <= 1])
    run.append_histograms({"epoch": 2})
    assert [r["epoch"] for r in run.read_histograms()] == [0, 1, 2]


def test_test_predictions_hold_one_predicted_class_a_line_in_test_set_order(run):
    labels, predicted, probabilities = _predictions()
    run.write_predictions(labels, predicted, probabilities)
    lines = (run.path / "test_predictions.txt").read_text().splitlines()
    assert lines == [str(p) for p in predicted]
    assert all(len(line) == 1 and line.isdigit() for line in lines)
    assert run.read_test_predictions().tolist() == predicted.tolist()


def test_predictions_read_back_as_labels_predicted_and_probabilities(run):
    labels, predicted, probabilities = _predictions()
    run.write_predictions(labels, predicted, probabilities)
    read_labels, read_predicted, read_probabilities = run.read_predictions()
    assert read_labels.tolist() == labels.tolist()
    assert read_predicted.tolist() == predicted.tolist()
    assert np.allclose(read_probabilities, probabilities, atol=1e-6)


def test_absent_records_read_as_nothing(run):
    assert run.read_test_predictions() is None
    assert run.read_recipe() is None
    assert run.read_filters() is None
    assert run.read_embeddings() is None
    assert run.read_histograms() == [] and run.read_metrics() == []
    with pytest.raises(RunDirError, match="no predictions.csv"):
        run.read_predictions()


def test_recipe_filters_and_embeddings_read_back_what_was_written(run):
    recipe = {"name": "s000_cnn", "point": None, "reported": 91.2, "reported_val": None}
    run.write_recipe(recipe)
    assert run.read_recipe() == recipe
    epochs, filters = np.arange(3), np.random.default_rng(0).normal(size=(3, 8, 3, 3))
    run.write_filters(epochs, filters)
    read_epochs, read_filters = run.read_filters()
    assert read_epochs.tolist() == [0, 1, 2] and np.array_equal(read_filters, filters)
    features, labels, index = np.ones((4, 2)), np.arange(4), np.array([3, 7, 8, 9])
    run.write_embeddings(features, labels, index)
    embeddings = run.read_embeddings()
    assert set(embeddings) == {"features", "labels", "index"}
    assert np.array_equal(embeddings["index"], index)


def test_a_link_out_of_the_run_directory_is_refused(run, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"token": "x"}')
    (run.path / "recipe.json").symlink_to(secret)
    with pytest.raises(RunDirError, match="leaves the run directory"):
        run.read_recipe()
    (run.path / "test_predictions.txt").symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(RunDirError, match="leaves the run directory"):
        run.write_predictions(*_predictions())
    assert not (tmp_path / "elsewhere.txt").exists()


def test_recorded_arrays_never_unpickle(run):
    np.savez(run.path / "filters.npz", epochs=np.arange(1), filters=np.array([object()]))
    with pytest.raises(ValueError, match="allow_pickle"):
        run.read_filters()
