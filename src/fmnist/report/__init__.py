"""Reports: each one self-contained HTML page (``html.Page``), assembled from figures that
``fmnist.viz`` draws; they never train.

One module per page: ``run`` (a run directory), ``experiment`` (a folder of runs; ``groups`` finds
its sweeps and grids), ``search`` (an Optuna study) and ``explore`` (the data set). Report imports
viz, never the reverse, and nothing below it (training, inference, data) imports report.

``build_report(path)`` decides what ``path`` is: a run directory (it holds config.yaml) gets a run
report; a folder holding finished runs at any depth gets an experiment report.
"""

from __future__ import annotations

from pathlib import Path

from fmnist.errors import RunDirError
from fmnist.runs import RunDir


def is_run_dir(path: Path) -> bool:
    return RunDir(path).is_run


def build_report(
    path: str | Path, *, image: int | None = None, out: str | Path | None = None
) -> Path:
    """Write the report of a run or experiment directory; returns the path of report.html."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(
            f"{path} is not a directory",
            fix="pass a run directory (e.g. runs/fast/seed0) or a folder of runs (runs/fast)",
        )
    if is_run_dir(path):
        from fmnist.report.run import build_run_report

        return build_run_report(path, image=image, out=out)
    from fmnist.report.experiment import build_experiment_report

    return build_experiment_report(path, out=out)
