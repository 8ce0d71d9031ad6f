"""Models: each family module (``mlp``, ``cnn``, ``spec_cnn``, ``vgg``, ``resnet``, ``fast``)
holds its models' options and builders, registered by name in ``catalog`` (no torch); built by
one factory (``create_model``), listed by ``list_models``.

Importing this package does not import torch: ``create_model``, ``count_params`` and
``count_macs`` load it (from ``fmnist.models.factory``) on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from fmnist.models.catalog import (
    check_model_options,
    list_models,
    model_description,
    model_options,
    model_source,
    validate_model_options,
)
from fmnist.models.user import register_model

if TYPE_CHECKING:
    from fmnist.models.factory import count_macs, count_params, create_model

_LAZY = {"count_macs", "count_params", "create_model"}

__all__ = [
    "check_model_options",
    "count_macs",
    "count_params",
    "create_model",
    "list_models",
    "model_description",
    "model_options",
    "model_source",
    "register_model",
    "validate_model_options",
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module("fmnist.models.factory"), name)
    raise AttributeError(f"module 'fmnist.models' has no attribute {name!r}")
