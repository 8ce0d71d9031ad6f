"""The strict base of every options model fmnist reads from a user, and the one way it validates
one: a pydantic ``ValidationError`` becomes one ConfigError line naming the field
(``fmnist.errors``' shape), never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from fmnist.errors import ConfigError


class Strict(BaseModel):
    """Unknown fields are refused (a typo is an error, not a default), NaN and infinity too, and
    a value assigned later is validated as one read."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


M = TypeVar("M", bound=BaseModel)


def validated(
    model: type[M],
    data: Any,
    subject: str,
    *,
    fix: str | Callable[[tuple], str],
    allowed_fields: Callable[[tuple], str] | None = None,
    prefix: str | None = None,
    error: type[ConfigError] = ConfigError,
) -> M:
    """``data`` validated into ``model``, or its first error raised as one ``error``.

    ``subject`` names what was validated ("config field", "recipe 's003_dense' field");
    ``allowed_fields(loc)`` lists the field names allowed where an unknown field was given;
    ``prefix`` starts the field's dotted path where the validated object sits in a config
    ("model" for a model's options: 'model.hidden.0'); ``fix(loc)`` may say how to fix the
    field at ``loc``.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in ([prefix] if prefix else []) + list(err["loc"]))
        where = where or "(top level)"
        fix = fix(err["loc"]) if callable(fix) else fix
        if err["type"] == "extra_forbidden":
            names = allowed_fields(err["loc"][:-1]) if allowed_fields else None
            raise error(f"unknown {subject} '{where}'", allowed=names, fix=fix) from None
        msg = err["msg"].removeprefix("Value error, ")
        msg = msg[:1].lower() + msg[1:]
        raise error(
            f"{subject} '{where}' is invalid", allowed=msg, got=err.get("input"), fix=fix
        ) from None
