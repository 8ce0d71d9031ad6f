"""Models: each family module (``mlp``, ``cnn``, ``spec_cnn``, ``vgg``, ``resnet``, ``fast``)
holds its models' options and builders, registered by name in ``catalog`` (no torch); built by
one factory (``create_model``), listed by ``list_models``.

Importing this package does not import torch: a model's builder loads it when the model is built.
"""

from fmnist.models.catalog import (
    check_model_options,
    count_macs,
    count_params,
    create_model,
    list_models,
    model_description,
    model_options,
    model_source,
    validate_model_options,
)
from fmnist.models.user import register_model

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
