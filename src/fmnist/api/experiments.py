"""Recipes and what is made of their runs: every run of a recipe (``run_recipes``), the results
table, a comparison, robustness, a report, the recount of committed records (``verify``), and the
models and recipes on offer.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmnist.analysis.collect import find_runs
from fmnist.analysis.table import build_table, to_markdown, write_table
from fmnist.api.runs import OverridesLike, as_machine, load_run
from fmnist.errors import ConfigError, RunDirError
from fmnist.recipes import Machine, Recipe, load_recipe
from fmnist.runner import resolve
from fmnist.runner.cluster import SlurmJobs
from fmnist.runner.resolve import RecipePlan, RunSpec
from fmnist.runs import writable_folder
from fmnist.schema import parse_overrides

if TYPE_CHECKING:
    from fmnist.analysis.compare import Comparison
    from fmnist.analysis.robustness import Robustness
    from fmnist.records.verify import Verified

__all__ = [
    "recipe",
    "recipes",
    "models",
    "ModelInfo",
    "run_recipes",
    "RecipePlan",
    "RecipeRuns",
    "SlurmJobs",
    "table",
    "Table",
    "verify",
    "robustness",
    "robustness_table",
    "compare",
    "report",
]


def recipe(name: str) -> Recipe:
    """One recipe: a shipped one by name, or a recipe file (``./my_sweep.yaml``)."""
    return load_recipe(name)


def recipes() -> list[Recipe]:
    """Every shipped recipe, by name."""
    from fmnist.recipes import list_recipes

    return list_recipes()


@dataclass
class RecipeRuns:
    """What ``run_recipes`` did: each run with 'skipped', 'resumed' or 'trained', and the results
    table of the recipes' folders."""

    plans: list[RecipePlan]
    results: list[tuple[RunSpec, str]]
    rows: list[dict[str, Any]]

    @property
    def markdown(self) -> str:
        """The results table as Markdown, as ``fmnist table`` prints it."""
        return to_markdown(self.rows)


def run_recipes(
    recipes: Sequence[str | Recipe],
    *,
    seeds: int | None = None,
    points: Sequence[str] = (),
    quick: bool = False,
    overrides: OverridesLike = (),
    out: str | Path = "runs",
    jobs: int = 1,
    cluster: str | None = None,
    slurm: SlurmJobs | None = None,
    machine: Machine | str = "here",
    verbose: bool = True,
    on_plan: Callable[[RecipePlan], None] | None = None,
    on_job: Callable[[RunSpec, str, int, int], None] | None = None,
) -> RecipeRuns:
    """Run recipes: every point x fold x seed; finished runs are skipped, interrupted ones resumed.

    Args:
        recipes: recipe names or shell patterns ('s003_*', '*'), or loaded ``Recipe`` objects.
        seeds: runs per point, seeds 0..N-1 (default: each recipe's ``seeds``).
        points: shell patterns of point names ('pool-max', '*__optim-rmsprop'): only those points
            of each recipe are run (default: all); a pattern that matches none of a recipe's
            points is refused.
        quick: fewer epochs and a training subset (``RecipePlan.quick_settings``); runs go to
            ``out/RECIPE-quick``, never mixed with full runs.
        overrides: ``--set`` style strings (or a mapping) applied to every run.
        out: parent folder; runs go to ``out/RECIPE/<point>/seed<N>``.
        jobs: runs trained at once, each in its own process (on a GPU; on a CPU keep 1).
        cluster: make every run as a task on a Dask cluster: 'local' (one worker process per
            core here) or a scheduler's address ('tcp://HOST:8786'); every run folder ends up
            under ``out`` (``fmnist.runner.cluster``); 'slurm': Slurm jobs through dask-jobqueue.
        slurm: what ``cluster='slurm'`` asks of Slurm (jobs, partition, time, cores, memory,
            GPUs); default ``SlurmJobs()``.
        machine: the machine the runs train on, whose kind picks each recipe's hardware variant:
            'here' (this one), or a kind of ``MACHINES`` ('cpu-bf16' ...) where they train
            elsewhere (the compute nodes of a cluster, whose CPU is not the login node's).
        verbose: progress bars (one job at a time only).
        on_plan: called with each recipe's plan once every config is resolved, before any run.
        on_job: called after each run with (job, 'skipped' | 'resumed' | 'trained', runs done,
            runs in all).
    """
    if slurm is not None and cluster != "slurm":
        raise ConfigError(
            "the --slurm-* options apply only to --cluster slurm",
            got=cluster,
            fix="add --cluster slurm, or leave the --slurm-* options out",
        )
    if cluster is not None and jobs != 1:
        raise ConfigError(
            "--cluster makes the runs on Dask's workers: --jobs has no place",
            fix=f"leave it out: fmnist run RECIPE --cluster {cluster}",
        )
    writable_folder(out)
    plans = resolve.plan_recipes(
        recipes,
        out=out,
        seeds=seeds,
        quick=quick,
        overrides=parse_overrides(overrides),
        machine=as_machine(machine),
        points=list(points),
    )
    for recipe_plan in plans:
        if on_plan:
            on_plan(recipe_plan)
    every_job = [job for recipe_plan in plans for job in recipe_plan.jobs]
    done = itertools.count(1)
    report = on_job and (lambda job, status: on_job(job, status, next(done), len(every_job)))
    from fmnist.runner.sweep import make_runs  # imports torch: not before a run is made

    results = make_runs(
        every_job,
        workers=jobs,
        cluster=cluster,
        slurm=slurm,
        out=out,
        verbose=verbose,
        on_job=report,
    )
    rows = [row for recipe_plan in plans for row in build_table(recipe_plan.root)]
    return RecipeRuns(plans, results, rows)


