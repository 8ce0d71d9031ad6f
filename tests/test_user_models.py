"""Your own model through fmnist's protocol: from a file, by decorator, from an installed plugin;
and `fmnist compare` checked against scipy on known counts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import yaml
from scipy import stats

import fmnist
from conftest import fmnist_cli, tiny
from fmnist import api
from fmnist.analysis.compare import Side, compare_sides
from fmnist.errors import ConfigError, RunDirError
from fmnist.models import catalog
from fmnist.runs import RunDir

TINY_NET = '''
"""A model of your own: two convs and a linear head."""
from torch import nn


def TinyNet(width: int = 4, dropout: float = 0.0) -> nn.Module:
    """Two 3x3 convs, each max-pooled, and a linear head."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * width * 49, 10),
    )
'''


@pytest.fixture(autouse=True)
def _registry_restored():
    """Each test's models leave the process's registry as they found it."""
    saved = dict(catalog._MODELS)
    yield
    catalog._MODELS.clear()
    catalog._MODELS.update(saved)


DECORATOR = '@fmnist.register_model("tiny_deco")\ndef TinyNet'


def _config(tmp_path, epochs: int, train_subset: int = 2000) -> str:
    cfg = tiny(data={"train_subset": train_subset}, train={"epochs": epochs, "batch_size": 50})
    del cfg["model"]
    path = tmp_path / f"cfg{epochs}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def _train_until_killed(cmd, cwd, out, epochs_before_kill: int) -> RunDir:
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        runs = list(out.iterdir()) if out.exists() else []
        if runs and len(RunDir(runs[0]).read_metrics()) >= epochs_before_kill:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed; train longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (run,) = out.iterdir()
    return RunDir(run)


def test_a_file_model_and_a_decorated_one_train_resume_compare_report_export_and_refuse_edits(
    tmp_path, monkeypatch
):
    (tmp_path / "tiny.py").write_text(TINY_NET)
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "fmnist", "train", "--model", "tiny.py:TinyNet"]
    cmd += ["--set", "model.width=6", "--config", _config(tmp_path, 4, 3000), "--out", str(out)]
    run = _train_until_killed(cmd + ["--quiet"], tmp_path, out, epochs_before_kill=1)
    assert not run.is_complete
    # resumed from elsewhere: the run's record says where its code is
    resumed = fmnist_cli("train", "--resume", run.path, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    source = run.read_env()["model_source"]
    assert source["kind"] == "file" and source["path"] == str(tmp_path / "tiny.py")
    assert run.read_summary()["params"] == 6 * 9 + 6 + 12 * 6 * 9 + 12 + 12 * 49 * 10 + 10
    assert run.read_config()["model"] == {"name": "tiny.py:TinyNet", "width": 6}

    decorated = tmp_path / "decorated" / "my_tiny.py"
    decorated.parent.mkdir()
    decorated.write_text("import fmnist\n" + TINY_NET.replace("def TinyNet", DECORATOR))
    monkeypatch.syspath_prepend(str(decorated.parent))
    import my_tiny  # noqa: F401  (its decorator registers "tiny_deco")

    other = api.train(_config(tmp_path, 1), model="tiny_deco", out=out, verbose=False)
    assert {"tiny.py:TinyNet", "tiny_deco"} <= set(api.table(out).markdown.split(" | "))
    verdict = api.compare(other.path, run.path)
    assert verdict.b_accuracies == [run.read_summary()["test_accuracy"]]
    assert verdict.only_a_right + verdict.only_b_right > 0
    assert api.report(run.path).is_file()
    assert api.export(other.path).agreement == 1.0

    (tmp_path / "tiny.py").write_text(TINY_NET + "\n# edited\n")
    evaluated = fmnist_cli("evaluate", run.path)
    assert evaluated.returncode == 2
    assert "changed since the run trained" in evaluated.stderr, evaluated.stderr
    with pytest.raises(RunDirError, match="changed since the run trained"):
        fmnist.load(run.path / "ckpt" / "final.pt")
    decorated.write_text(decorated.read_text() + "\n# edited\n")
    with pytest.raises(RunDirError, match="my_tiny.py changed since the run trained"):
        api.evaluate(other.path)


def test_a_decorated_model_is_listed_trained_and_imported_again_by_a_fresh_process(
    tmp_path, monkeypatch
):
    decorated = TINY_NET.replace("def TinyNet", DECORATOR)
    (tmp_path / "my_nets.py").write_text("import fmnist\n" + decorated)
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_nets  # noqa: F401  (its decorator registers the model)

    (listed,) = api.models("tiny_deco")
    assert listed.description == "Two 3x3 convs, each max-pooled, and a linear head."
    assert listed.params > 0 and listed.macs > 0
    cfg = yaml.safe_load(open(_config(tmp_path, 1)))
    run = api.train({**cfg, "model": {"name": "tiny_deco", "width": 5}}, out=tmp_path / "runs",
                    verbose=False)  # fmt: skip
    assert run.dir.read_env()["model_source"]["kind"] == "module"
    evaluated = fmnist_cli("evaluate", run.path, cwd="/")  # my_nets is not on its path
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"accuracy {run.summary['test_accuracy']:.4f}" in evaluated.stdout

    with pytest.raises(ConfigError, match="one of fmnist's own models"):
        fmnist.register_model("cnn")(lambda: None)
    with pytest.raises(ConfigError, match="has no option 'depth'"):
        api.resolve_config({"model": {"name": "tiny_deco", "depth": 3}})


def test_a_factory_passed_to_train_must_return_ten_logits(tmp_path):
    from torch import nn

    def five_logits() -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 5))

    with pytest.raises(ConfigError, match=r"maps 2 images of \(1, 28, 28\) to \(2, 5\)"):
        api.train(_config(tmp_path, 1), model=five_logits, out=tmp_path, verbose=False)


def test_an_installed_plugin_package_adds_its_model_by_name(tmp_path):
    package = tmp_path / "plugin"
    (package / "tiny_plugin").mkdir(parents=True)
    (package / "tiny_plugin" / "__init__.py").write_text(TINY_NET)
    (package / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "tiny-plugin"
            version = "0.3"
            [project.entry-points."fmnist.models"]
            tiny_plugin = "tiny_plugin:TinyNet"
            """
        )
    )
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--target", str(target), str(package)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    listed = fmnist_cli("models", "tiny_*", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "tiny_plugin" in listed.stdout and "Two 3x3 convs" in listed.stdout
    trained = fmnist_cli(
        "train", "--model", "tiny_plugin", "--config", _config(tmp_path, 1), "--out",
        tmp_path / "runs", "--quiet", env=env,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    (run,) = (tmp_path / "runs").iterdir()
    source = RunDir(run).read_env()["model_source"]
    assert (source["kind"], source["package"], source["version"]) == (
        "plugin",
        "tiny-plugin",
        "0.3",
    )


def test_compare_counts_the_discordant_images_and_agrees_with_scipy():
    # 100 test images: both right on 60, only A on 2, only B on 13
    a = np.zeros(100, bool)
    b = np.zeros(100, bool)
    a[:60], b[:60] = True, True  # both right on 60
    a[60:62] = True  # only A right on 2
    b[62:75] = True  # only B right on 13
    verdict = compare_sides(Side("A", ["a"], a[None]), Side("B", ["b"], b[None]))
    assert (verdict.only_a_right, verdict.only_b_right) == (2, 13)
    assert verdict.mcnemar_p == pytest.approx(stats.binomtest(2, 15, 0.5).pvalue)
    assert verdict.mcnemar_p < 0.01
    assert verdict.difference == pytest.approx(0.11)
    low, high = verdict.difference_interval
    assert 0 < low < 0.11 < high
    assert verdict.verdict.startswith("B is better")

    seeds_a = np.stack([a, a, a])
    seeds_a[1, 0], seeds_a[2, :2] = False, False  # three seeds: 62, 61 and 60 right
    same = compare_sides(Side("A", list("abc"), seeds_a), Side("A2", list("abc"), seeds_a))
    assert same.only_a_right == same.only_b_right == 0 and same.mcnemar_p == 1.0
    assert same.seed_interval[0] <= 0 <= same.seed_interval[1]
    assert same.verdict.startswith("no real difference")


def test_a_recipe_file_of_yours_runs_like_a_shipped_one_and_its_unknown_fields_are_refused(
    tmp_path,
):
    (tmp_path / "tiny.py").write_text(TINY_NET)
    config = yaml.safe_load(open(_config(tmp_path, 1)))
    config["model"] = {"name": f"{tmp_path}/tiny.py:TinyNet"}
    recipe = {
        "description": "my sweep: TinyNet at two widths",
        "reported": 90.0,
        "config": config,
        "sweep": {"param": "model.width", "values": [2, 4]},
    }
    (tmp_path / "my_sweep.yaml").write_text(yaml.safe_dump(recipe))
    done = api.run_recipes([str(tmp_path / "my_sweep.yaml")], out=tmp_path / "runs", verbose=False)
    assert [status for _, status in done.results] == ["trained", "trained"]
    runs = sorted(p.parent for p in (tmp_path / "runs" / "my_sweep").rglob("summary.json"))
    assert len(runs) == 2
    assert {RunDir(r).read_config()["model"]["width"] for r in runs} == {2, 4}

    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**recipe, "sweeps": {}}))
    with pytest.raises(ConfigError, match="sweeps"):
        api.run_recipes([str(tmp_path / "bad.yaml")], out=tmp_path / "runs", verbose=False)
