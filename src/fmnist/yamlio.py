"""YAML that anyone may have written (configs, recipes, search spaces, ``--set`` values, a
downloaded run folder's config.yaml), read within limits a config never comes near.

PyYAML builds nested nodes recursively, so 5,000 levels of ``[[[...]]]`` end in a RecursionError,
and aliases (``&a`` / ``*a``) can stand for a billion nodes in a few hundred bytes ("billion
laughs"): harmless in memory, but every JSON round trip and hash of the config expands them.
``parse_yaml`` checks the size first, the nesting on PyYAML's event stream (an iterative parser,
before any node is built), then the expanded size of what it built, each refused in one line.
"""

from __future__ import annotations

from typing import Any

import yaml

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
