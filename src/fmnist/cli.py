"""The ``fmnist`` command: a thin typer layer over ``fmnist.api``.

Each command parses its options, calls one ``fmnist.api`` function and prints what it returns; a
user's mistake (``FmnistError``) becomes one line on stderr and exit code 2. ``fmnist.api`` loads
no torch at import, so ``fmnist --help`` and ``fmnist config`` answer at once.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from fmnist import api
from fmnist.errors import FmnistError

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
search_app = typer.Typer(
    no_args_is_help=True,
    help="Hyper-parameter search with Optuna: one laptop (SQLite) or many machines (PostgreSQL).",
)
app.add_typer(search_app, name="search")

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config field, e.g. --set optim.lr=0.01 (repeatable)."),
]
RecipeOption = Annotated[
    str | None, typer.Option(help="Start from a shipped recipe (see: fmnist recipes).")
]
ConfigOption = Annotated[
    Path | None, typer.Option(help="YAML config file; --set overrides win over it.")
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder with the four IDX files "
        "(default: FMNIST_DATA, the Debian package, or a download).",
    ),
]


def _overrides(shortcuts: dict[str, Any], set_texts: list[str] | None) -> dict[str, Any]:
    """Flags such as --epochs 5 as the overrides they stand for ({"train.epochs": 5}, typed as
    given), then the --set strings, read once (they win)."""
    typed = {key: value for key, value in shortcuts.items() if value is not None}
    return {**typed, **api.parse_overrides(set_texts or [])}


@app.command()
def train(
    model: Annotated[
        str | None,
        typer.Option(
            help="A registered model (fmnist models), or yours: my_pkg.nets:TinyNet or "
            "path/to/file.py:TinyNet (its options: --set model.NAME=VALUE)."
        ),
    ] = None,
    recipe: RecipeOption = None,
    config: ConfigOption = None,
    epochs: Annotated[int | None, typer.Option(help="Shortcut for --set train.epochs=N.")] = None,
    seed: Annotated[int | None, typer.Option(help="Shortcut for --set seed=N.")] = None,
    overrides: SetOption = None,
    data_dir: DataDirOption = None,
    record: Annotated[
        str | None,
        typer.Option(
            help="Comma list of extras to record: filters,histograms,layers,embeddings,tensorboard."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Parent folder of the run directory.")] = Path("runs"),
    resume: Annotated[
        Path | None,
        typer.Option(help="Finish an interrupted run directory from its last checkpoint."),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="With --recipe: fewer epochs and a training subset; the run goes to "
            "OUT/RECIPE-quick.",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Train one model and write its run directory (config, metrics, checkpoints, summary, predictions)."""  # noqa: E501 (shown as written by `fmnist --help`)
    if resume:
        run = api.resume(resume, verbose=not quiet)
    else:
        extras = {f"record.{item.strip()}": True for item in record.split(",")} if record else {}
        shortcuts = {"model.name": model, "train.epochs": epochs, "seed": seed}
        shortcuts |= {"data.data_dir": data_dir, **extras}
        run = api.fit(
            config,
            recipe=recipe,
            overrides=_overrides(shortcuts, overrides),
            out=out,
            quick=quick,
            verbose=not quiet,
        )
    _print_result(run)


def _print_result(run) -> None:
    summary = run.summary
    typer.echo(f"run directory: {run.path}")
    typer.echo(f"summary: {run.path / 'summary.json'}")
    score = (
        f"test accuracy: {summary['test_accuracy']:.4f}"
        if summary["test_accuracy"] is not None
        else f"validation accuracy: {summary['val_accuracy']:.4f} (a search trial: no test)"
    )
    typer.echo(
        f"{score}  train seconds: {summary['train_seconds']:.1f}  params: {summary['params']:,}"
    )


