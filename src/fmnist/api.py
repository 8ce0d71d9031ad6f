"""The Python API: one function per user action. The ``fmnist`` command calls these and nothing
else, so a notebook gets the same checks, the same run folders and the same errors.

    >>> import fmnist
    >>> run = fmnist.fit(recipe="fast")             # fmnist train --recipe fast  -> runs/fast/seed0
    >>> run.summary["test_accuracy"]
    >>> fmnist.api.run_recipes(["s003_*"], seeds=3)  # fmnist run 's003_*' --seeds 3
    >>> fmnist.api.table("runs").markdown           # fmnist table runs

Importing this module loads no torch: configs and recipes are resolved and validated without it,
and the functions that train, evaluate or draw import it when called.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmnist.analysis.collect import find_runs
from fmnist.analysis.table import build_table, to_markdown, write_table
from fmnist.config import RunConfig, parse_overrides, read_yaml
from fmnist.errors import ConfigError, RunDirError
from fmnist.models.user import register_model
from fmnist.recipes import MACHINES, Machine, Recipe, load_recipe, match_recipes
from fmnist.runner import resolve
from fmnist.runner.cluster import SlurmJobs
from fmnist.runner.resolve import RunSpec
from fmnist.runs import RunDir, writable_folder

if TYPE_CHECKING:
    from fmnist.analysis.compare import Comparison
    from fmnist.analysis.robustness import Robustness
    from fmnist.explain import Explained
    from fmnist.inference import Classified, Run
    from fmnist.records.verify import Verified

ConfigLike = RunConfig | dict[str, Any] | str | Path | None
# --set style 'section.field=value' strings, or {dotted field: value} with typed values
OverridesLike = Sequence[str] | Mapping[str, Any]


# -- configs --------------------------------------------------------------------------------------
def resolve_config(
    config: ConfigLike = None,
    *,
    recipe: str | None = None,
    overrides: OverridesLike = (),
    machine: Machine | str | None = None,
) -> RunConfig:
    """A single run's config: defaults, then a shipped single-run ``recipe``, then ``config``
    (a RunConfig, a nested dict or a YAML path), then ``--set`` style ``overrides`` (later wins).

    ``machine``: resolve for the hardware a run will train on: 'here' (this machine, measured),
    a kind of ``fmnist.recipes.MACHINES`` ('cpu-fp32', 'cpu-bf16', 'cuda', 'mps') or a ``Machine``;
    None (default): the recipe as written, without its hardware variant.
    ``fmnist train``, ``fmnist run`` and ``fmnist config`` resolve through the same
    ``fmnist.runner.resolve``.
    """
    return resolve.resolve_config(
        recipe, _as_dict(config, recipe), parse_overrides(overrides), machine=_machine(machine)
    )


def _machine(machine: Machine | str | None) -> Machine | None:
    if machine is None or isinstance(machine, Machine):
        return machine
    if machine == "here":
        from fmnist.training.hardware import this_machine

        return this_machine()
    if machine not in MACHINES:
        raise ConfigError(
            f"unknown machine {machine!r}",
            allowed=", ".join(["here", *MACHINES]),
            fix="--machine here (this machine) or --machine cpu-fp32",
        )
    return MACHINES[machine]


def _as_dict(config: ConfigLike, recipe: str | None = None) -> dict[str, Any]:
    if isinstance(config, RunConfig):
        if recipe is not None:  # every field of it would overwrite the recipe's
            raise ConfigError(
                "a whole RunConfig cannot start from a recipe",
                fix="pass a dict of the fields to change, e.g. {'train': {'epochs': 3}}",
            )
        return config.to_dict()
    if isinstance(config, (str, Path)):
        return read_yaml(config)
    return dict(config or {})


# -- one run -------------------------------------------------------------------------------------
def fit(
    config: ConfigLike = None,
    *,
    model: str | Callable[..., Any] | None = None,
    recipe: str | None = None,
    overrides: OverridesLike = (),
    out: str | Path = "runs",
    run_dir: str | Path | None = None,
    quick: bool = False,
    verbose: bool = True,
    curves: bool = True,
) -> Run:
    """Train one model and record it in a run directory; returns the finished ``Run``.

    Args:
        config: a RunConfig, a nested dict, or the path of a YAML file (None: the defaults).
        model: the model: a registered name, a reference ('my_pkg.nets:TinyNet',
            'path/to/file.py:TinyNet'), or a factory of yours (registered under its __name__;
            it takes the model's options, ``model.*`` in the config, as keyword arguments).
        recipe: start from this shipped single-run recipe (``fmnist recipes``). Its run goes where
            ``fmnist run RECIPE`` puts it, ``out/RECIPE/seed<N>``: a finished one is returned as
            it is, an interrupted one resumed, one with another config refused.
        overrides: ``--set`` style 'section.field=value' strings, or a mapping of dotted fields
            to values ({'train.epochs': 3}), applied last.
        out: parent folder of the run directory (without a recipe: ``out/<date>-<name>-<hash>``).
        run_dir: exact, new run directory to use instead (not with a recipe).
        quick: with a recipe, its quick settings (fewer epochs, a training subset), as
            ``fmnist run RECIPE --quick`` makes them, in ``out/RECIPE-quick/seed<N>``.
        verbose: progress bar and one line per epoch.
        curves: in Jupyter or Colab, the loss and accuracy curves under the cell, redrawn after
            every epoch (with ``verbose``).
    """
    from fmnist.inference import Run
    from fmnist.runner.make import make_run  # imports torch: not before a run is made
    from fmnist.training.progress import live_curves

    overrides = parse_overrides(overrides)
    if model is not None:
        overrides = {"model.name": _model_name(model), **overrides}
    job = resolve.single_run_spec(
        recipe,
        _as_dict(config, recipe),
        overrides,
        out=out,
        run_dir=run_dir,
        machine=_machine("here") if recipe is not None else None,
        quick=quick,
    )
    if run_dir is None:
        writable_folder(out)
    else:
        writable_folder(Path(run_dir).parent, "run_dir's parent")
    with live_curves(curves):
        state = make_run(job, verbose=verbose)
    if state == "skipped" and verbose:
        print(f"already finished: {job.path} (delete it to train again)", file=sys.stderr)
    return Run(job.path)


train = fit  # its name before 0.2, kept for a release


def _model_name(model: str | Callable[..., Any]) -> str:
    """A model argument as the config's ``model.name``: a factory is registered under its name."""
    if isinstance(model, str):
        return model
    name = getattr(model, "__name__", None)
    if not name:
        raise ConfigError(
            f"model={model!r} has no __name__ to register it under",
            fix="decorate the factory with @fmnist.register_model('NAME') and pass model='NAME'",
        )
    register_model(name)(model)
    return name


def resume(run_dir: str | Path, *, verbose: bool = True) -> Run:
    """Finish an interrupted run from its last checkpoint, with the same final weights as an
    uninterrupted run (a finished run is returned as it is)."""
    from fmnist.runner.make import resume_run

    return load_run(resume_run(RunDir.open(run_dir), verbose=verbose).path)


def load_run(path: str | Path) -> Run:
    """A finished run directory: config, metrics, summary, and its model (evaluate, predict)."""
    from fmnist.inference import Run

    return Run(path)


def evaluate(run_dir: str | Path, split: str = "test") -> dict[str, float]:
    """Loss and accuracy of a run's final model on ``split`` ('train', 'val' or 'test'),
    recomputed on the run's device (a GPU when there is one)."""
    return load_run(run_dir).evaluate(split)


def predict(
    run_dir: str | Path,
    images: Sequence[str | Path],
    *,
    top: int = 3,
    show: str | Path | None = None,
) -> list[Classified]:
    """The ``top`` classes and probabilities of each image file (photos, prepared as Fashion-MNIST
    was made; .npy arrays of 28x28 uint8). A file that cannot be read gets its error and the others
    are still classified. ``show``: a folder where each input is saved as the model saw it."""
    from fmnist.inference import classify_files

    return classify_files(load_run(run_dir), images, top=top, show=show)


classify = predict  # its name before 0.2, kept for a release


def explain(
    run_dir: str | Path,
    images: Sequence[str | Path] = (),
    *,
    test: Sequence[int] = (),
    out: str | Path | None = None,
) -> Explained:
    """Attribution maps (Integrated Gradients, saliency, Grad-CAM, occlusion; fmnist.explain) of
    photos or .npy arrays (prepared as ``predict`` prepares them) and of test images by index
    (default: the first four), each for the class the run predicts; drawn in OUT/explain.png
    (default RUN/explain/)."""
    from fmnist.explain import explain_files

    return explain_files(load_run(run_dir), images, test=test, out=out)


def export(run_dir: str | Path, *, format: str = "onnx", output: str | Path | None = None) -> Any:
    """One ONNX file of a run's final model (uint8 images in, probabilities out; normalisation and
    flip-TTA inside), checked against PyTorch with onnxruntime on real test images; returns the
    ``ExportReport`` (path, images, largest difference, agreement of predicted classes)."""
    if format != "onnx":
        raise ConfigError("unknown export format", allowed="onnx", got=format)
    run = load_run(run_dir)
    from fmnist.data import load_arrays
    from fmnist.export import export_onnx

    data_dir = run.config.data.data_dir
    target = Path(output) if output else run.path / "model.onnx"
    return export_onnx(run.predictor, target, load_arrays(data_dir)[0]["test_images"])


def serve(run_dir: str | Path, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the web page and JSON endpoint of ``fmnist.serve`` for a run's final model until
    interrupted; bound to this machine unless ``host`` says otherwise."""
    if not 1 <= port <= 65535:
        raise ConfigError("--port is out of range", allowed="1 to 65535", got=port)
    try:
        import uvicorn

        from fmnist.serve import create_app
    except ImportError as exc:
        raise ConfigError(
            f"fmnist serve needs the serve extra ({exc})", fix="pip install 'fmnist[serve]'"
        ) from None
    run = load_run(run_dir)
    app = create_app(run.predictor, title=str(run.path))
    uvicorn.run(app, host=host, port=port, log_level="warning")


# -- recipes and experiments ---------------------------------------------------------------------
def recipe(name: str) -> Recipe:
    """One recipe: a shipped one by name, or a recipe file (``./my_sweep.yaml``)."""
    return load_recipe(name)


def recipes() -> list[Recipe]:
    """Every shipped recipe, by name."""
    from fmnist.recipes import list_recipes

    return list_recipes()


@dataclass
class RecipePlan:
    """What ``fmnist run`` will make of one recipe: its folder, its runs, and the quick settings
    (None for full runs)."""

    recipe: Recipe
    root: Path
    jobs: list[RunSpec]
    quick_settings: dict[str, Any] | None


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
    if seeds is not None and seeds < 1:
        raise ConfigError("--seeds must be at least 1", got=seeds, fix="--seeds 3, or leave it out")
    if slurm is not None and cluster != "slurm":
        raise ConfigError(
            "the --slurm-* options apply only to --cluster slurm",
            got=cluster,
            fix="add --cluster slurm, or leave the --slurm-* options out",
        )
    writable_folder(out)
    chosen: list[Recipe] = []
    for item in recipes:
        found = [item] if isinstance(item, Recipe) else map(load_recipe, match_recipes([item]))
        chosen += [one for one in found if one.name not in {c.name for c in chosen}]
    # Every config is resolved before the first run, so a bad --set fails now, not an hour in.
    trains_on = _machine(machine)
    plans = [
        RecipePlan(
            recipe,
            resolve.recipe_root(recipe, out, quick=quick),
            resolve.plan(
                recipe,
                out=out,
                seeds=seeds,
                quick=quick,
                overrides=parse_overrides(overrides),
                machine=trains_on,
                points=list(points),
            ),
            resolve.quick_overrides(recipe) if quick else None,
        )
        for recipe in chosen
    ]
    for recipe_plan in plans:
        if on_plan:
            on_plan(recipe_plan)
    every_job = [job for recipe_plan in plans for job in recipe_plan.jobs]
    done = itertools.count(1)
    report = on_job and (lambda job, status: on_job(job, status, next(done), len(every_job)))
    if cluster is not None:
        from fmnist.runner.cluster import run_on_cluster

        if jobs != 1:
            raise ConfigError(
                "--cluster makes the runs on Dask's workers: --jobs has no place",
                fix=f"leave it out: fmnist run RECIPE --cluster {cluster}",
            )
        quiet = lambda _: None  # noqa: E731
        results = run_on_cluster(
            every_job,
            cluster,
            out=Path(out),
            on_job=report,
            echo=print if verbose else quiet,
            slurm=slurm,
        )
    else:
        from fmnist.runner.sweep import run_jobs  # imports torch: not before a run is made

        results = run_jobs(every_job, workers=jobs, verbose=verbose, on_job=report)
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


# -- search ---------------------------------------------------------------------------------------
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


# -- models ---------------------------------------------------------------------------------------
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


# -- data -----------------------------------------------------------------------------------------
def verify_data(data_dir: str | Path | None = None) -> tuple[Path, dict[str, int]]:
    """Check the four IDX files (size, magic number, shape, label range, SHA-256); returns their
    folder and the images per split."""
    from fmnist.data import load_arrays

    arrays, source = load_arrays(data_dir)
    return source, {"train": len(arrays["train_labels"]), "test": len(arrays["test_labels"])}


def audit_data(
    out: str | Path = "runs/audit",
    *,
    quick: bool = False,
    train_subset: int | None = None,
    folds: int = 5,
    data_dir: str | Path | None = None,
    echo: Callable[[str], None] = print,
) -> list[Path]:
    """Exact and near duplicates and suspected label errors, written to ``out`` as tables and
    image grids; changes nothing. ``train_subset``: audit that many stratified training images
    (default: all 60,000)."""
    from fmnist.data.audit import run_audit
    from fmnist.viz.audit import draw_audit

    tables = run_audit(
        out, quick=quick, train_subset=train_subset, folds=folds, data_dir=data_dir, echo=echo
    )
    return sorted(tables + draw_audit(out, data_dir=data_dir))


def explore_data(
    out: str | Path = "explore", *, sample: int = 2000, data_dir: str | Path | None = None
) -> Path:
    """Class counts, sample grid, mean images, PCA and t-SNE maps; returns the index.html path."""
    if not 100 <= sample <= 20000:
        raise ConfigError(
            "--sample is out of range (t-SNE slows down beyond 20,000 images)",
            allowed="100 to 20000 images",
            got=sample,
        )
    from fmnist.report.explore import explore

    return explore(out, data_dir=data_dir, sample=sample)


def augment_grid(
    overrides: OverridesLike = (), output: str | Path = "augment.png"
) -> tuple[Path, dict[str, Any]]:
    """A PNG of training images (first column) beside augmented copies, for the augmentation the
    overrides set (default: flips, 2-pixel shifts and 10-degree rotations); returns the file and
    the settings shown."""
    cfg = resolve_config(overrides=overrides)
    if not cfg.augment.enabled:
        cfg.augment = cfg.augment.model_copy(update={"hflip": True, "shift": 2, "rotate": 10})
    from fmnist.viz.augment import save_augment_grid

    return save_augment_grid(cfg, Path(output)), cfg.augment.model_dump(exclude_defaults=True)
