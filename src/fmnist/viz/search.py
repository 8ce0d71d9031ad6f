"""Figures of a search report: Optuna's own matplotlib plots of a study (history, validation
accuracy per epoch, parameter importances, parallel coordinates, slices), labelled for fmnist and
saved as PNGs for ``fmnist.report.search``'s page.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import optuna

from fmnist.viz.plot import save, styled


@styled
def study_plots(study: optuna.Study, out: Path) -> list[tuple[str, Path]]:
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
