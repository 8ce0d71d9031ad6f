"""fmnist: train, compare and understand neural networks on Fashion-MNIST.

The public API (``fmnist.fit``, ``fmnist.load_run``, ``fmnist.create_model`` ...) is imported
lazily so ``import fmnist`` and ``fmnist --help`` stay fast; torch loads on first use.
"""

from importlib import import_module

__version__ = "0.1.0"

_LAZY = {
    "fit": "fmnist.api",
    "train": "fmnist.api",
    "predict": "fmnist.api",
    "resume": "fmnist.api",
    "load_run": "fmnist.api",
    "resolve_config": "fmnist.api",
    "run_recipes": "fmnist.api",
    "evaluate": "fmnist.api",
    "table": "fmnist.api",
    "compare": "fmnist.api",
    "robustness": "fmnist.api",
    "load": "fmnist.inference",
    "Predictor": "fmnist.inference",
    "Run": "fmnist.inference",
    "RunConfig": "fmnist.config",
    "load_config": "fmnist.config",
    "create_model": "fmnist.models",
    "list_models": "fmnist.models",
    "register_model": "fmnist.models",
    "load_dataset": "fmnist.data",
    "CLASS_NAMES": "fmnist.data",
    "load_arrays": "fmnist.data",
    "FashionMNIST": "fmnist.data",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fmnist' has no attribute {name!r}")
