"""The report of a search: the best trials, Optuna's plots (``fmnist.viz.search`` draws them), and
the test accuracy of the best configuration, retrained with seeds and evaluated on the test set
once each.

Trials chose on validation only; the retrained runs are normal run directories under
``OUT/search/<study>/best/seed<N>`` (made once, skipped when the report is written again).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from fmnist.analysis.table import build_table
from fmnist.recipes import Recipe
from fmnist.report.html import Page
from fmnist.runner.resolve import plan
from fmnist.runner.sweep import run_jobs
from fmnist.search.space import SearchSpace, decode, trial_config
from fmnist.search.study import study_root, trial_states
from fmnist.viz.search import study_plots

TOP = 10  # rows of the best-trials table


def build_search_report(
    study: optuna.Study, *, out: str | Path = "runs", seeds: int = 3, verbose: bool = True
) -> Path:
    """Retrain the best trial's config with ``seeds`` seeds (test evaluated once each), then write
    ``report.html`` into the study folder; returns its path."""
    root = study_root(out, study.study_name)
    space = SearchSpace.model_validate(study.user_attrs["space"])
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    page = Page(f"Search report: {study.study_name}", _subtitle(study, space))
    if not complete:
        page.text("No trial has completed yet: nothing to retrain or plot.", "note")
        return page.write(root / "report" / "report.html")
    best = study.best_trial
    retrained = retrain_best(study, space, root, seeds=seeds, verbose=verbose)
    page.section("Best configuration on test")
    page.cards(_best_cards(best, retrained))
    page.section("Best trials (validation accuracy)")
    header, rows = best_trials_table(complete, space)
    page.table(header, rows)
    page.section("How the search went")
    for title, path in study_plots(study, root / "report"):
        page.figure(path, title, half=True)
    return page.write(root / "report" / "report.html")


def best_config(best: FrozenTrial, space: SearchSpace) -> dict[str, Any]:
    """The best trial's config, for this machine (as its trial was, where a study has one)."""
    from fmnist.training.hardware import this_machine

    values = {key: decode(value) for key, value in best.params.items()}
    return trial_config(space, values, this_machine())


def retrain_best(
    study: optuna.Study, space: SearchSpace, root: Path, *, seeds: int, verbose: bool
) -> list[dict[str, Any]]:
    """Runs ``root/best-trial-NNNN/seed<N>`` of the best trial's config (a recipe of its own, so
    they resume and skip like ``fmnist run``); returns their results table row."""
    best = study.best_trial
    config = {k: v for k, v in best_config(best, space).items() if k not in ("name", "seed")}
    recipe = Recipe(
        name=f"best-trial-{best.number:04d}",  # the best may change as the study goes on
        description=f"best trial ({best.number}) of search {study.study_name}",
        config=config,
        seeds=seeds,
    )
    run_jobs(plan(recipe, out=root, seeds=seeds), verbose=verbose)
    return build_table(root / recipe.name)


def best_trials_table(
    complete: list[FrozenTrial], space: SearchSpace
) -> tuple[list[str], list[list[str]]]:
    ranked = sorted(complete, key=lambda t: t.value, reverse=True)[:TOP]
    header = ["trial", "val accuracy %", "epochs", "seconds", *space.params]
    rows = [
        [
            str(t.number),
            f"{100 * t.value:.2f}",
            str(len(t.intermediate_values) or "-"),
            f"{t.duration.total_seconds():.0f}" if t.duration else "-",
            *(_cell(decode(t.params[key])) if key in t.params else "-" for key in space.params),
        ]
        for t in ranked
    ]
    return header, rows


def _cell(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _subtitle(study: optuna.Study, space: SearchSpace) -> str:
    states = ", ".join(f"{n} {state}" for state, n in trial_states(study).items())
    return f"space '{space.name}': {space.description}  ·  {states}"


def _best_cards(best: FrozenTrial, rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    row = rows[0]
    spread = f" ± {row['test_accuracy_std']:.2f}" if row["test_accuracy_std"] is not None else ""
    return [
        ("best trial", str(best.number)),
        ("its validation accuracy", f"{100 * best.value:.2f} %"),
        (f"test accuracy, {row['n']} seeds", f"{row['test_accuracy_mean']:.2f}{spread} %"),
        ("train seconds per run", f"{row['train_seconds']:.1f}"),
    ]
