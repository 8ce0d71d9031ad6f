"""Data: verified IDX files, stratified splits, device-resident batches and batched augmentation."""

from fmnist.data.loader import CLASS_NAMES, SPLITS, FashionMNIST
from fmnist.data.sources import load_arrays

__all__ = ["CLASS_NAMES", "SPLITS", "FashionMNIST", "load_arrays", "load_dataset"]


def load_dataset(cfg=None, device="cpu") -> FashionMNIST:
    """The data set as ``FashionMNIST`` for a ``DataConfig`` (default: 5,000 held out for
    validation)."""
    from fmnist.config import DataConfig

    return FashionMNIST(cfg or DataConfig(), device)
