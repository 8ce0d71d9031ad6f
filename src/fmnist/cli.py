"""The ``fmnist`` command: a thin typer layer over ``fmnist.api``.

Only typer and the standard library load at start-up; torch and friends load inside commands,
so ``fmnist --help`` answers at once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train, compare and understand neural networks on Fashion-MNIST.",
)
data_app = typer.Typer(
    no_args_is_help=True,
    help="Fashion-MNIST files: verify, explore, see augmentations, audit duplicates and labels.",
)
app.add_typer(data_app, name="data")

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config field, e.g. --set optim.lr=0.01 (repeatable)."),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder with the four IDX files "
        "(default: FMNIST_DATA, the Debian package, or a download).",
    ),
]


def _config(
    recipe: str | None, config: Path | None, shortcuts: list[str], overrides: list[str] | None
):
    from fmnist.config import build_config, merge, read_yaml
    from fmnist.recipes import load_recipe, with_hardware_variant

    data: dict = {}
    overrides = shortcuts + list(overrides or [])
    if recipe:
        spec = load_recipe(recipe)
        if spec.is_series or spec.baseline:
            from fmnist.errors import ConfigError

            raise ConfigError(
                f"recipe '{recipe}' is a series of runs ({spec.kind()}); "
                f"run it with: fmnist run {recipe}"
            )
        data = with_hardware_variant(spec, merge({"name": recipe}, spec.config), overrides)
    if config:
        data = merge(data, read_yaml(config))
    return build_config(data, overrides)


@app.command()
def train(
    model: Annotated[
        str | None, typer.Option(help="Registered model name (see: fmnist models).")
    ] = None,
    recipe: Annotated[
        str | None, typer.Option(help="Start from a shipped recipe (see: fmnist recipes).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML config file; --set overrides win over it.")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Shortcut for --set train.epochs=N.")] = None,
    seed: Annotated[int | None, typer.Option(help="Shortcut for --set seed=N.")] = None,
    overrides: SetOption = None,
    data_dir: DataDirOption = None,
    record: Annotated[
        str | None,
        typer.Option(
            help="Comma list of extras to record: filters,histograms,embeddings,tensorboard."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Parent folder of the run directory.")] = Path("runs"),
    resume: Annotated[
        Path | None,
        typer.Option(help="Finish an interrupted run directory from its last checkpoint."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Train one model and write its run directory (config, metrics, checkpoints, summary, predictions)."""  # noqa: E501 (shown as written by `fmnist --help`)
    from fmnist import api

    if resume:
        run = api.resume(resume, verbose=not quiet)
    else:
        shortcuts = [f"model.name={model}"] if model else []
        shortcuts += [f"train.epochs={epochs}"] if epochs else []
        shortcuts += [f"seed={seed}"] if seed is not None else []
        shortcuts += [f"data.data_dir={data_dir}"] if data_dir else []
        shortcuts += [f"record.{item.strip()}=true" for item in record.split(",")] if record else []
        run = api.train(_config(recipe, config, shortcuts, overrides), out=out, verbose=not quiet)
    _print_result(run)


def _print_result(run) -> None:
    summary = run.summary
    typer.echo(f"run directory: {run.path}")
    typer.echo(f"summary: {run.path / 'summary.json'}")
    typer.echo(
        f"test accuracy: {summary['test_accuracy']:.4f}  "
        f"train seconds: {summary['train_seconds']:.1f}  params: {summary['params']:,}"
    )


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    split: Annotated[str, typer.Option(help="train, val or test.")] = "test",
) -> None:
    """Recompute loss and accuracy of a run's final model on a split."""
    from fmnist import api

    metrics = api.load_run(run_dir).evaluate(split)
    typer.echo(f"{split} loss {metrics['loss']:.4f}  accuracy {metrics['accuracy']:.4f}")


@app.command()
def predict(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    images: Annotated[
        list[Path], typer.Argument(help="PNG/JPEG photos or .npy arrays of 28x28 uint8 images.")
    ],
    top: Annotated[int, typer.Option(help="How many classes to show per image.")] = 1,
) -> None:
    """Classify your own images with a trained run (photos are greyscaled, squared, resized, inverted if light)."""  # noqa: E501 (shown as written by `fmnist --help`)
    from fmnist import api
    from fmnist.data import CLASS_NAMES
    from fmnist.data.images import load_images

    arrays, names = load_images(images)
    probabilities = api.load_run(run_dir).predict(arrays)
    for name, probs in zip(names, probabilities):
        best = probs.argsort()[::-1][:top]
        typer.echo(f"{name}: " + ", ".join(f"{CLASS_NAMES[k]} {probs[k]:.1%}" for k in best))


