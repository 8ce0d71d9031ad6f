"""Run directories are honest and safe; the CLI answers bad input with one line and exit code 2."""

from __future__ import annotations

import csv
import json
import pickle

import numpy as np
import pytest
import yaml

import fmnist
from fmnist.data import load_arrays
from fmnist.errors import ConfigError, RunDirError
from fmnist.runs import RunDir
from fmnist.training.trainer import load_checkpoint
from tests.conftest import fmnist_cli, tiny


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    return fmnist.train(tiny(), out=tmp_path_factory.mktemp("runs"), verbose=False)


def test_run_directory_holds_the_whole_record(finished_run):
    files = {p.name for p in finished_run.path.iterdir()} | {
        p.name for p in (finished_run.path / "ckpt").iterdir()
    }
    assert {
        "config.yaml",
        "env.json",
        "metrics.jsonl",
        "summary.json",
        "predictions.csv",
        "last.pt",
        "best.pt",
        "final.pt",
    } <= files
    assert not any(name.endswith(".tmp") for name in files)
    env = json.loads((finished_run.path / "env.json").read_text())
    assert env["torch"] and env["seed"] == 0 and env["device"] == "cpu"
    summary = finished_run.summary
    assert set(summary["per_class"]) == set(fmnist.CLASS_NAMES)
    assert np.array(summary["confusion_matrix"]).sum() == 10000
    assert len(finished_run.metrics) == 2 and {
        "train_loss",
        "val_accuracy",
        "lr",
        "seconds",
    } <= set(finished_run.metrics[0])


def test_summary_accuracy_equals_the_recount_from_predictions(finished_run, real_data_dir):
    labels = load_arrays(real_data_dir)[0]["test_labels"]
    with open(finished_run.path / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert (
        len(rows) == 10000
        and list(rows[0])[:3] == ["index", "label", "predicted"]
        and len(rows[0]) == 13
    )
    assert [int(r["label"]) for r in rows] == labels.tolist()
    recount = np.mean([int(r["predicted"]) == int(r["label"]) for r in rows])
    assert recount == finished_run.summary["test_accuracy"]
    probs = np.array([[float(r[f"p{k}"]) for k in range(10)] for r in rows[:50]])
    assert np.allclose(probs.sum(1), 1, atol=1e-4)


def test_test_predictions_recount_the_summary_accuracy_against_the_official_labels(
    finished_run, real_data_dir
):
    labels = load_arrays(real_data_dir)[0]["test_labels"]
    lines = (finished_run.path / "test_predictions.txt").read_text().splitlines()
    assert len(lines) == 10000 and all(len(line) == 1 and line.isdigit() for line in lines)
    predicted = RunDir(finished_run.path).read_test_predictions()
    assert np.mean(predicted == labels) == finished_run.summary["test_accuracy"]


def test_evaluate_and_predict_agree_with_the_summary(finished_run, real_data_dir):
    assert finished_run.evaluate("test")["accuracy"] == pytest.approx(
        finished_run.summary["test_accuracy"]
    )
    arrays = load_arrays(real_data_dir)[0]
    predicted = finished_run.predict(arrays["test_images"]).argmax(1)
    assert np.mean(predicted == arrays["test_labels"]) == pytest.approx(
        finished_run.summary["test_accuracy"]
    )


def test_checkpoints_never_unpickle_foreign_objects(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"model": Payload()}))
    with pytest.raises(RunDirError, match="cannot be loaded safely"):
        load_checkpoint(evil)


def test_run_paths_stay_inside_the_run_directory(finished_run):
    assert (
        RunDir(finished_run.path).file("figures/a.png").is_relative_to(finished_run.path.resolve())
    )
    with pytest.raises(RunDirError, match="leaves the run directory"):
        RunDir(finished_run.path).file("../../etc/passwd")


