"""No traceback for any bad input: every generated value of every model option, config field and
``--set`` string is either refused with fmnist's one error line, or accepted, and then the model
builds and takes one training step (forward, backward, optimizer) on two real images and
evaluates them. Anything else (a ValueError from torch, a RecursionError...) fails the test.

Hypothesis draws the values: in range, out of range, wrong types, None, huge, empty. The number
of examples and the seed are fixed, so CI runs the same cases each time (under a minute).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, event, example, given, seed, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import fmnist
from fmnist.config import RunConfig, build_config
from fmnist.data import DeviceSplits
from fmnist.errors import FmnistError
from fmnist.models import create_model, list_models, model_options
from fmnist.schema import parse_overrides
from fmnist.training.hardware import check_memory
from fmnist.training.record import predict_logits
from fmnist.training.trainer import Trainer
from tests.conftest import fmnist_cli, tiny

# What the test machine is taken to have free: fixed, so a case is refused or built the same way
# on every machine, and an accepted one stays small enough to run in a moment.
TEST_MEMORY = 2 * 2**30
HUGE = 10**6

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 40),
    st.sampled_from([0, -1, HUGE, 2**40]),
    st.floats(-1.5, 2.5, allow_subnormal=False),  # training flushes denormals process-wide
    st.sampled_from([math.nan, math.inf, -math.inf, 1e300]),
    st.text(max_size=10),
    st.sampled_from(["relu", "max", "same", "valid", "c8k3,m", "c8k30v", "sgd", "cosine", "../x"]),
    st.lists(st.integers(-3, 40), max_size=5),
    st.lists(st.sampled_from([HUGE, 0, 1]), min_size=1, max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
SECTIONS = {
    name: field.annotation
    for name, field in RunConfig.model_fields.items()
    if isinstance(field.annotation, type)
    and issubclass(field.annotation, BaseModel)
    and name != "model"
}
FIELDS = [(section, f) for section, kind in SECTIONS.items() for f in kind.model_fields]
FIELDS += [(None, name) for name in ("name", "seed", "variant")]


def near(default):
    """Values a user would plausibly write for a field with this default: mostly in range."""
    if isinstance(default, bool) or default is None:
        return st.sampled_from([True, False, None, 1])
    if isinstance(default, (int, float)):
        return st.sampled_from([default, default * 2, default / 2, default + 1, 0, 1])
    return st.just(default)


def default_of(section, field):
    model = SECTIONS[section] if section else RunConfig
    return model.model_fields[field].default


PROPERTY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def outcome(config: dict | None = None, overrides: tuple[str, ...] = ()) -> str:
    """'refused' (with fmnist's error line) or 'accepted' (after one real step); anything else
    raises out of here and fails the test."""
    try:
        cfg = build_config(config or {}, parse_overrides(overrides))
        check_memory(cfg, torch.device("cpu"), available=TEST_MEMORY)
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"threads": None})})
        data = DeviceSplits(cfg.data)
    except FmnistError as exc:
        assert_one_error_line(exc)
        return "refused"
    one_step(cfg, data)
    return "accepted"


def assert_one_error_line(exc: FmnistError) -> None:
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text, text
    assert "; allowed: " in text or "; fix: " in text, text


def one_step(cfg: RunConfig, data: DeviceSplits) -> None:
    torch.manual_seed(0)
    model = create_model(cfg.model.name, **cfg.model.options)
    trainer = Trainer(model, data, cfg, verbose=False)
    x, y = next(data.batches("train", 2, gen=trainer.gen, augment_cfg=cfg.augment))
    trainer.step_fn(x, y)
    if trainer.ema is not None:
        trainer.ema.update_parameters(trainer.model)
    logits = predict_logits(trainer.eval_model, x, cfg.train, trainer.precision.precision)
    assert logits.shape == (2, 10)


@st.composite
def models_with_options(draw):
    name = draw(st.sampled_from(list_models()))
    fields = list(model_options(name))
    chosen = draw(st.lists(st.sampled_from(fields), max_size=3, unique=True)) if fields else []
    defaults = model_options(name)
    return {"name": name, **{f: draw(st.one_of(VALUES, near(defaults[f]))) for f in chosen}}


@st.composite
def section_fields(draw):
    config: dict = {"data": {"train_subset": 200}}  # a small split: one step needs two images
    for section, field in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=2)):
        value = draw(
            st.one_of(VALUES, near(default_of(section, field)), near(default_of(section, field)))
        )
        if section is None:
            config[field] = value
        else:
            config.setdefault(section, {})[field] = value
    return config


KEYS = [f"{s}.{f}" if s else f for s, f in FIELDS] + ["model.width", "model.nope", "optim", "x.y"]
SET_STRINGS = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), st.text(max_size=12)),
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), VALUES.map(repr)),
    st.text(max_size=20),
)


@seed(21)
@PROPERTY
@given(model=models_with_options())
def test_every_model_option_is_refused_in_one_line_or_builds_and_steps(model):
    event(outcome({"model": model, "data": {"train_subset": 200}}))


@seed(22)
@PROPERTY
@given(config=section_fields())
@example(config={"data": {"train_subset": 200, "val_size": True}})  # a stratified split of 1
def test_every_config_field_is_refused_in_one_line_or_trains_a_step(config):
    event(outcome(config))


@seed(23)
@PROPERTY
@given(overrides=st.lists(SET_STRINGS, min_size=1, max_size=3))
def test_every_set_string_is_refused_in_one_line_or_trains_a_step(overrides):
    event(outcome({"data": {"train_subset": 200}}, tuple(overrides)))


@pytest.mark.parametrize(
    ("model", "refusal"),
    [
        ({"name": "mlp", "dropout": 2.0}, "'model.dropout' is invalid"),
        ({"name": "cnn", "filters": [-3]}, "'model.filters.0' is invalid"),
        ({"name": "cnn", "kernel_size": 0}, "'model.kernel_size' is invalid"),
        ({"name": "cnn", "stride": 0}, "'model.stride' is invalid"),
        ({"name": "cnn", "filters": [8] * 6}, "conv block 5: a 2x2 pool has only a 1x1 map"),
        ({"name": "resnet18", "width": 0}, "'model.width' is invalid"),
        ({"name": "wrn", "widen": 0}, "'model.widen' is invalid"),
        ({"name": "vgg16", "hidden": -1}, "'model.hidden' is invalid"),
        ({"name": "mlp", "hidden": [-3]}, "'model.hidden.0' is invalid"),
        ({"name": "spec_cnn", "spec": "c8k29v"}, "does not fit its 28x28 input"),
    ],
)
def test_the_issues_bad_model_options_are_refused_without_torch_building_anything(model, refusal):
    with pytest.raises(FmnistError, match=refusal) as info:
        build_config({"model": model})
    assert_one_error_line(info.value)


@pytest.mark.parametrize(
    "model",
    [
        {"name": "resnet18", "width": HUGE},
        {"name": "mlp", "hidden": [HUGE, HUGE]},
        {"name": "cnn", "filters": [HUGE]},
        {"name": "vgg16", "width": 1000.0},
    ],
)
def test_a_model_too_large_for_memory_is_refused_before_it_is_built(model):
    cfg = build_config({"model": model})
    with pytest.raises(FmnistError, match="the run needs about .* GiB .* more than the") as info:
        check_memory(cfg, torch.device("cpu"))
    assert_one_error_line(info.value)


# -- the command line: damaged run folders, odd paths, hostile YAML, the top-level guard ---------
def assert_one_line_on_stderr(result, code: int = 2) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    return result.stderr


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return fmnist.train(tiny(train={"epochs": 1}), out=out, verbose=False).path


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("config.yaml", "model: [[["),
        ("config.yaml", "model: {name: mlp, dropout: 5}"),
        ("env.json", '{"precision":'),
        ("summary.json", "garbage"),
        ("ckpt/final.pt", "PK\x03\x04 truncated"),
    ],
    ids=["config-yaml", "config-invalid", "env", "summary", "checkpoint"],
)
def test_a_damaged_run_file_is_named_in_one_line_with_what_to_do(
    finished_run, tmp_path, name, damage
):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (run / name).write_text(damage)
    stderr = assert_one_line_on_stderr(fmnist_cli("evaluate", run))
    assert str(run / name) in stderr
    assert "damaged" in stderr or "cannot be loaded" in stderr
    assert "; fix: " in stderr


def test_an_out_that_is_a_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "afile").write_text("")
    result = fmnist_cli("run", "s000_softmax", "--quick", "--out", tmp_path / "afile")
    assert "is a file" in assert_one_line_on_stderr(result)
    assert (tmp_path / "afile").read_text() == ""


def test_a_points_pattern_that_matches_nothing_lists_the_points(tmp_path):
    result = fmnist_cli("run", "s003_pooling", "--points", "pool-maxx", "--out", tmp_path)
    line = assert_one_line_on_stderr(result)
    assert "'pool-maxx' matches no point" in line and "allowed: pool-max, pool-avg" in line
    assert not (tmp_path / "s003_pooling").exists()


def test_deeply_nested_or_exploding_yaml_is_refused_in_one_line(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested too deeply" in assert_one_line_on_stderr(fmnist_cli("config", "--config", deep))
    laughs = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    laughs += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(laughs) + "\n")
    assert "too many values" in assert_one_line_on_stderr(fmnist_cli("config", "--config", bomb))


def test_an_unforeseen_crash_is_one_line_with_its_trace_in_a_file(tmp_path):
    crash = (
        "import sys, fmnist.api, fmnist.cli; "
        "fmnist.api.models = lambda *a, **k: 1 / 0; sys.argv = ['fmnist', 'models']; "
        "fmnist.cli.main()"
    )
    command = [sys.executable, "-c", crash]
    result = subprocess.run(command, capture_output=True, text=True, env=_env(tmp_path))
    stderr = assert_one_line_on_stderr(result, code=1)
    assert "ZeroDivisionError" in stderr and "--debug" in stderr
    trace = Path(re.search(r"the full trace is in (\S+);", stderr).group(1))
    assert "Traceback" in trace.read_text() and trace.is_relative_to(tmp_path)
    debug = subprocess.run(
        command, capture_output=True, text=True, env=_env(tmp_path, FMNIST_DEBUG="1")
    )
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def _env(tmp_path, **extra) -> dict:
    return {**os.environ, "TMPDIR": str(tmp_path), **extra}
