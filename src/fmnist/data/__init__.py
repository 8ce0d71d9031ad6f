"""Data: verified IDX files, stratified splits, device-resident batches and batched augmentation.

``load_arrays()`` gives the four verified numpy arrays; ``FashionMNIST(split)`` a
``torch.utils.data.Dataset`` of one split for a loop of your own; ``DeviceSplits`` the three
splits as tensors on the training device, as fmnist's trainer takes them.
"""

from fmnist.data.dataset import FashionMNIST
from fmnist.data.loader import CLASS_NAMES, SPLITS, DeviceSplits
from fmnist.data.sources import load_arrays

__all__ = [
    "CLASS_NAMES",
    "SPLITS",
    "DeviceSplits",
    "FashionMNIST",
    "load_arrays",
    "load_dataset",
]


def load_dataset(cfg=None, device="cpu") -> DeviceSplits:
    """The data set as ``DeviceSplits`` for a ``DataConfig`` (default: 5,000 held out for
    validation)."""
    from fmnist.config import DataConfig

    return DeviceSplits(cfg or DataConfig(), device)
