"""Every registered model builds, reports its size, trains one step and can overfit a small
batch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fmnist.data import load_arrays
from fmnist.errors import ConfigError, UnknownModelError
from fmnist.models import count_macs, count_params, create_model, list_models, model_options
from fmnist.models.catalog import is_builtin


@pytest.fixture(scope="module")
def small_batch(real_data_dir):
    arrays, _ = load_arrays(real_data_dir)
    x = torch.from_numpy(arrays["train_images"][:8].copy()).unsqueeze(1).float() / 255
    return (x - 0.286) / 0.353, torch.from_numpy(arrays["train_labels"][:8].astype("int64"))


@pytest.mark.parametrize("name", list_models())
def test_model_overfits_a_small_batch(name, small_batch):
    torch.manual_seed(0)
    x, y = small_batch
    model = create_model(name)
    assert model(x[:2]).shape == (2, 10)
    assert count_params(model) > 0 and count_macs(model) > 0
    assert model.forward_features(x[:2]).ndim == 2
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3 if name != "softmax" else 3e-2)
    first = None
    for step in range(150):
        model.train()
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
        if step % 5 == 4:
            model.eval()
            with torch.no_grad():
                if (model(x).argmax(1) == y).all():
                    break
    assert (model(x).argmax(1) == y).all(), (
        f"{name} did not fit 8 images in {step + 1} steps (loss {first:.3f} -> {loss.item():.3f})"
    )


def test_model_options_are_validated():
    with pytest.raises(
        UnknownModelError, match="'resnet21' is not a registered model; allowed: .*resnet18"
    ):
        create_model("resnet21")
    with pytest.raises(UnknownModelError, match="no option 'widht'.*width"):
        create_model("vgg_small", widht=2)
    with pytest.raises(UnknownModelError, match="activation"):
        create_model("mlp", activation="swishy")
    with pytest.raises(ConfigError, match="6n\\+4"):
        create_model("wrn", depth=15)
    with pytest.raises(UnknownModelError, match="field 'model.convs' is invalid"):
        create_model("fastnet", widths=[32, 64], convs=[1])


def test_options_from_yaml_are_coerced_and_none_keeps_the_default():
    model = create_model("mlp", hidden=[10, 20], dropout=0, batch_norm=None)
    assert [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)] == [
        10,
        20,
        10,
    ]
    assert count_params(create_model("vgg16")) > count_params(create_model("vgg_small"))
    assert model_options("vgg16")["hidden"] == 512 and model_options("vgg_small")["hidden"] == 256


def test_family_options_change_the_architecture():
    assert count_params(create_model("mlp", hidden=[100, 100, 100, 100, 100])) > count_params(
        create_model("mlp", hidden=[100])
    )
    strided = create_model("cnn", stride=2, pool="none")
    assert count_macs(strided) < count_macs(create_model("cnn"))
    assert count_params(create_model("wrn", depth=10, widen=1)) < count_params(create_model("wrn"))
    assert model_options("cnn")["pool"] == "max"


def test_macs_match_a_hand_count_for_softmax_and_lenet():
    assert count_macs(create_model("softmax")) == 784 * 10
    conv1 = 28 * 28 * 6 * 25
    conv2 = 10 * 10 * 16 * 6 * 25
    dense = 400 * 120 + 120 * 84 + 84 * 10
    assert count_macs(create_model("lenet5")) == conv1 + conv2 + dense


# Checkpoints and records name these models: each keeps its name and, at its defaults, its size.
BUILTIN_PARAMS = {
    "cnn": 421_642,
    "fastnet": 104_426,
    "lenet5": 61_706,
    "mlp": 235_146,
    "resnet18": 11_172_810,
    "softmax": 7_850,
    "spec_cnn": 421_642,
    "tf_cnn": 3_274_634,
    "vgg16": 14_985_546,
    "vgg_small": 322_474,
    "wrn": 2_748_602,
}


def test_the_builtin_models_keep_their_names_and_sizes():
    assert {name for name in list_models() if is_builtin(name)} == set(BUILTIN_PARAMS)
    assert {name: count_params(create_model(name)) for name in BUILTIN_PARAMS} == BUILTIN_PARAMS
