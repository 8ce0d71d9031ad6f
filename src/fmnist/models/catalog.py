"""The model catalogue: every model's name, description and options, importable without torch.

Each model is declared once, here, as a small pydantic options model: its fields are the
model's options (types and defaults), its docstring's first line the description shown by
``fmnist models``, and ``@builtin_model(name, "module:function")`` names the builder that takes
the validated options and returns an ``nn.Module`` mapping (N, 1, 28, 28) images to (N, 10)
logits. The builder's module (and torch) is imported only when a model is built
(``fmnist.models.create_model``), so validating a config never loads torch.

Option values come from YAML/JSON and are coerced as pydantic does by default (a list for a
tuple, 1 for 1.0); unknown options are refused.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fmnist.errors import UnknownModelError, invalid_field
from fmnist.models import geometry

Activation = Literal["relu", "sigmoid", "tanh", "leaky_relu", "elu", "selu", "gelu", "linear"]
Pool = Literal["max", "avg", "none"]

# -- what an option allows, as types: pydantic checks them without torch, and the error names the
# bound. Widths are bounded only where sizes would overflow a tensor's size arithmetic: what a
# machine can hold is checked before training (fmnist.training.memory), so a width of 1,000,000
# is refused by the memory it needs.
WIDTH_MAX = 2**20
Width = Annotated[int, Field(ge=1, le=WIDTH_MAX)]  # channels, units: at least one
Widths = Annotated[tuple[Width, ...], Field(min_length=1, max_length=64)]  # one per layer/block
DenseWidths = Annotated[tuple[Width, ...], Field(max_length=64)]  # () = the linear head alone
Probability = Annotated[float, Field(ge=0, lt=1)]  # dropout: 1 would drop everything
Kernel = Annotated[int, Field(ge=1, le=geometry.IMAGE_SIDE)]
Stride = Annotated[int, Field(ge=1, le=geometry.IMAGE_SIDE)]
LayerCount = Annotated[int, Field(ge=1, le=16)]  # convs in one block


class ModelOptions(BaseModel):
    """Base of the options of one model: unknown options are refused, values are read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@dataclass(frozen=True)
class _Entry:
    options: type[ModelOptions]
    builder: str | Callable[[Any], Any]  # "module:function", imported when the model is built
    description: str
    source: dict[str, Any] | None = None  # a user's model: where its code is (models.user)


_MODELS: dict[str, _Entry] = {}
_O = TypeVar("_O", bound=type[ModelOptions])
# Where a model not (yet) registered may come from, asked in turn by name (each registers it if it
# can), and the names they know without importing: fmnist.models.user adds a user's references and
# installed plugins here, so this registry imports no user code itself.
_FINDERS: list[Callable[[str], Any]] = []
_LISTERS: list[Callable[[], list[str]]] = []


def add_finder(find: Callable[[str], Any], names: Callable[[], list[str]]) -> None:
    _FINDERS.append(find)
    _LISTERS.append(names)


def builtin_model(name: str, builder: str | Callable[[Any], Any]) -> Callable[[_O], _O]:
    """Class decorator: register the options model it decorates as model ``name``, built by
    ``builder`` (a ``"module:function"`` path, imported lazily, or the function itself) from the
    validated options. The class docstring's first line is the model's description."""

    def register(options: _O) -> _O:
        doc = (options.__doc__ or "").strip()
        if not doc:
            raise TypeError(
                f"model {name!r}: its options class needs a docstring (the description)"
            )
        _MODELS[name] = _Entry(options, builder, doc.splitlines()[0])
        return options

    return register


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
    try:
        return entry.options.model_validate(options)
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else ""
        default = f" (default: {fields[field].default!r})" if field in fields else ""
        fix = f"set a valid value{default}"
        raise UnknownModelError(
            str(invalid_field(exc, f"model '{name}': config field", fix=fix, prefix="model"))
        ) from None


def check_model_options(name: str, options: dict[str, Any]) -> None:
    """Raise one clear UnknownModelError for an unknown model name, an unknown option or an
    invalid value (no model is built, torch is not imported)."""
    validate_model_options(name, options)


def model_builder(name: str) -> Callable[[Any], Any]:
    """The function that builds model ``name`` from its validated options (imports its module,
    and so torch)."""
    builder = _entry(name).builder
    if callable(builder):
        return builder
    module, _, function = builder.partition(":")
    return getattr(importlib.import_module(module), function)


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


# -- fully connected (mlp.py) --------------------------------------------------------------------


@builtin_model("softmax", "fmnist.models.mlp:softmax")
class SoftmaxOptions(ModelOptions):
    """Softmax (multinomial logistic) regression: one linear layer on the 784 pixels."""


@builtin_model("mlp", "fmnist.models.mlp:mlp")
class MlpOptions(ModelOptions):
    """Multi-layer perceptron: any depth and widths, activation, dropout, batch norm."""

    hidden: Widths = (256, 128)
    activation: Activation = "relu"
    dropout: Probability = 0.0
    batch_norm: bool = False


# -- plain CNNs (cnn.py, spec.py) ----------------------------------------------------------------


