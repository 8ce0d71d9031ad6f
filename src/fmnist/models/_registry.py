"""The model registry: ``@register_model`` on small builders, one front door ``create_model``.

A builder is a function of keyword options returning an ``nn.Module`` that maps (N, 1, 28, 28)
images to (N, 10) logits. Options are type-checked by pydantic; unknown ones are refused.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable
from typing import Any

import torch
from pydantic import ConfigDict, ValidationError, validate_call
from torch import nn

from fmnist.errors import UnknownModelError

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register ``fn`` under its own name; its docstring's first line is the description."""
    _MODELS[fn.__name__] = validate_call(config=ConfigDict(strict=False))(fn)
    return fn


def list_models(pattern: str = "*") -> list[str]:
    return sorted(name for name in _MODELS if fnmatch.fnmatch(name, pattern))


def model_description(name: str) -> str:
    doc = inspect.getdoc(_builder(name)) or ""
    return doc.splitlines()[0] if doc else ""


def model_options(name: str) -> dict[str, Any]:
    """Option name -> default value, as the builder declares them."""
    params = inspect.signature(_builder(name)).parameters
    return {k: p.default for k, p in params.items()}


def check_model_options(name: str, options: dict[str, Any]) -> None:
    """Raise one clear UnknownModelError for an unknown model name or option (no model is built)."""
    allowed = model_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UnknownModelError(
            f"model '{name}' has no option {', '.join(map(repr, unknown))}; "
            f"its options are: {', '.join(allowed) or 'none'} (see: fmnist models)"
        )


def create_model(name: str, **options: Any) -> nn.Module:
    """Build a registered model; ``None`` options are dropped so the builder's defaults stand."""
    options = {k: v for k, v in options.items() if v is not None}
    check_model_options(name, options)
    try:
        return _MODELS[name](**options)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise UnknownModelError(
            f"model '{name}' option '{err['loc'][-1]}': {err['msg']} (got {err.get('input')!r}); "
            f"defaults: {model_options(name)}"
        ) from None


def _builder(name: str) -> Callable[..., nn.Module]:
    if name not in _MODELS:
        raise UnknownModelError(
            f"'{name}' is not a registered model; known: {', '.join(list_models())} "
            "(run: fmnist models)"
        )
    return inspect.unwrap(_MODELS[name])


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module) -> int:
    """Multiply-accumulates of one forward pass of one 28x28 image, counted by torch's FLOP
    counter."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 1, 28, 28, device=device))
    model.train(was_training)
    return counter.get_total_flops() // 2
