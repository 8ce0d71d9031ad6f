"""The report of a search: the best trials, Optuna's plots, and the test accuracy of the best
configuration, retrained with seeds and evaluated on the test set once each.

Trials chose on validation only; the retrained runs are normal run directories under
``OUT/search/<study>/best/seed<N>`` (made once, skipped when the report is written again).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from fmnist.analysis.table import build_table
from fmnist.recipes import Recipe
from fmnist.runner.resolve import plan
from fmnist.runner.sweep import run_jobs
from fmnist.search.space import SearchSpace, decode, trial_config
from fmnist.search.study import study_root, trial_states
from fmnist.viz.html import Page
from fmnist.viz.plot import save, styled

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
    for title, path in _plots(study, root / "report"):
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


@styled
def _plots(study: optuna.Study, out: Path) -> list[tuple[str, Path]]:
    """Optuna's matplotlib plots that the study has data for, saved as PNGs.

    Optuna draws through pyplot: each plot's figures are closed once saved (or failed), and only
    those, so a notebook's own figures stay open and Optuna's don't show a second time."""
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    plots: list[tuple[str, str, Callable]] = [
        (
            "Validation accuracy of each trial and the best so far",
            "history",
            optuna_plots.plot_optimization_history,
        ),
        (
            "Validation accuracy per epoch (pruned trials stop early)",
            "epochs",
            optuna_plots.plot_intermediate_values,
        ),
        ("Parameter importances (fANOVA)", "importances", optuna_plots.plot_param_importances),
        ("Parallel coordinates", "parallel", optuna_plots.plot_parallel_coordinate),
        ("Slices: validation accuracy against each parameter", "slices", optuna_plots.plot_slice),
    ]
    n_params = len({name for trial in study.get_trials(deepcopy=False) for name in trial.params})
    saved = []
    for title, stem, draw in plots:
        before = set(plt.get_fignums())
        try:
            with warnings.catch_warnings():  # Optuna calls its matplotlib plots experimental
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                axes = draw(study)
            figure = axes.flat[0].figure if hasattr(axes, "flat") else axes.figure
            for ax in figure.axes:  # say what Optuna's generic "Objective Value" is here
                if ax.get_ylabel() == "Objective Value":
                    ax.set_ylabel("validation accuracy")
            _fit_labels(stem, figure, n_params)
            saved.append((title, save(figure, out / f"{stem}.png")))
        except (ValueError, RuntimeError):  # too few trials or parameters for this plot
            continue
        finally:
            for number in set(plt.get_fignums()) - before:
                plt.close(number)
    return saved


def _fit_labels(stem: str, figure, n_params: int) -> None:
    """Room for the labels Optuna draws at its default size: an axis per parameter side by side,
    and slanted category names (model widths are long) under the slices."""
    if stem == "parallel":
        figure.set_size_inches(max(6.4, 1.5 * n_params + 2), 5)
    if stem == "slices":
        for ax in figure.axes:
            if ax.get_label() != "<colorbar>":
                ax.tick_params(axis="x", labelrotation=30)
                for label in ax.get_xticklabels():
                    label.set_horizontalalignment("right")