@app.command()
def models(pattern: Annotated[str, typer.Argument(help="Glob filter, e.g. 'vgg*'.")] = "*") -> None:
    """List registered models with parameter count and MACs per image."""
    from fmnist.models import count_macs, count_params, create_model, list_models, model_description

    names = list_models(pattern)
    typer.echo(f"{'model':<10} {'params':>12} {'MACs/image':>14}  description")
    for name in names:
        net = create_model(name)
        typer.echo(
            f"{name:<10} {count_params(net):>12,} {count_macs(net):>14,}  {model_description(name)}"
        )


@app.command()
def recipes() -> None:
    """List shipped recipes: name, study, the study's reported accuracy, what it reproduces and how many runs."""  # noqa: E501 (shown as written by `fmnist --help`)
    from fmnist.recipes import list_recipes

    typer.echo(f"{'recipe':<28} {'study':<5} {'reported':>8}  what it reproduces [runs]")
    for r in list_recipes():
        reported = f"{r.reported:.2f}%" if r.reported is not None else "-"
        typer.echo(f"{r.name:<28} {r.study or '-':<5} {reported:>8}  {r.description} [{r.kind()}]")


@app.command()
def run(
    recipes: Annotated[
        list[str],
        typer.Argument(
            help="Recipe names or shell patterns, e.g. s000_cnn 's003_*' '*' (see: fmnist recipes)."
        ),
    ],
    seeds: Annotated[
        int | None, typer.Option(help="Runs per point (seeds 0..N-1); default: the recipe's.")
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Fewer epochs and a training subset (printed); results go to OUT/RECIPE-quick.",
        ),
    ] = False,
    overrides: SetOption = None,
    out: Annotated[
        Path, typer.Option(help="Parent folder; runs go to OUT/RECIPE/<point>/seed<N>.")
    ] = Path("runs"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            help="Runs trained at once, each in its own process: on a GPU a few small runs fill it "
            "better than one; on a CPU keep 1.",
        ),
    ] = 1,
) -> None:
    """Run recipes: one run, or whole sweeps x seeds x folds. Finished runs are skipped, interrupted ones resumed."""  # noqa: E501 (shown as written by `fmnist --help`)
    from fmnist.experiments.sweep import plan, quick_overrides, recipe_root, run_jobs
    from fmnist.experiments.table import build_table, to_markdown
    from fmnist.recipes import load_recipe, match_recipes

    if seeds is not None and seeds < 1:
        from fmnist.errors import ConfigError

        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    # Every config is resolved before the first run, so a bad --set fails now, not an hour in.
    plans = [
        (spec, plan(spec, out=out, seeds=seeds, quick=quick, overrides=list(overrides or [])))
        for spec in map(load_recipe, match_recipes(recipes))
    ]
    for spec, planned in plans:
        if quick:
            then = f"; then --set {', '.join(overrides)}" if overrides else ""
            typer.echo(
                "QUICK settings (not the study's): "
                + ", ".join(f"{k}={v}" for k, v in quick_overrides(spec).items())
                + then
            )
        typer.echo(
            f"{spec.name}: {len(planned)} run(s) under {recipe_root(spec, out, quick=quick)}"
        )
    every_job = [job for _, planned in plans for job in planned]
    done = iter(range(1, len(every_job) + 1))
    run_jobs(
        every_job,
        workers=jobs,
        verbose=not quiet,
        on_job=lambda job, status: typer.echo(
            f"[{next(done)}/{len(every_job)}] {status:<8} {job.path}"
        ),
    )
    typer.echo(
        to_markdown(
            [row for spec, _ in plans for row in build_table(recipe_root(spec, out, quick=quick))]
        )
    )


@app.command()
def table(
    root: Annotated[
        Path, typer.Argument(help="Folder holding run directories (searched recursively).")
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where results.md and results.csv go (default: ROOT)."),
    ] = None,
) -> None:
    """Results table from run directories (never trains): ours (mean ± std), the study's number, the difference."""  # noqa: E501 (shown as written by `fmnist --help`)
    from fmnist.errors import RunDirError
    from fmnist.experiments.collect import find_runs
    from fmnist.experiments.table import to_markdown, write_table

    if not root.is_dir():
        raise RunDirError(
            f"{root} is not a folder; pass the folder that holds run directories, e.g. runs/"
        )
    if not find_runs(root):
        raise RunDirError(
            f"no finished runs (summary.json) under {root}; make some with: fmnist run RECIPE"
        )
    rows, md, csv_path = write_table(root, output)
    typer.echo(to_markdown(rows))
    typer.echo(f"written: {md}  {csv_path}")


