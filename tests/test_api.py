"""The API is the one way through fmnist: the CLI only talks to it, both resolve a config the same
way, and resolving or validating one loads no torch."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fmnist import api
from fmnist.errors import ConfigError
from fmnist.recipes import load_recipe
from fmnist.runner.resolve import plan
from fmnist.runs import RunDir
from fmnist.schema import parse_overrides

CLI = Path(api.__file__).parent.with_name("cli.py")  # beside the api package
QUICK = ["train.epochs=1", "data.train_subset=2000", "data.val_size=500"]


def fmnist(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fmnist", *args], cwd=cwd, capture_output=True, text=True
    )


def test_cli_imports_nothing_from_fmnist_but_the_api_and_its_errors():
    imported = set()
    for node in ast.walk(ast.parse(CLI.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fmnist"):
            imported |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names if a.name.startswith("fmnist")}
    assert imported == {"fmnist.api", "fmnist.errors.FmnistError"}


def test_train_with_a_recipe_and_run_share_one_config_and_one_run_folder(tmp_path):
    flags = [arg for override in QUICK for arg in ("--set", override)]
    trained = fmnist("train", "--recipe", "s000_softmax", *flags, "-q", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "run directory: runs/s000_softmax/seed0" in trained.stdout
    shutil.rmtree(tmp_path / "runs/s000_softmax/seed0/ckpt")  # as committed runs keep no weights
    again = fmnist("run", "s000_softmax", *flags, "-q", cwd=tmp_path)
    assert again.returncode == 0 and "[1/1] skipped  runs/s000_softmax/seed0" in again.stdout
    assert sorted(p.name for p in (tmp_path / "runs/s000_softmax/seed0").iterdir()) == [
        "config.yaml", "env.json", "metrics.jsonl", "predictions.csv", "recipe.json",
        "summary.json", "test_predictions.txt",
    ]  # a skipped run is left exactly as it was: no folder made, no lock left  # fmt: skip
    quick = parse_overrides(QUICK)
    ((job,),) = [plan(load_recipe("s000_softmax"), out=tmp_path / "runs", overrides=quick)]
    assert api.resolve_config(recipe="s000_softmax", overrides=QUICK) == job.config


def test_two_processes_given_the_same_run_make_it_once(tmp_path):
    """A second `fmnist train --recipe` of a run in progress waits for the first, then skips it
    (without the wait both would write the folder, or one would crash on it)."""
    flags = ["--set", "train.epochs=3", "--set", "data.val_size=500"]
    cmd = [sys.executable, "-m", "fmnist", "train", "--recipe", "s000_softmax", *flags]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    both = [subprocess.Popen(cmd, cwd=tmp_path, **pipes) for _ in range(2)]
    errors = [process.communicate(timeout=300)[1] for process in both]
    assert [process.returncode for process in both] == [0, 0], errors
    assert sum("already finished" in error for error in errors) == 1
    run = RunDir(tmp_path / "runs" / "s000_softmax" / "seed0")
    assert run.is_complete and [row["epoch"] for row in run.read_metrics()] == [1, 2, 3]


def test_train_with_a_recipe_refuses_its_folder_holding_another_config(tmp_path):
    api.train(recipe="s000_softmax", overrides=QUICK, out=tmp_path, verbose=False)
    with pytest.raises(ConfigError, match="different config"):
        api.train(
            recipe="s000_softmax", overrides=[*QUICK, "optim.lr=0.1"], out=tmp_path, verbose=False
        )


def test_a_seed_chooses_the_runs_folder_and_a_sweep_is_refused_as_one_run(tmp_path):
    run = api.train(
        recipe="s000_softmax", overrides=[*QUICK, "seed=2"], out=tmp_path, verbose=False
    )
    assert run.path == tmp_path / "s000_softmax" / "seed2" and run.summary["seed"] == 2
    with pytest.raises(ConfigError, match="fmnist run s001_hidden_sweep"):
        api.resolve_config(recipe="s001_hidden_sweep")
    with pytest.raises(ConfigError, match="--seeds"):
        api.run_recipes(["s000_softmax"], overrides=["seed=3"], out=tmp_path, verbose=False)


@pytest.mark.parametrize(
    "code",
    [
        "import fmnist.api",
        "from fmnist.api import resolve_config; resolve_config(recipe='s003_dense')",
        # a recipe with a hardware variant, for a machine given as data: nothing is probed
        "from fmnist.api import resolve_config; resolve_config(recipe='fast', machine='cpu-fp32')",
        "from fmnist.api import resolve_config; resolve_config({'model': {'name': 'vgg16'}})",
        "from fmnist.api import recipes; recipes()",
        "import sys; sys.argv = ['fmnist', '--help']; from fmnist.cli import main; main()",
    ],
)
def test_resolving_and_validating_configs_loads_no_torch(code):
    check = (
        f"import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_bad_arguments_fail_in_the_api_where_a_notebook_meets_them_too(tmp_path):
    with pytest.raises(ConfigError, match="--seeds must be at least 1"):
        api.run_recipes(["s000_softmax"], seeds=0, out=tmp_path)
    with pytest.raises(ConfigError, match="--sample is out of range"):
        api.explore_data(tmp_path, sample=10)


def test_the_verbs_users_know_are_the_api_and_the_old_names_still_answer():
    """fit / evaluate / predict as Keras and scikit-learn name them; train and classify, the names
    before 0.2, are the same functions for a release."""
    import fmnist as package

    assert package.fit is api.fit and package.predict is api.predict
    assert package.train is api.fit and api.classify is api.predict


class _Planned(Exception):
    pass


@pytest.mark.parametrize(("machine", "variant"), [("cpu-fp32", True), ("cpu-bf16", False)])
def test_a_sweep_takes_the_hardware_variant_of_the_machine_it_trains_on(tmp_path, machine, variant):
    """With --cluster the runs train on the workers, whose CPU need not be this one's: --machine
    names their kind, and each recipe's variant follows it, not the client's CPU."""
    plans = []

    def stop(recipe_plan):
        plans.append(recipe_plan)
        raise _Planned  # resolved: nothing is trained

    with pytest.raises(_Planned):
        api.run_recipes(["fast"], machine=machine, out=tmp_path, on_plan=stop)
    assert (plans[0].jobs[0].config.variant is not None) == variant
    result = fmnist("run", "fast", "--machine", "abacus", "--out", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "unknown machine 'abacus'" in result.stderr
    assert "Traceback" not in result.stderr
