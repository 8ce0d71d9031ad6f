"""Search spaces: a base run (a shipped single-run recipe or a config) plus distributions over any
config field, read from YAML like recipes.

    description: one line
    base: {recipe: fast}              # or base: {config: {model: {name: cnn}, ...}}
    set: {train.validation_freq: 1}   # fixed --set style fields of every trial (optional)
    params:                           # dotted field -> one of float, int, categorical
      optim.lr: {float: [0.05, 0.5], log: true}
      train.epochs: {int: [4, 8]}
      model.widths: {categorical: [[16, 32, 64], [32, 64, 128]]}
      model.filters: {categorical: [[32], [32, 64]], when: {model.name: cnn}}   # conditional
    trials: 30                        # the study's default total

Shipped spaces live beside this file (``fmnist search spaces``); a path to a YAML file works too.
Every field is checked against the config schema when the space is loaded, before any trial.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from fmnist.errors import ConfigError
from fmnist.recipes import Machine
from fmnist.schema import Strict, get_dotted, merge, read_yaml, validated


class Distribution(Strict):
    model_config = ConfigDict(populate_by_name=True)  # the rest is Strict's

    real: tuple[float, float] | None = Field(
        None, alias="float", description="[low, high] of a real value."
    )
    integer: tuple[int, int] | None = Field(
        None, alias="int", description="[low, high] of an integer, inclusive."
    )
    categorical: list[Any] | None = Field(None, description="The values to choose from.")
    log: bool = Field(False, description="Sample float/int on a log scale.")
    step: float | None = Field(None, description="float/int: the grid step (default: none/1).")
    when: dict[str, Any] = Field(
        default_factory=dict,
        description="Only sample when these fields have these values, e.g. {model.name: cnn}.",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Distribution:
        given = {"float": self.real, "int": self.integer, "categorical": self.categorical}
        kinds = [kind for kind, value in given.items() if value is not None]
        if len(kinds) != 1:
            raise ValueError(f"give one of float, int or categorical, not {kinds or 'none'}")
        if self.categorical is not None and not self.categorical:
            raise ValueError("categorical needs at least one value")
        bounds = self.real or self.integer
        if bounds and not bounds[0] < bounds[1]:
            raise ValueError(f"low must be below high, got {list(bounds)}")
        if self.log and bounds and bounds[0] <= 0:
            raise ValueError("a log scale needs low > 0")
        return self

    @property
    def choices(self) -> list[Any]:
        """Categorical values as Optuna stores them: lists and dicts as their JSON text."""
        return [_storable(value) for value in self.categorical or []]

    def stored(self, value: Any) -> Any:
        """``value`` as this distribution stores it, or None if the distribution cannot hold it."""
        if self.categorical is not None:
            return _storable(value) if _storable(value) in self.choices else None
        low, high = self.real or self.integer
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return value if is_number and low <= value <= high else None

    def sample_value(self) -> Any:
        """A value inside the distribution, to check the field once at load time."""
        if self.categorical is not None:
            return self.categorical[0]
        return (self.real or self.integer)[0]


class Base(Strict):
    recipe: str | None = Field(None, description="A shipped single-run recipe (fmnist recipes).")
    config: dict[str, Any] = Field(default_factory=dict, description="RunConfig fields.")


class SearchSpace(Strict):
    name: str
    description: str
    base: Base = Base()
    set: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Distribution] = Field(min_length=1)
    trials: int = Field(30, ge=1, le=100_000)
    time_budget_s: float | None = Field(
        None,
        gt=0,
        description="Seconds of training (per-epoch validation included) a trial may take: one "
        "whose epochs so far project past it is pruned, so the search ranks what fits the budget.",
    )


def _storable(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, tuple, dict)) else value


def decode(value: Any) -> Any:
    """A categorical value back from Optuna's storage (JSON text of a list or dict)."""
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


def _spaces_dir():
    return resources.files("fmnist.search") / "spaces"


def space_names() -> list[str]:
    names = (p.name for p in _spaces_dir().iterdir())
    return sorted(n.removesuffix(".yaml") for n in names if n.endswith(".yaml"))


def load_space(name_or_path: str | Path) -> SearchSpace:
    """A shipped space by name, or a YAML file; every field is checked before any trial."""
    path = Path(name_or_path)
    shipped = _spaces_dir() / f"{name_or_path}.yaml"
    if shipped.is_file():
        data, name = read_yaml(shipped), str(name_or_path)
    elif path.suffix in (".yaml", ".yml"):
        data, name = read_yaml(path), path.stem
    else:
        raise ConfigError(
            f"unknown search space '{name_or_path}'",
            allowed=f"{', '.join(space_names())} or the path of a .yaml file",
            fix="see the shipped spaces with: fmnist search spaces",
        )
    space = validated(
        SearchSpace,
        {"name": name, **data},
        f"search space '{name}' field",
        fix="see fmnist.search.space for the format",
    )
    check_fields(space)
    return space


def check_fields(space: SearchSpace) -> None:
    """Resolve one config per parameter (its first value, its conditions met), so an unknown field
    or a value of the wrong type fails now, with the field named."""
    for key, dist in space.params.items():
        try:
            config = trial_config(space, {**dist.when, key: dist.sample_value()})
        except ConfigError as exc:
            raise ConfigError(f"search space '{space.name}' parameter '{key}': {exc}") from None
        if not config["data"]["val_size"] and config["data"]["folds"] is None:
            raise ConfigError(
                f"search space '{space.name}' scores trials on a validation split, but "
                "data.val_size is 0",
                fix="keep a validation split (data.val_size, e.g. 5000)",
            )
        if config["record"]["embeddings"] or config["record"]["tensorboard"]:
            raise ConfigError(
                f"search space '{space.name}' records embeddings (record.embeddings or the "
                "TensorBoard projector), which read the test set",
                fix="leave record.embeddings and record.tensorboard off: a trial never sees test",
            )


def base_values(space: SearchSpace) -> dict[str, Any]:
    """The base config's value of each parameter the space can hold, as Optuna stores them: the
    hand-made configuration, which a new study tries first, so the search is compared with it."""
    base = trial_config(space, {})
    stored = {key: dist.stored(get_dotted(base, key)) for key, dist in space.params.items()}
    return {key: value for key, value in stored.items() if value is not None}


def trial_config(
    space: SearchSpace, values: dict[str, Any], machine: Machine | None = None
) -> dict[str, Any]:
    """The resolved config of one trial: the base, the fixed ``set``, then the sampled values, for
    the ``machine`` that trains it (None: a base recipe as written, without hardware variants).

    A base recipe that is a sweep lends its shared settings (its ``config``), not a point's."""
    from fmnist.recipes import load_recipe
    from fmnist.runner.resolve import resolve_config

    recipe, config = space.base.recipe, space.base.config
    if recipe is not None:
        spec = load_recipe(recipe)
        if spec.baseline:
            raise ConfigError(
                f"search space '{space.name}': base recipe '{recipe}' is a scikit-learn baseline",
                fix="base a search on a network's recipe or config",
            )
        if spec.sweep is not None or spec.folds:
            recipe, config = None, merge(spec.config, config)
    return resolve_config(recipe, config, {**space.set, **values}, machine=machine).to_dict()
