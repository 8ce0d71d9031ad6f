"""Recipes: YAML files shipped with fmnist, each one experiment with the number it is meant to reach.

    name: fast                     # = file name
    study: null                    # 000-004 when it reproduces a study's experiment
    description: one line
    reported: null                 # the study's reported test accuracy (%), shown beside ours
    config: {...}                  # RunConfig fields that differ from the defaults
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fmnist.config import read_yaml
from fmnist.errors import ConfigError


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str
    study: str | None = Field(None, description="Study document number, 000-004.")
    reported: float | None = Field(None, description="The study's reported test accuracy in percent.")
    notes: str | None = Field(None, description="Choices made where the study is ambiguous.")
    config: dict[str, Any] = Field(default_factory=dict)


def _recipe_dir():
    return resources.files("fmnist.recipes")


def list_recipes() -> list[Recipe]:
    return [load_recipe(p.name.removesuffix(".yaml")) for p in sorted(_recipe_dir().iterdir(), key=lambda p: p.name) if p.name.endswith(".yaml")]


def recipe_names() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in _recipe_dir().iterdir() if p.name.endswith(".yaml"))


def load_recipe(name: str) -> Recipe:
    path = _recipe_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown recipe '{name}'; known: {', '.join(recipe_names())} (run: fmnist recipes)")
    data = read_yaml(path)
    try:
        return Recipe.model_validate({"name": name, **data})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"recipe '{name}': field '{'.'.join(map(str, err['loc']))}' {err['msg']}") from None
