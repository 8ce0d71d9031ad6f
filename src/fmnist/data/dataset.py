"""Fashion-MNIST as a ``torch.utils.data.Dataset``, for a training loop of your own.

fmnist trains from whole tensors on the device (``DeviceSplits``); a loop written the usual way
(``DataLoader``, per-image transforms) takes this view instead. It reads the same verified files
and makes the same splits as fmnist's runs, so a model trained with it is validated and tested on
exactly the images an fmnist run is:

    >>> from torch.utils.data import DataLoader
    >>> from fmnist.data import FashionMNIST
    >>> train = FashionMNIST("train")                  # 55,000 images; "val": the 5,000 held out
    >>> image, label = train[0]                        # (1, 28, 28) float in [0, 1], int
    >>> loader = DataLoader(train, batch_size=128, shuffle=True)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from fmnist.config import build_config
from fmnist.data.loader import CLASS_NAMES, SPLITS, split_arrays
from fmnist.errors import ConfigError


class FashionMNIST(Dataset):
    """One split as (image, label) pairs: the image a (1, 28, 28) float tensor in [0, 1] (or what
    ``transform`` makes of it), the label an int 0-9 (``classes[label]`` names it).

    Args:
        split: 'train', 'val' (held out of training for model choice) or 'test'.
        transform: applied to each image tensor, e.g. a normalisation or an augmentation.
        target_transform: applied to each label.
        **data: the ``data`` section of an fmnist config (``data_dir``, ``val_size``,
            ``split_seed``, ``folds`` and ``fold``, ``train_subset``); its defaults are the
            split of fmnist's runs: 5,000 stratified validation images, split seed 0.
    """

    classes = CLASS_NAMES

    def __init__(
        self,
        split: str = "train",
        *,
        transform: Callable[[torch.Tensor], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        **data: Any,
    ) -> None:
        if split not in SPLITS:
            raise ConfigError(
                f"unknown split {split!r}", allowed=", ".join(SPLITS), fix="FashionMNIST('train')"
            )
        images, labels, _, source = split_arrays(build_config({"data": data}).data)
        self.split, self.source = split, Path(source)
        self.images: np.ndarray = images[split]  # (N, 28, 28) uint8, read-only
        self.targets: np.ndarray = labels[split]
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = torch.from_numpy(self.images[index].astype(np.float32) / 255).unsqueeze(0)
        label = int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def __repr__(self) -> str:
        return f"FashionMNIST(split={self.split!r}, images={len(self):,}, source={self.source})"
