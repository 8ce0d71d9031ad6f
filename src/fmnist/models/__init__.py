"""Models: registered by name, built by one factory (``create_model``), listed by
``list_models``."""

from fmnist.models import cnn, fast, mlp, resnet, spec, vgg  # noqa: F401  (registers the families)
from fmnist.models._registry import (
    check_model_options,
    count_macs,
    count_params,
    create_model,
    list_models,
    model_description,
    model_options,
    register_model,
)

__all__ = [
    "check_model_options",
    "count_macs",
    "count_params",
    "create_model",
    "list_models",
    "model_description",
    "model_options",
    "register_model",
]
