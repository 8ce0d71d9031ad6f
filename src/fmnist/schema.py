"""What a user writes, read safely: YAML within limits a config never comes near, ``--set``
overrides and the other layers of dotted fields a config is built from (later wins), and the
strict pydantic base every options model derives from, validated one way (a ``ValidationError``
becomes one ConfigError line naming the field, ``fmnist.errors``' shape, never a traceback).
Nothing here knows a config's fields: those are ``fmnist.config``'s.

YAML anyone may have written (configs, recipes, search spaces, ``--set`` values, a downloaded run
folder's config.yaml): PyYAML builds nested nodes recursively, so 5,000 levels of ``[[[...]]]``
end in a RecursionError, and aliases (``&a`` / ``*a``) can stand for a billion nodes in a few
hundred bytes ("billion laughs"): harmless in memory, but every JSON round trip and hash of the
config expands them. ``parse_yaml`` checks the size first, the nesting on PyYAML's event stream
(an iterative parser, before any node is built), then the expanded size of what it built, each
refused in one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from fmnist.errors import ConfigError

MAX_BYTES = 1_000_000  # the largest shipped recipe is about 3 KB
MAX_DEPTH = 32  # a config is three levels deep; a sweep of nested lists a few more
MAX_NODES = 100_000  # values after aliases are expanded


def parse_yaml(text: str, source: str) -> Any:
    """The data of a YAML document, or one ConfigError naming ``source`` and the limit broken."""
    if len(text) > MAX_BYTES:
        raise ConfigError(
            f"{source} is too large for a config ({len(text):,} characters)",
            allowed=f"up to {MAX_BYTES:,} characters",
            fix="check that it is the config you meant; a config is a few kilobytes",
        )
    try:
        _check_depth(yaml.parse(text, Loader=yaml.SafeLoader), source)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{source} is not valid YAML ({str(exc).splitlines()[0]})",
            fix="correct the syntax (quote values that hold ': ')",
        ) from None
    check_structure(data, source)
    return data


def check_structure(data: Any, source: str) -> None:
    """Refuse data nested deeper than MAX_DEPTH or holding more than MAX_NODES values once shared
    parts (YAML aliases) are counted each time they are used; iterative, so it cannot recurse."""
    counted: dict[int, int] = {}  # id of a container -> values below it, aliases expanded
    stack: list[tuple[Any, int, bool]] = [(data, 1, False)]
    while stack:
        node, depth, children_done = stack.pop()
        if not isinstance(node, (dict, list, tuple)):
            continue
        if depth > MAX_DEPTH:
            raise _too_deep(source)
        children = list(node.values()) if isinstance(node, dict) else list(node)
        if children_done:
            total = sum(counted.get(id(c), 1) for c in children) + 1
            if total > MAX_NODES:
                raise ConfigError(
                    f"{source} holds too many values ({total:,} or more once its aliases are "
                    "expanded)",
                    allowed=f"up to {MAX_NODES:,}",
                    fix="write the values out instead of repeating anchors (&name / *name)",
                )
            counted[id(node)] = total
        elif id(node) not in counted:
            stack.append((node, depth, True))
            stack.extend((child, depth + 1, False) for child in children)


def _check_depth(events, source: str) -> None:
    depth = 0
    for event in events:
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise _too_deep(source)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _too_deep(source: str) -> ConfigError:
    return ConfigError(
        f"{source} is nested too deeply for a config",
        allowed=f"up to {MAX_DEPTH} levels of lists and mappings",
        fix="flatten it: a config has sections (model:, optim:, train: ...) of plain values",
    )


# -- layers of dotted fields: --set overrides, a recipe's points, a user's config
Overrides = dict[str, Any]  # dotted field -> value, e.g. {"optim.lr": 0.01}, applied last


def parse_overrides(items: Iterable[str] | Mapping[str, Any] = ()) -> Overrides:
    """``--set`` overrides as one {dotted field: value} mapping, later wins. ``"optim.lr=0.01"``
    strings (what a user types) are read once, each value as YAML; a mapping's values are taken
    as typed (what code and the CLI's own options pass)."""
    if isinstance(items, Mapping):
        return dict(items)
    if isinstance(items, str):  # one string would be read a character at a time
        items = [items]
    overrides: Overrides = {}
    for text in items:
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                "an override is not KEY=VALUE", got=text, fix="write e.g. --set optim.lr=0.01"
            )
        value = parse_yaml(raw, f"the value of --set {key.strip()}") if raw.strip() else None
        overrides[key.strip()] = value
    return overrides


def set_dotted(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """Set ``data['a']['b'] = value`` for key 'a.b' (in place; returns ``data``); unknown keys are
    caught by validation later."""
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(
                f"'{key}': {part} is not a section",
                fix="write a dotted config field such as optim.lr (every field: fmnist config)",
            )
        node = child
    node[parts[-1]] = value
    return data


def get_dotted(data: Any, key: str) -> Any:
    """``data['a']['b']`` for key 'a.b', or None where a part is missing."""
    for part in key.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` (in place) with each dotted field of ``overrides`` set."""
    for key, value in overrides.items():
        set_dotted(data, key, value)
    return data


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; ``update`` wins."""
    out = dict(base)
    for key, value in update.items():
        out[key] = (
            merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"config file {path} does not exist",
            fix="pass the path of a YAML file (or start from a recipe: fmnist recipes)",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"config file {path} cannot be read as text ({type(exc).__name__})",
            fix="pass a readable YAML file",
        ) from None
    data = parse_yaml(text, f"config file {path}") or {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} does not hold a mapping of sections",
            allowed="model:, optim:, train: ... (see: fmnist config)",
            got=type(data).__name__,
        )
    return data


def layered(data: dict[str, Any], *layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of the nested dict ``data`` with each layer's dotted fields set in turn (later
    wins)."""
    check_structure(data, "the config")
    data = json.loads(json.dumps(data, default=str))
    for layer in layers:
        apply_overrides(data, layer or {})
    return data


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