@app.command("config")
def show_config(
    recipe: RecipeOption = None,
    config: ConfigOption = None,
    overrides: SetOption = None,
    machine: Annotated[
        str | None,
        typer.Option(
            help="Resolve for a machine: here (this one), cpu-fp32, cpu-bf16, cuda or mps; "
            "default: the recipe as written, without its hardware variant."
        ),
    ] = None,
) -> None:
    """Print the resolved config (every field, defaults included) without training: checks a YAML file or --set at once."""  # noqa: E501 (shown as written by `fmnist --help`)
    import yaml

    resolved = api.resolve_config(
        config, recipe=recipe, overrides=list(overrides or []), machine=machine
    )
    typer.echo(yaml.safe_dump(resolved.to_dict(), sort_keys=False).rstrip())
    variant = recipe and machine is None and api.recipe(recipe).fp32_variant
    if variant:
        typer.echo(
            f"# on a CPU without native bf16 this recipe sets {variant.set} ({variant.why}); "
            "see it with --machine cpu-fp32"
        )


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    split: Annotated[str, typer.Option(help="train, val or test.")] = "test",
) -> None:
    """Recompute loss and accuracy of a run's final model on a split (on a GPU if there is one)."""
    metrics = api.evaluate(run_dir, split)
    typer.echo(f"{split} loss {metrics['loss']:.4f}  accuracy {metrics['accuracy']:.4f}")


@app.command()
def predict(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    images: Annotated[
        list[Path], typer.Argument(help="Photos (PNG, JPEG...) or .npy arrays of 28x28 uint8.")
    ],
    top: Annotated[int, typer.Option(help="How many classes to show per image.")] = 3,
    show: Annotated[
        Path | None, typer.Option(help="Save each 28x28 input as the model saw it in this folder.")
    ] = None,
) -> None:
    """Classify your own photos, prepared as Fashion-MNIST was made (trim, 28 px, sharpen, centre, negate)."""  # noqa: E501 (shown as written by `fmnist --help`)
    results = api.predict(run_dir, images, top=top, show=show)
    for result in results:
        if result.error:
            typer.echo(f"{result.name}: error: {result.error}", err=True)
            continue
        best = ", ".join(f"{label} {p:.1%}" for label, p in result.top)
        shown = f"  (input: {result.shown})" if result.shown else ""
        typer.echo(f"{result.name}: {best}{shown}")
        for warning in result.warnings:
            typer.echo(f"{result.name}: warning: {warning}", err=True)
    if any(r.error for r in results):
        raise typer.Exit(1)  # the others were classified; the exit code says some could not be


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    format: Annotated[str, typer.Option("--format", help="onnx.")] = "onnx",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: RUN/model.onnx).")
    ] = None,
) -> None:
    """Export the final model as one ONNX file (uint8 28x28 images in, probabilities out) and check it against PyTorch."""  # noqa: E501 (shown as written by `fmnist --help`)
    report = api.export(run_dir, format=format, output=output)
    typer.echo(f"exported: {report.path}")
    typer.echo(
        f"checked on {report.images:,} test images with onnxruntime: largest probability "
        f"difference {report.max_abs_difference:.2e}, same class {report.agreement:.2%}"
    )


