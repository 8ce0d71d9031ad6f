"""Which fmnist modules one command passes through: every module in which a function runs while
the command works, in the order they are first entered. What runs while a module is imported (its
body, a decorator it applies) is not counted: that is loading code, not making the run.

    python benchmarks/modules_of_a_run.py                   # fmnist train --recipe fast --quick
    python benchmarks/modules_of_a_run.py -- run s000_softmax --quick

The run trains in a temporary folder on 1,000 images for one epoch: the path through the code is
the same as a full run's. Issue 42 counted the modules of `fmnist train --recipe fast` with it:
33 at 7a2226b, 20 since 2b26d95; today's 20, in the order entered: cli, schema, api.runs,
training.hardware, recipes, runner.resolve, config, models.catalog, models.fast, runs,
training.progress, runner.make, models.layers, data.loader, data.sources, training.trainer,
training.optim, training.record, metrics, inference.
"""

from __future__ import annotations

import sys
import tempfile
import threading

DEFAULT = ["train", "--recipe", "fast", "--quick", "-q"]
SMALL = ["--set", "data.train_subset=1000", "--set", "train.epochs=1"]


def _importing(frame) -> bool:
    """Whether ``frame`` runs inside a module's import (a module body other than this script's
    is on the stack)."""
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") != "__main__":
            return True
        frame = frame.f_back
    return False


def main() -> None:
    args = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else DEFAULT + SMALL
    entered: dict[str, None] = {}

    def profile(frame, event, arg):
        if event != "call":
            return
        name = frame.f_globals.get("__name__", "")
        if not (name == "fmnist" or name.startswith("fmnist.")) or _importing(frame):
            return
        entered.setdefault(name, None)

    from fmnist.cli import main as fmnist_main

    with tempfile.TemporaryDirectory() as out:
        sys.argv = ["fmnist", *args, "--out", out]
        sys.setprofile(profile)
        threading.setprofile(profile)
        try:
            fmnist_main()
        except SystemExit:
            pass
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
    print(f"{len(entered)} modules: fmnist {' '.join(args)}")
    for name in entered:
        print(f"  {name}")


if __name__ == "__main__":
    main()
