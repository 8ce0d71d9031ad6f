"""One fmnist run's test accuracy after every epoch, for `benchmarks/frontier.py`'s time to
accuracy only: printed in the peer's own line format, so both curves are read the same way.

    python benchmarks/test_curve.py EPOCHS SEED RECIPE [KEEP]

(EPOCHS and SEED come first, as the peer takes them.) KEEP: a folder the finished run's
summary.json and test_predictions.txt are copied to, for the record that quotes its result.

fmnist evaluates the test set once per run, after training; these evaluations in the middle of a
run are made for this benchmark alone and choose nothing (the run, its schedule and its final
model are exactly those of `fmnist train --recipe RECIPE`). After each epoch's checkpoint the
model is loaded from it and scored on the test set as the run would score it (the precision it
trains in, its TTA views). `elapsed` counts from this process's start, imports included, and
leaves out the time spent on these evaluations: the run's own time to reach that epoch. EPOCHS 0
keeps the recipe's.
"""

import time

START = time.perf_counter()  # before the imports: the peer's time includes its imports too

import shutil  # noqa: E402 (after START)
import sys  # noqa: E402
import tempfile  # noqa: E402

import torch  # noqa: E402

from fmnist.data import DeviceSplits  # noqa: E402
from fmnist.models import create_model  # noqa: E402
from fmnist.recipes import Machine  # noqa: E402
from fmnist.runner.make import make_run  # noqa: E402
from fmnist.runner.resolve import single_run_spec  # noqa: E402
from fmnist.runs import RunDir  # noqa: E402
from fmnist.training.hardware import this_machine  # noqa: E402
from fmnist.training.record import scores, split_logits  # noqa: E402
from fmnist.training.trainer import load_checkpoint  # noqa: E402


def main() -> None:
    epochs, seed, recipe = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    overrides = {"seed": seed, "train.device": "cpu"} | ({"train.epochs": epochs} if epochs else {})
    machine: Machine = this_machine()
    with tempfile.TemporaryDirectory() as out:
        spec = single_run_spec(recipe, overrides=overrides, out=out, machine=machine)
        cfg = spec.config
        data = DeviceSplits(cfg.data, torch.device("cpu"))
        evaluating = 0.0  # seconds spent here, left out of the run's time

        def test_accuracy(row: dict) -> None:
            nonlocal evaluating
            began = time.perf_counter()
            run = RunDir(spec.path)
            precision = run.read_env()["precision"]  # the one the run chose and trains in
            state = load_checkpoint(run.last_ckpt)
            model = create_model(cfg.model.name, **cfg.model.options)
            if state["ema"] is not None:  # the run's eval model is its EMA's copy
                state = {"model": {k.removeprefix("module."): v for k, v in state["ema"].items()}}
                state["model"].pop("n_averaged", None)
            model.load_state_dict(state["model"])
            logits = split_logits(model, data, "test", cfg.train, precision)
            accuracy = scores(logits, data.labels["test"])["accuracy"]
            elapsed = began - START - evaluating
            print(f"epoch {row['epoch']} elapsed {elapsed:.2f} test_accuracy {accuracy:.4f}")
            sys.stdout.flush()
            evaluating += time.perf_counter() - began

        make_run(spec, verbose=False, on_epoch=test_accuracy)
        if len(sys.argv) > 4:
            for name in ("summary.json", "test_predictions.txt"):
                shutil.copy(spec.path / name, sys.argv[4])


if __name__ == "__main__":
    main()