@app.command()
def serve(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 opens it to your network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """A web page where you upload a photo and see what the model sees and thinks (and /api/predict for scripts)."""  # noqa: E501 (shown as written by `fmnist --help`)
    typer.echo(f"serving {run_dir} on http://{host}:{port}/  (Ctrl+C stops)")
    api.serve(run_dir, host=host, port=port)


@app.command()
def models(pattern: Annotated[str, typer.Argument(help="Glob filter, e.g. 'vgg*'.")] = "*") -> None:
    """List registered models with parameter count and MACs per image."""
    typer.echo(f"{'model':<10} {'params':>12} {'MACs/image':>14}  description")
    for m in api.models(pattern):
        typer.echo(f"{m.name:<10} {m.params:>12,} {m.macs:>14,}  {m.description}")


@app.command()
def recipes() -> None:
    """List shipped recipes: name, study, the study's reported accuracy, what it reproduces and how many runs."""  # noqa: E501 (shown as written by `fmnist --help`)
    typer.echo(f"{'recipe':<28} {'study':<5} {'reported':>8}  what it reproduces [runs]")
    for r in api.recipes():
        reported = f"{r.reported:.2f}%" if r.reported is not None else "-"
        typer.echo(f"{r.name:<28} {r.study or '-':<5} {reported:>8}  {r.description} [{r.kind()}]")


def _slurm_default(name: str) -> str:
    """'default: X' of a --slurm-* option, read from the one place it is set (SlurmJobs)."""
    return f"default: {getattr(api.SlurmJobs, name)}"


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
    points: Annotated[
        list[str] | None,
        typer.Option(
            help="Only the sweep points whose names match (shell pattern, repeatable), e.g. "
            "--points 'pool-max' --points '*rmsprop' (one that matches none lists the points)."
        ),
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
    storage: Annotated[
        str | None, typer.Option(hidden=True, help="Replaced by --cluster (fmnist 0.2).")
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            help="Make each run as a task on a Dask cluster: local, slurm (jobs submitted with "
            "the --slurm-* options), or a scheduler's address (tcp://HOST:8786, its workers "
            "started with `dask worker ADDRESS --nthreads 1`); every run folder ends up under "
            "--out."
        ),
    ] = None,
    machine: Annotated[
        str,
        typer.Option(
            help="The machine the runs train on, whose kind picks each recipe's hardware variant: "
            "here (this one), cpu-fp32, cpu-bf16, cuda or mps; with --cluster, the workers' kind."
        ),
    ] = "here",
    slurm_jobs: Annotated[
        int | None,
        typer.Option(min=1, help=f"Slurm jobs at once, one worker each; {_slurm_default('jobs')}."),
    ] = None,
    slurm_partition: Annotated[
        str | None, typer.Option(help="Slurm partition; default: the cluster's default.")
    ] = None,
    slurm_time: Annotated[
        str | None,
        typer.Option(help=f"Time limit of each job, e.g. 04:00:00; {_slurm_default('time')}."),
    ] = None,
    slurm_cores: Annotated[
        int | None,
        typer.Option(
            min=1, help=f"CPU cores of each job (torch threads); {_slurm_default('cores')}."
        ),
    ] = None,
    slurm_memory: Annotated[
        str | None, typer.Option(help=f"Memory of each job, e.g. 8GB; {_slurm_default('memory')}.")
    ] = None,
    slurm_gpus: Annotated[
        int | None,
        typer.Option(min=0, help=f"GPUs of each job (--gres=gpu:N); {_slurm_default('gpus')}."),
    ] = None,
) -> None:
    """Run recipes: one run, or whole sweeps x seeds x folds. Finished runs are skipped, interrupted ones resumed."""  # noqa: E501 (shown as written by `fmnist --help`)
    if storage is not None:  # the queue on an Optuna study that fmnist 0.1 had
        raise FmnistError(
            "fmnist run --storage was replaced by --cluster (Dask)",
            fix="start `dask scheduler` and `dask worker ADDRESS --nthreads 1` on the machines, "
            "then: fmnist run RECIPE --cluster ADDRESS (see docs/search.md)",
        )
    given = dict(
        jobs=slurm_jobs,
        partition=slurm_partition,
        time=slurm_time,
        cores=slurm_cores,
        memory=slurm_memory,
        gpus=slurm_gpus,
    )
    slurm = {name: value for name, value in given.items() if value is not None}  # others: defaults
    then = f"; then --set {', '.join(overrides)}" if overrides else ""

    def show_plan(plan: api.RecipePlan) -> None:
        if plan.quick_settings is not None:
            settings = ", ".join(f"{k}={v}" for k, v in plan.quick_settings.items())
            typer.echo(f"QUICK settings (not the study's): {settings}{then}")
        typer.echo(f"{plan.recipe.name}: {len(plan.jobs)} run(s) under {plan.root}")

    def show_job(job, status: str, done: int, total: int) -> None:
        typer.echo(f"[{done}/{total}] {status:<8} {job.path}")

    done = api.run_recipes(
        recipes,
        seeds=seeds,
        points=list(points or []),
        quick=quick,
        overrides=list(overrides or []),
        out=out,
        jobs=jobs,
        cluster=cluster,
        machine=machine,
        slurm=api.SlurmJobs(**slurm) if slurm else None,
        verbose=not quiet,
        on_plan=show_plan,
        on_job=show_job,
    )
    typer.echo(done.markdown)


@app.command()
def table(
    root: Annotated[
        Path, typer.Argument(help="Folder holding run directories (searched recursively).")
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where results.md and results.csv go (default: ROOT)."),
    ] = None,
    robustness: Annotated[
        bool,
        typer.Option(
            "--robustness", help="The robustness table of the runs measured by fmnist robustness."
        ),
    ] = False,
) -> None:
    """Results table from run directories (never trains): ours (mean ± std), the study's number, the difference."""  # noqa: E501 (shown as written by `fmnist --help`)
    if robustness:
        typer.echo(api.robustness_table(root).rstrip())
        return
    result = api.table(root, output)
    typer.echo(result.markdown)
    typer.echo("written: " + "  ".join(map(str, result.files)))


