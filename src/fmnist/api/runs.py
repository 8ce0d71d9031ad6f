"""One run: its config resolved (``resolve_config``), trained (``fit``) or resumed, opened
(``load_run``), and its model used: ``evaluate``, ``predict``, ``explain``, ``export``, ``serve``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmnist.config import RunConfig
from fmnist.errors import ConfigError
from fmnist.models.user import register_model
from fmnist.recipes import MACHINES, Machine
from fmnist.runner import resolve
from fmnist.runs import RunDir, writable_folder
from fmnist.schema import parse_overrides, read_yaml

if TYPE_CHECKING:
    from fmnist.explain import Explained
    from fmnist.inference import Classified, Run

__all__ = [
    "resolve_config",
    "parse_overrides",
    "fit",
    "train",
    "resume",
    "load_run",
    "evaluate",
    "predict",
    "classify",
    "explain",
    "export",
    "serve",
]


ConfigLike = RunConfig | dict[str, Any] | str | Path | None
# --set style 'section.field=value' strings, or {dotted field: value} with typed values
OverridesLike = Sequence[str] | Mapping[str, Any]


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
        recipe, _as_dict(config, recipe), parse_overrides(overrides), machine=as_machine(machine)
    )


def as_machine(machine: Machine | str | None) -> Machine | None:
    """A ``machine`` argument as the ``Machine`` a run is resolved for: 'here' (this one,
    measured), a kind of ``MACHINES`` by name, or None (the recipe as written)."""
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
        machine=as_machine("here") if recipe is not None else None,
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