@builtin_model("cnn", "fmnist.models.cnn:cnn")
class CnnOptions(ModelOptions):
    """CNN family: conv blocks (filters, kernel, stride, pooling, BN, dropout) then dense layers."""

    filters: Widths = (32, 64)
    kernel_size: Kernel = 3
    stride: Stride = 1
    padding: Literal["same", "valid"] = "same"
    convs_per_block: LayerCount = 1
    pool: Pool = "max"
    batch_norm: bool = False
    conv_dropout: Probability = 0.0
    dense: DenseWidths = (128,)
    dropout: Probability = 0.0
    activation: Activation = "relu"

    @model_validator(mode="after")
    def _fits_28x28(self) -> CnnOptions:
        side = geometry.IMAGE_SIDE
        for block in range(1, len(self.filters) + 1):
            for _ in range(self.convs_per_block):
                side = geometry.conv_side(
                    side,
                    self.kernel_size,
                    self.stride,
                    valid=self.padding == "valid",
                    where=f"conv block {block}",
                )
            if self.pool != "none":
                side = geometry.pool_side(side, where=f"conv block {block}")
        return self


@builtin_model("tf_cnn", "fmnist.models.cnn:tf_cnn")
class TfCnnOptions(ModelOptions):
    """TensorFlow-docs CNN: conv32 5x5, pool, conv64 5x5, pool, dense 1024, dropout (the peer's model)."""  # noqa: E501 (first line = `fmnist models` description)

    dropout: Probability = 0.4


@builtin_model("lenet5", "fmnist.models.cnn:lenet5")
class Lenet5Options(ModelOptions):
    """LeNet-5 (LeCun 1998): conv6 5x5 (padded), pool, conv16 5x5, pool, 120, 84."""

    activation: Activation = "tanh"
    pool: Pool = "avg"


@builtin_model("spec_cnn", "fmnist.models.spec_cnn:spec_cnn")
class SpecCnnOptions(ModelOptions):
    """CNN from a layer string (c<F>k<K>[s<S>][v], m, a): the studies' one-off nets, e.g. strided convs."""  # noqa: E501 (first line = `fmnist models` description)

    spec: Annotated[str, Field(max_length=2000)] = "c32k3,m,c64k3,m"
    dense: DenseWidths = (128,)
    activation: Activation = "relu"
    batch_norm: bool = False
    conv_dropout: Probability = 0.0
    dropout: Probability = 0.0

    @field_validator("spec")
    @classmethod
    def _fits_28x28(cls, spec: str) -> str:
        geometry.parse_spec(spec)
        return spec


# -- VGG (vgg.py) --------------------------------------------------------------------------------


@builtin_model("vgg_small", "fmnist.models.vgg:vgg_small")
class VggSmallOptions(ModelOptions):
    """Small VGG: three blocks of two 3x3 convs (32, 64, 128) with BN and max-pool."""

    width: Annotated[float, Field(gt=0, le=WIDTH_MAX / 512)] = 1.0  # times the layout's widths
    batch_norm: bool = True
    dropout: Probability = 0.5
    hidden: Width = 256


@builtin_model("vgg16", "fmnist.models.vgg:vgg16")
class Vgg16Options(VggSmallOptions):
    """VGG16's 13 convs adapted to 28x28 (four pools), BN, a 512-wide classifier."""

    hidden: Width = 512


# -- residual nets (resnet.py) -------------------------------------------------------------------


@builtin_model("resnet18", "fmnist.models.resnet:resnet18")
class Resnet18Options(ModelOptions):
    """ResNet-18 for 28x28: 3x3 stem without max-pool, stages of 2 basic blocks at 1x, 2x, 4x, 8x width."""  # noqa: E501 (first line = `fmnist models` description)

    width: Width = 64


@builtin_model("wrn", "fmnist.models.resnet:wrn")
class WrnOptions(ModelOptions):
    """Wide-ResNet WRN-depth-widen: pre-activation blocks, stages of 16k, 32k, 64k channels."""

    depth: Annotated[int, Field(ge=10, le=1000)] = 16
    widen: Width = 4
    dropout: Probability = 0.0

    @field_validator("depth")
    @classmethod
    def _six_n_plus_four(cls, depth: int) -> int:
        if (depth - 4) % 6:
            raise ValueError("depth must be 6n+4 (10, 16, 22, 28, 40)")
        return depth


# -- fastnet (fast.py) ---------------------------------------------------------------------------


@builtin_model("fastnet", "fmnist.models.fast:fastnet")
class FastnetOptions(ModelOptions):
    """Fast net: blocks of 3x3 conv-BN-ReLU (widths x convs) with a max-pool each, then a linear head."""  # noqa: E501 (first line = `fmnist models` description)

    # Each block halves the side (28, 14, 7, 3, 1): at most four blocks.
    widths: Annotated[tuple[Width, ...], Field(min_length=1, max_length=4)] = (32, 64, 128)
    convs: Annotated[tuple[LayerCount, ...], Field(min_length=1, max_length=4)] = (1, 1, 1)
    pool_early: bool = False
    head: Literal["flat", "max", "avg"] = "flat"
    dropout: Probability = 0.0
    # A frozen first convolution that whitens the image's k x k patches (0: none).
    whiten: Literal[0, 2, 3] = 0

    @field_validator("convs")
    @classmethod
    def _one_count_per_block(cls, convs: tuple[int, ...], info) -> tuple[int, ...]:
        widths = info.data.get("widths")
        if widths is not None and len(widths) != len(convs):
            raise ValueError(f"convs needs one count per block, as many as widths {tuple(widths)}")
        return convs
