"""Hyperparameter search: an Optuna study of a space (``search``), and the best configuration
retrained over seeds and reported (``search_report``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmnist.errors import ConfigError
from fmnist.runs import writable_folder

__all__ = [
    "search",
    "search_report",
    "search_spaces",
    "SearchResult",
]


@dataclass
class SearchResult:
    """Where a study stands after this worker stopped."""

    study: str
    root: Path
    states: dict[str, int]
    best_value: float | None
    best_params: dict[str, Any]


def search(
    space: str | Path,
    *,
    study: str,
    storage: str | None = None,
    trials: int | None = None,
    sampler: str = "tpe",
    pruner: str = "median",
    out: str | Path = "runs",
    verbose: bool = True,
) -> SearchResult:
    """Work on an Optuna study of ``space`` (a shipped space or a YAML file) until it holds
    ``trials`` complete or pruned trials in all (default: the space's). Start the same command on
    other machines with the same ``study`` and a shared ``storage`` (PostgreSQL URL) to add workers;
    without ``storage`` the study is a SQLite file in ``out/search/STUDY``. Trials choose on
    validation only; ``search_report`` tests the best."""
    if trials is not None and trials < 1:
        raise ConfigError("--trials must be at least 1", got=trials, fix="--trials 30")
    search_space, study_module = _search_modules()
    space_spec = search_space.load_space(space)
    writable_folder(out)
    optuna_study = study_module.open_study(
        study, space_spec, out=out, storage=storage, sampler=sampler, pruner=pruner, verbose=verbose
    )
    study_module.run_worker(optuna_study, space_spec, out=out, trials=trials, verbose=verbose)
    return SearchResult(
        study, study_module.study_root(out, study), **study_module.standing(optuna_study)
    )


def search_report(
    study: str,
    *,
    storage: str | None = None,
    seeds: int = 3,
    out: str | Path = "runs",
    verbose: bool = True,
) -> Path:
    """Retrain a study's best configuration with ``seeds`` seeds (test evaluated once each) and
    write its report (best trials, Optuna's plots, the test accuracy); returns report.html."""
    if seeds < 1:
        raise ConfigError("--seeds must be at least 1", got=seeds, fix="--seeds 3")
    _, study_module = _search_modules()
    from fmnist.report.search import build_search_report

    optuna_study = study_module.load_study(study, out=out, storage=storage)
    return build_search_report(optuna_study, out=out, seeds=seeds, verbose=verbose)


def search_spaces() -> list[Any]:
    """The shipped search spaces (``SearchSpace`` objects)."""
    search_space, _ = _search_modules()
    return [search_space.load_space(name) for name in search_space.space_names()]


def _search_modules():
    try:
        from fmnist.search import space, study
    except ImportError as exc:
        raise ConfigError(
            f"fmnist search needs the search extra ({exc})", fix="pip install 'fmnist[search]'"
        ) from None
    return space, study