@app.command()
def compare(
    a: Annotated[Path, typer.Argument(help="A run folder, or a folder of its seeds.")],
    b: Annotated[Path, typer.Argument(help="The run (or seeds) to compare with A.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the numbers as JSON.")] = False,
) -> None:
    """Is B really better or worse than A? McNemar's exact test and bootstrap intervals on their test predictions."""  # noqa: E501 (shown as written by `fmnist --help`)
    result = api.compare(a, b)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        typer.echo("\n".join(result.lines()))


@app.command()
def explain(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory (a net's).")],
    images: Annotated[
        list[Path] | None, typer.Argument(help="Photos or .npy arrays of 28x28 uint8.")
    ] = None,
    test: Annotated[
        list[int] | None, typer.Option(help="A test image by index (repeatable); default: 0-3.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for explain.png (default RUN/explain).")
    ] = None,
) -> None:
    """Why the model says what it says: Integrated Gradients, saliency, Grad-CAM and occlusion maps."""  # noqa: E501 (shown as written by `fmnist --help`)
    result = api.explain(run_dir, images or [], test=test or [], out=out)
    for name, top, delta in result.images:
        shown = ", ".join(f"{c} {p:.1%}" for c, p in top)
        typer.echo(f"{name}: {shown}  (IG completeness gap {delta:+.2e})")
    typer.echo(f"maps: {result.figure}")


@app.command()
def robustness(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory (a net's).")],
    reference: Annotated[
        Path | None,
        typer.Option(help="A run to measure the corruption error (CE) against, e.g. a softmax's."),
    ] = None,
    images: Annotated[
        int, typer.Option(help="The first N test images only, for a quick look.")
    ] = 10_000,
) -> None:
    """Test accuracy under 14 corruptions x 5 severities (noise, blur, shear, rotation, haze...), as MNIST-C."""  # noqa: E501 (shown as written by `fmnist --help`)
    result = api.robustness(run_dir, reference=reference, images=images)
    errors = result.corruption_error or {}
    typer.echo(
        f"{'corruption':<14} " + " ".join(f"{f's{k}':>6}" for k in range(1, 6)) + "   mean     CE"
    )
    for name, accs in result.accuracy.items():
        ce = f"{errors[name]:6.3f}" if name in errors else ""
        row = " ".join(f"{100 * a:6.2f}" for a in accs)
        typer.echo(f"{name:<14} {row} {100 * sum(accs) / len(accs):6.2f} {ce}")
    mce = result.mean_corruption_error
    typer.echo(
        f"{result.images:,} test images: clean {100 * result.clean:.2f} %, "
        f"mean under corruption {100 * result.mean:.2f} %"
        + (f", mCE {mce:.3f} against {result.reference.run}" if mce is not None else "")
    )
    typer.echo(f"written: {result.run / 'robustness'}")


@app.command()
def verify(
    roots: Annotated[
        list[Path] | None,
        typer.Argument(help="Folders of runs and benchmark records (default: the committed ones)."),
    ] = None,
    pages: Annotated[
        list[Path] | None,
        typer.Option(
            "--page",
            help="A Markdown page whose quoted numbers to check (default with no folders: the "
            "READMEs and docs/).",
        ),
    ] = None,
) -> None:
    """Recount every committed run and benchmark from its kept predictions against the official test labels, and check the numbers the READMEs quote from them."""  # noqa: E501 (shown as written by `fmnist --help`)
    typer.echo("\n".join(api.verify(*(roots or []), pages=pages).lines()))


@data_app.command("verify")
def data_verify(data_dir: DataDirOption = None) -> None:
    """Check the four IDX files: size, magic number, shape, label range and SHA-256."""
    source, counts = api.verify_data(data_dir)
    typer.echo(
        f"ok: {source} holds the official Fashion-MNIST ({counts['train']:,} train, "
        f"{counts['test']:,} test images)"
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
    files = api.audit_data(out, quick=quick, folds=folds, data_dir=data_dir, echo=typer.echo)
    typer.echo(f"audit written to {out}: " + ", ".join(p.name for p in files))


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
    typer.echo(f"data explore page: {api.explore_data(out, sample=sample, data_dir=data_dir)}")


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
    typer.echo(f"report: {api.report(path, image=image, out=out)}")


@data_app.command("augment")
def data_augment(
    overrides: SetOption = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")] = Path(
        "augment.png"
    ),
    data_dir: DataDirOption = None,
) -> None:
    """See what an augmentation setting does: originals in the first column, augmented copies beside."""  # noqa: E501 (shown as written by `fmnist --help`)
    path, settings = api.augment_grid(_overrides({"data.data_dir": data_dir}, overrides), output)
    typer.echo(f"augmentation grid: {path}  ({settings})")


StorageOption = Annotated[
    str | None,
    typer.Option(
        help="Study database shared by all workers, e.g. postgresql+psycopg://USER:PW@HOST/DB "
        "(default: a SQLite file in OUT/search/STUDY)."
    ),
]


@search_app.command("run")
def search_run(
    space: Annotated[
        str, typer.Argument(help="A shipped space (see: fmnist search spaces) or a YAML file.")
    ],
    study: Annotated[str, typer.Option(help="Study name; workers with the same name cooperate.")],
    storage: StorageOption = None,
    trials: Annotated[
        int | None,
        typer.Option(help="Complete + pruned trials of the whole study (default: the space's)."),
    ] = None,
    sampler: Annotated[str, typer.Option(help="tpe, random or grid.")] = "tpe",
    pruner: Annotated[str, typer.Option(help="median, hyperband or none.")] = "median",
    out: Annotated[Path, typer.Option(help="Parent folder; trials go to OUT/search/STUDY.")] = Path(
        "runs"
    ),
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Work on a search: each trial is a run directory scored on validation only; start it on more machines to add workers."""  # noqa: E501 (shown as written by `fmnist --help`)
    result = api.search(
        space,
        study=study,
        storage=storage,
        trials=trials,
        sampler=sampler,
        pruner=pruner,
        out=out,
        verbose=not quiet,
    )
    states = ", ".join(f"{n} {state}" for state, n in result.states.items())
    typer.echo(f"study {result.study}: {states}  (trials: {result.root})")
    if result.best_value is not None:
        typer.echo(f"best validation accuracy {result.best_value:.4f}: {result.best_params}")
    typer.echo(f"test the best with: fmnist search report {result.study}")


@search_app.command("report")
def search_report(
    study: Annotated[str, typer.Argument(help="The study name.")],
    storage: StorageOption = None,
    seeds: Annotated[int, typer.Option(help="Runs of the best configuration, on test.")] = 3,
    out: Annotated[Path, typer.Option(help="The --out the search ran with.")] = Path("runs"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Retrain the best configuration with seeds (test evaluated once each) and write the report: best trials, Optuna's plots."""  # noqa: E501 (shown as written by `fmnist --help`)
    path = api.search_report(study, storage=storage, seeds=seeds, out=out, verbose=not quiet)
    typer.echo(f"search report: {path}")


@search_app.command("spaces")
def search_spaces() -> None:
    """List the shipped search spaces: name, parameters and default number of trials."""
    for space in api.search_spaces():
        typer.echo(f"{space.name:<16} {space.trials:>4} trials  {space.description}")
        typer.echo(f"{'':<16} searches {', '.join(space.params)}")


@app.callback()
def _global_options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Show the full traceback of an unexpected error (or FMNIST_DEBUG=1)."
        ),
    ] = False,
) -> None:
    if debug:
        os.environ[DEBUG_VARIABLE] = "1"


DEBUG_VARIABLE = "FMNIST_DEBUG"


def main() -> None:
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
    except Exception as exc:  # the one guard for what nobody foresaw: one line, the trace kept
        if os.environ.get(DEBUG_VARIABLE):
            raise
        typer.echo(f"error: {_crash_line(exc)}", err=True)
        sys.exit(1)


def _crash_line(exc: Exception) -> str:
    """One line for an unexpected error; its full traceback goes to a file it names."""
    import tempfile
    import traceback

    frame = traceback.extract_tb(exc.__traceback__)[-1]
    with tempfile.NamedTemporaryFile(
        "w", prefix="fmnist-crash-", suffix=".txt", delete=False
    ) as report:
        report.write(f"fmnist {' '.join(sys.argv[1:])}\n\n")
        report.write("".join(traceback.format_exception(exc)))
    message = str(exc).splitlines()[0][:200] if str(exc) else ""
    return (
        f"fmnist failed unexpectedly: {type(exc).__name__}: {message} "
        f"(at {Path(frame.filename).name}:{frame.lineno}); the full trace is in {report.name}; "
        "fix: please report it on fmnist's issue tracker with that file; --debug shows the trace "
        "here"
    )


if __name__ == "__main__":
    main()
