"""The model registry and factory: every model's name, description and options, importable
without torch, and ``create_model``, the one function that builds a model.

A built-in model lives in its family module (``mlp``, ``cnn``, ``spec_cnn``, ``vgg``, ``resnet``,
``fast``): a small pydantic options model, whose fields are the model's options (types and
defaults) and whose docstring's first line is the description shown by ``fmnist models``, and
beside it the builder that takes the validated options and returns an ``nn.Module`` mapping
(N, 1, 28, 28) images to (N, 10) logits, registered by ``@register(name, Options)``. This module
imports the family modules to fill the registry; they import torch only inside their builders,
when a model is built (``create_model``), so validating a config never loads torch.

Option values come from YAML/JSON and are coerced as pydantic does by default (a list for a
tuple, 1 for 1.0); unknown options are refused.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import ConfigDict, Field

from fmnist.errors import UnknownModelError
from fmnist.models import geometry
from fmnist.schema import Strict, validated

if TYPE_CHECKING:
    from torch import nn

Activation = Literal["relu", "sigmoid", "tanh", "leaky_relu", "elu", "selu", "gelu", "linear"]
Pool = Literal["max", "avg", "none"]

# -- what an option allows, as types: pydantic checks them without torch, and the error names the
# bound. Widths are bounded only where sizes would overflow a tensor's size arithmetic: what a
# machine can hold is checked before training (fmnist.training.hardware), so a width of 1,000,000
# is refused by the memory it needs.
WIDTH_MAX = 2**20
Width = Annotated[int, Field(ge=1, le=WIDTH_MAX)]  # channels, units: at least one
Widths = Annotated[tuple[Width, ...], Field(min_length=1, max_length=64)]  # one per layer/block
DenseWidths = Annotated[tuple[Width, ...], Field(max_length=64)]  # () = the linear head alone
Probability = Annotated[float, Field(ge=0, lt=1)]  # dropout: 1 would drop everything
Kernel = Annotated[int, Field(ge=1, le=geometry.IMAGE_SIDE)]
Stride = Annotated[int, Field(ge=1, le=geometry.IMAGE_SIDE)]
LayerCount = Annotated[int, Field(ge=1, le=16)]  # convs in one block


class ModelOptions(Strict):
    """Base of the options of one model: strict, and read-only once validated."""

    model_config = ConfigDict(frozen=True)


@dataclass(frozen=True)
class _Entry:
    options: type[ModelOptions]
    builder: Callable[[Any], Any]  # called with the validated options
    description: str
    source: dict[str, Any] | None = None  # a user's model: where its code is (models.user)


_MODELS: dict[str, _Entry] = {}
_Builder = TypeVar("_Builder", bound=Callable[[Any], Any])
# Where a model not (yet) registered may come from, asked in turn by name (each registers it if it
# can), and the names they know without importing: fmnist.models.user adds a user's references and
# installed plugins here, so this registry imports no user code itself.
_FINDERS: list[Callable[[str], Any]] = []
_LISTERS: list[Callable[[], list[str]]] = []


def add_finder(find: Callable[[str], Any], names: Callable[[], list[str]]) -> None:
    _FINDERS.append(find)
    _LISTERS.append(names)


def register(name: str, options: type[ModelOptions]) -> Callable[[_Builder], _Builder]:
    """Decorator on a builder: register it as fmnist's own model ``name``, whose options are the
    pydantic model ``options`` (its docstring's first line is the model's description); the
    builder is called with the validated options and returns the module."""
    doc = (options.__doc__ or "").strip()
    if not doc:
        raise TypeError(f"model {name!r}: its options class needs a docstring (the description)")

    def add(builder: _Builder) -> _Builder:
        _MODELS[name] = _Entry(options, builder, doc.splitlines()[0])
        return builder

    return add


def add_model(
    name: str,
    options: type[ModelOptions],
    builder: Callable[[Any], Any],
    description: str,
    source: dict[str, Any],
) -> None:
    """Register a user's model (``fmnist.models.user`` makes its options from a signature)."""
    _MODELS[name] = _Entry(options, builder, description, source)


def is_registered(name: str) -> bool:
    return name in _MODELS


def is_builtin(name: str) -> bool:
    return name in _MODELS and _MODELS[name].source is None


def model_source(name: str) -> dict[str, Any] | None:
    """Where a user's model is defined (None for fmnist's own models)."""
    return _entry(name).source


def list_models(pattern: str = "*") -> list[str]:
    """Registered names and the names finders know (installed plugins', found without importing
    them); a model named by its import reference ('file.py:Net') is not listed by name."""
    names = {*(n for n in _MODELS if ":" not in n), *(n for lister in _LISTERS for n in lister())}
    return sorted(name for name in names if fnmatch.fnmatch(name, pattern))


def model_description(name: str) -> str:
    return _entry(name).description


def model_options(name: str) -> dict[str, Any]:
    """Option name -> default value, as the model declares them."""
    return {k: field.default for k, field in _entry(name).options.model_fields.items()}


def validate_model_options(name: str, options: dict[str, Any]) -> ModelOptions:
    """The validated options of model ``name``, or one UnknownModelError for an unknown model,
    an unknown option or an invalid value. ``None`` values are dropped: the defaults stand."""
    entry = _entry(name)
    options = {k: v for k, v in options.items() if v is not None}
    fields = entry.options.model_fields
    unknown = [k for k in options if k not in fields]
    if unknown and entry.options.model_config.get("extra") != "allow":
        raise UnknownModelError(
            f"model '{name}' has no option {', '.join(map(repr, unknown))}",
            allowed=", ".join(fields) or "no options",
            got=unknown[0] if len(unknown) == 1 else unknown,
            fix="correct the name or remove the option",
        )

    def fix(loc: tuple) -> str:
        field = str(loc[0]) if loc else ""
        return "set a valid value" + (
            f" (default: {fields[field].default!r})" if field in fields else ""
        )

    return validated(
        entry.options,
        options,
        f"model '{name}': config field",
        fix=fix,
        prefix="model",
        error=UnknownModelError,
    )


def check_model_options(name: str, options: dict[str, Any]) -> None:
    """Raise one clear UnknownModelError for an unknown model name, an unknown option or an
    invalid value (no model is built, torch is not imported)."""
    validate_model_options(name, options)


def create_model(name: str, **options: Any) -> nn.Module:
    """Build a registered model from its options (validated by its options model; ``None``
    options are dropped so the defaults stand). Its builder imports torch."""
    return _entry(name).builder(validate_model_options(name, options))


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module) -> int:
    """Multiply-accumulates of one forward pass of one 28x28 image, counted by torch's FLOP
    counter."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 1, 28, 28, device=device))
    model.train(was_training)
    return counter.get_total_flops() // 2


def _entry(name: str) -> _Entry:
    for find in _FINDERS if name not in _MODELS else ():
        find(name)  # a user's model: imported now, because a config or command named it
    if name not in _MODELS:
        raise UnknownModelError(
            f"'{name}' is not a registered model",
            allowed=", ".join(list_models()),
            got=name,
            fix="pick one of the registered models (listed with: fmnist models)",
        )
    return _MODELS[name]


# -- the built-in families: importing each registers its models (torch is imported by their
# builders, when a model is built)
BUILTIN_FAMILIES = ("mlp", "cnn", "spec_cnn", "vgg", "resnet", "fast")
for _family in BUILTIN_FAMILIES:
    importlib.import_module(f"fmnist.models.{_family}")