@dataclass
class Table:
    """A results table: its rows, the same as Markdown, and the files written."""

    rows: list[dict[str, Any]]
    markdown: str
    files: tuple[Path, Path]

    def _repr_markdown_(self) -> str:  # how Jupyter shows it
        return self.markdown


def table(root: str | Path, output: str | Path | None = None) -> Table:
    """results.md and results.csv from the finished runs under ``root`` (never trains): ours as
    mean ± std over seeds/folds, the study's number, the difference."""
    root = Path(root)
    if not root.is_dir():
        raise RunDirError(
            f"{root} is not a folder", fix="pass the folder that holds run directories, e.g. runs/"
        )
    if not find_runs(root):
        raise RunDirError(
            f"no finished runs (summary.json) under {root}",
            fix="make some with: fmnist run RECIPE",
        )
    rows, md, csv_path = write_table(root, output)
    return Table(rows, to_markdown(rows), (md, csv_path))


COMMITTED_RECORDS = ("results/runs", "results/robustness/runs", "benchmarks/results")
DOCUMENTATION = ("README.md", "results/README.md", "benchmarks/README.md", "docs/*.md")


def verify(*roots: str | Path, pages: Sequence[str | Path] | None = None) -> Verified:
    """Recount every run (test_predictions.txt) and benchmark record (.predictions.npz) under
    ``roots`` against the official test labels, and check the numbers ``pages`` quote from
    records (fmnist.records.quotes); one RunDirError names the first that disagrees.

    Without arguments, in a checkout of fmnist: the committed records and documentation.
    """
    from fmnist.records.verify import verify as verify_records

    if not roots and pages is None:
        pages = sorted(p for pattern in DOCUMENTATION for p in Path().glob(pattern))
    return verify_records(list(roots or COMMITTED_RECORDS), pages=[Path(p) for p in pages or ()])


def robustness(
    run_dir: str | Path, *, reference: str | Path | None = None, images: int = 10_000
) -> Robustness:
    """The run's final model on the test set under 14 corruptions x 5 severities (after
    MNIST-C; fmnist.data.corruptions), written to RUN/robustness/; with a ``reference`` run, the
    corruption error relative to it (ImageNet-C's CE), measuring the reference first if it has
    not been. ``images``: the first N test images only, for a quick look (default: all)."""
    from fmnist.analysis import robustness as measured
    from fmnist.data.sources import load_arrays
    from fmnist.viz.robustness import save_robustness_figures

    if not 1 <= images <= 10_000:
        raise ConfigError(
            "--images is not a number of test images",
            allowed="1 to 10000",
            got=images,
            fix="--images 1000",
        )
    run = load_run(run_dir)
    if reference is not None:
        load_run(reference)  # a wrong reference fails now, not after minutes of measuring
    arrays, _ = load_arrays(run.config.data.data_dir)
    test, labels = arrays["test_images"][:images], arrays["test_labels"][:images]
    against = None
    if reference is not None:
        against = measured.read(Path(reference), images) or robustness(reference, images=images)
    result = measured.measure_run(run, test, labels, against)
    save_robustness_figures(result, test[0])
    return result


def robustness_table(root: str | Path) -> str:
    """The Markdown table of every run under ``root`` whose robustness was measured (``fmnist
    robustness``), most robust first, with its calibration."""
    from fmnist.analysis import robustness as measured

    rows = measured.table(Path(root))
    if not rows:
        raise RunDirError(
            f"no run under {root} has its robustness measured",
            fix="measure one first: fmnist robustness RUN",
        )
    return measured.to_markdown(rows)


def compare(a: str | Path, b: str | Path) -> Comparison:
    """Whether B's test accuracy really differs from A's (each a run or a folder of seeds):
    McNemar's exact test on the images only one gets right, a paired bootstrap interval of the
    difference and, over seeds, Welch's interval (see fmnist.analysis.compare)."""
    from fmnist.analysis.compare import compare as compare_runs

    return compare_runs(a, b)


def report(path: str | Path, *, image: int | None = None, out: str | Path | None = None) -> Path:
    """Write report.html (one self-contained file) for a run directory or a folder of runs;
    returns its path."""
    from fmnist.report import build_report

    return build_report(path, image=image, out=out)


@dataclass
class ModelInfo:
    """A registered model: its name, weight count, multiply-accumulates per image and summary."""

    name: str
    params: int
    macs: int
    description: str


def models(pattern: str = "*") -> list[ModelInfo]:
    """Registered models matching a glob, each with parameter count and MACs per image (built with
    default options)."""
    from fmnist.models import count_macs, count_params, create_model, list_models
    from fmnist.models import model_description as describe

    infos = []
    for name in list_models(pattern):
        net = create_model(name)
        infos.append(ModelInfo(name, count_params(net), count_macs(net), describe(name)))
    return infos
