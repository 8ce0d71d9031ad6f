"""Validating a config, loading a recipe and listing models never import torch; the model
catalogue refuses unknown models, unknown options and invalid values with one clear error."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fmnist.config import build_config
from fmnist.errors import UnknownModelError
from fmnist.models import list_models, model_description, model_options
from fmnist.models.catalog import ModelOptions, register

NO_TORCH = "import sys; assert 'torch' not in sys.modules, 'torch was imported'"


@pytest.mark.parametrize(
    "code",
    [
        "from fmnist.config import build_config\n"
        "from fmnist.models import list_models, model_options\n"
        "for name in list_models():\n"
        "    build_config({'model': {'name': name}})\n"
        "    build_config({'model': {'name': name, **model_options(name)}})\n"
        "build_config({'model': {'name': 'cnn', 'filters': [8, 16]}})",
        "from fmnist.recipes import load_recipe; load_recipe('s003_dense')",
        "from fmnist.models import list_models, model_description, model_options\n"
        "assert all(model_description(n) and model_options(n) is not None for n in list_models())",
    ],
    ids=["build_config-every-model", "load_recipe", "list_models"],
)
def test_no_torch_is_imported(code):
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{NO_TORCH}"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_the_catalogue_describes_every_model():
    assert {"cnn", "mlp", "softmax", "vgg16", "wrn", "fastnet", "spec_cnn"} <= set(list_models())
    assert model_options("softmax") == {}
    assert model_options("cnn")["filters"] == (32, 64)
    assert model_description("lenet5").startswith("LeNet-5")


def test_a_builtin_model_needs_a_description():
    class Undescribed(ModelOptions):
        pass

    with pytest.raises(TypeError, match="'undescribed': its options class needs a docstring"):
        register("undescribed", Undescribed)
    assert "undescribed" not in list_models()


def test_the_config_keeps_the_options_as_given():
    """The stored config (and so its hash) holds what was written, not the coerced options."""
    config = build_config({"model": {"name": "cnn", "filters": [8, 16], "dropout": 0}})
    assert config.to_dict()["model"] == {"name": "cnn", "filters": [8, 16], "dropout": 0}
    assert build_config({"model": {"name": "mlp", "hidden": None}}).model.options == {
        "hidden": None
    }


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            {"name": "cnn", "filterz": [8]},
            "model 'cnn' has no option 'filterz'; allowed: filters, kernel_size, ",
        ),
        (
            {"name": "cnn", "filters": "abc"},
            "model 'cnn': config field 'model.filters' is invalid; allowed: input should be a "
            "valid tuple; got: 'abc'; fix: set a valid value (default: (32, 64))",
        ),
        (
            {"name": "mlp", "hidden": [64, "wide"]},
            "model 'mlp': config field 'model.hidden.1' is invalid",
        ),
        (
            {"name": "mlp", "activation": "swishy"},
            "model 'mlp': config field 'model.activation' is invalid",
        ),
        (
            {"name": "wrn", "depth": 15},
            "model 'wrn': config field 'model.depth' is invalid; allowed: depth must be 6n+4",
        ),
        ({"name": "resnet21"}, "'resnet21' is not a registered model; allowed: cnn, "),
    ],
    ids=["unknown-option", "wrong-type", "wrong-item-type", "bad-literal", "wrn-depth", "name"],
)
def test_bad_model_options_fail_in_build_config_with_one_line(model, message):
    with pytest.raises(UnknownModelError) as info:
        build_config({"model": model})
    text = str(info.value)
    assert text.startswith(message) and "\n" not in text
    assert "; fix: " in text