@data_app.command("verify")
def data_verify(data_dir: DataDirOption = None) -> None:
    """Check the four IDX files: size, magic number, shape, label range and SHA-256."""
    from fmnist.data import load_arrays

    arrays, source = load_arrays(data_dir)
    typer.echo(
        f"ok: {source} holds the official Fashion-MNIST ({len(arrays['train_labels']):,} train, "
        f"{len(arrays['test_labels']):,} test images)"
    )


@data_app.command("audit")
def data_audit(
    out: Annotated[Path, typer.Option(help="Folder for the audit tables and image grids.")] = Path(
        "runs/audit"
    ),
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="Audit a 10,000-image training subset with 3 folds (printed)."
        ),
    ] = False,
    folds: Annotated[int, typer.Option(help="Folds for the out-of-fold probabilities.")] = 5,
    data_dir: DataDirOption = None,
) -> None:
    """Exact and near duplicates (train/train, train/test) and suspected label errors (cleanlab). Changes nothing."""  # noqa: E501 (shown as written by `fmnist --help`)
    from fmnist.data.audit import run_audit

    report = run_audit(out, quick=quick, folds=folds, data_dir=data_dir, echo=typer.echo)
    typer.echo(f"audit written to {out}: " + ", ".join(sorted(p.name for p in report)))


@data_app.command("explore")
def data_explore(
    out: Annotated[Path, typer.Option(help="Folder for the PNG files and index.html.")] = Path(
        "explore"
    ),
    sample: Annotated[
        int, typer.Option(help="Stratified training images in the PCA and t-SNE maps.")
    ] = 2000,
    data_dir: DataDirOption = None,
) -> None:
    """Look at the data: class counts per split, sample grid, mean image per class, PCA and t-SNE maps."""  # noqa: E501 (shown as written by `fmnist --help`)
    from fmnist.errors import ConfigError
    from fmnist.viz.explore import explore

    if not 100 <= sample <= 20000:
        raise ConfigError(
            f"--sample must be in [100, 20000] images (t-SNE slows down beyond that), got {sample}"
        )
    typer.echo(f"data explore page: {explore(out, data_dir=data_dir, sample=sample)}")


@app.command()
def report(
    path: Annotated[
        Path,
        typer.Argument(
            help="A run directory, or a folder holding finished runs at any depth (an experiment)."
        ),
    ],
    image: Annotated[
        int | None,
        typer.Option(help="Test image index whose feature maps a run report shows (default 0)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: PATH/report).")] = None,
) -> None:
    """Write report.html (one self-contained file) and its figures for a run or an experiment folder."""  # noqa: E501 (shown as written by `fmnist --help`)
    from fmnist.report import build_report

    typer.echo(f"report: {build_report(path, image=image, out=out)}")


@data_app.command("augment")
def data_augment(
    show: Annotated[
        bool, typer.Option("--show", help="Save a grid of augmented training images.")
    ] = True,
    overrides: SetOption = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")] = Path(
        "augment.png"
    ),
    data_dir: DataDirOption = None,
) -> None:
    """See what an augmentation setting does: originals in the first column, augmented copies beside."""  # noqa: E501 (shown as written by `fmnist --help`)
    from fmnist.viz.augment import save_augment_grid

    shortcuts = [f"data.data_dir={data_dir}"] if data_dir else []
    cfg = _config(None, None, shortcuts, overrides)
    if not cfg.augment.enabled:
        cfg.augment = cfg.augment.model_copy(update={"hflip": True, "shift": 2, "rotate": 10})
    save_augment_grid(cfg, output)
    typer.echo(f"augmentation grid: {output}  ({cfg.augment.model_dump(exclude_defaults=True)})")


def main() -> None:
    from fmnist.errors import FmnistError

    try:
        app()
    except FmnistError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo(
            "interrupted: the run directory keeps its last checkpoint; "
            "finish with `fmnist train --resume RUN_DIR`",
            err=True,
        )
        sys.exit(130)


if __name__ == "__main__":
    main()