def test_unfinished_run_says_how_to_finish_it(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(tiny()))
    with pytest.raises(RunDirError, match="fmnist train --resume"):
        _ = fmnist.load_run(tmp_path / "run").summary


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--model", "resnet21"], "'resnet21' is not a registered model; allowed: cnn"),
        (["train", "--set", "model.widht=3"], "model 'cnn' has no option 'widht'"),
        (["train", "--set", "optim.lr=-1"], "optim.lr"),
        (["train", "--set", "optim.name=adamm"], "optim.name"),
        (
            ["train", "--set", "trian.epochs=3"],
            "unknown config field 'trian'; allowed: name, seed, data",
        ),
        (["train", "--set", "epochs"], "is not KEY=VALUE"),
        (["train", "--recipe", "nope"], "unknown recipe 'nope'"),
        (["train", "--config", "missing.yaml"], "does not exist"),
        (["evaluate", "not-a-run"], "not an fmnist run directory"),
    ],
)
def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, args, message):
    result = fmnist_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "; fix: " in result.stderr or "; allowed: " in result.stderr  # the one error shape


def test_cli_trains_evaluates_and_predicts(tmp_path, real_data_dir):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny()))
    result = fmnist_cli(
        "train",
        "--config",
        config,
        "--set",
        "train.epochs=1",
        "--out",
        tmp_path / "runs",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    run_dir = next((tmp_path / "runs").iterdir())
    assert f"run directory: {run_dir}" in result.stdout and "summary.json" in result.stdout
    assert fmnist.load_run(run_dir).config.train.epochs == 1

    evaluated = fmnist_cli("evaluate", run_dir)
    accuracy = fmnist.load_run(run_dir).summary["test_accuracy"]
    assert evaluated.returncode == 0 and f"accuracy {accuracy:.4f}" in evaluated.stdout
    # A notebook and the CLI meet the same check.
    wrong_split = fmnist_cli("evaluate", run_dir, "--split", "dev")
    assert (
        wrong_split.returncode == 2
        and wrong_split.stderr.strip()
        == "error: unknown split 'dev'; allowed: train, val, test; "
        "fix: --split val, or run.evaluate('val')"
    )
    with pytest.raises(ConfigError, match="unknown split 'dev'; allowed: train, val, test"):
        fmnist.load_run(run_dir).evaluate("dev")

    from PIL import Image

    images = load_arrays(real_data_dir)[0]["test_images"][:3]
    np.save(tmp_path / "three.npy", images)
    photo = tmp_path / "trouser.png"
    Image.fromarray(255 - images[2]).resize((280, 280)).save(photo)  # a light-background "photo"
    predicted = fmnist_cli("predict", run_dir, tmp_path / "three.npy", photo, "--top", "2")
    assert predicted.returncode == 0, predicted.stderr
    lines = predicted.stdout.strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith(f"{tmp_path / 'three.npy'}[0]: ")
    assert lines[3].startswith(f"{photo}: ") and lines[3].count("%") == 2

    # Bad files get one line each and the exit code says so; the others are still classified.
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    speck = np.full((5, 5), 255, np.uint8)
    speck[2, 2] = 0
    Image.fromarray(speck).save(tmp_path / "tiny.png")  # a 5x5 PNG holds no garment
    Image.new("L", (40, 40), 255).save(tmp_path / "blank.png")
    mixed = fmnist_cli(
        "predict",
        run_dir,
        tmp_path / "notes.txt",
        photo,
        tmp_path / "broken.png",
        tmp_path / "tiny.png",
        tmp_path / "blank.png",
        "--show",
        tmp_path / "seen",
    )
    assert mixed.returncode == 1 and "Traceback" not in mixed.stderr
    assert [line.split(":")[0] for line in mixed.stdout.strip().splitlines()] == [
        str(photo),
        str(tmp_path / "tiny.png"),
        str(tmp_path / "blank.png"),
    ]
    assert mixed.stdout.count("%") == 9  # top 3 by default
    errors = [line for line in mixed.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 2 and "unsupported file type" in errors[0]
    assert "cannot be read as an image" in errors[1]
    assert f"{tmp_path / 'tiny.png'}: warning: the image is only 5x5 pixels" in mixed.stderr
    assert f"{tmp_path / 'blank.png'}: warning: blank image" in mixed.stderr
    assert sorted(p.name for p in (tmp_path / "seen").iterdir()) == [
        "001-trouser.png",
        "003-tiny.png",
        "004-blank.png",
    ]


def test_models_command_lists_every_model_with_size():
    result = fmnist_cli("models")
    assert result.returncode == 0
    for name in fmnist.list_models():
        assert any(line.startswith(name + " ") for line in result.stdout.splitlines())
    assert (
        "7,850" in result.stdout and "7,840" in result.stdout
    )  # softmax: 784*10+10 params, 784*10 MACs
