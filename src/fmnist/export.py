"""A trained model as one ONNX file that apps can run without fmnist or PyTorch.

The graph takes (N, 28, 28) uint8 images (light object on black, as ``fmnist.data.photos``
prepares them) and returns (N, 10) probabilities: normalisation and flip-TTA (when the run used
it) are inside, the batch size is free, and the metadata holds the class names, the normalisation
and the run's config. The export is checked against PyTorch with onnxruntime on real test images.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fmnist.data.loader import tta_views
from fmnist.errors import ConfigError
from fmnist.inference import Predictor

PARITY_IMAGES = 1000  # test images the ONNX graph is checked on


class Deployed(nn.Module):
    """uint8 images -> probabilities, with everything a run does before and after its model
    (normalisation, test-time augmentation, temperature scaling)."""

    def __init__(self, predictor: Predictor) -> None:
        super().__init__()
        self.model = predictor.module.float().to("cpu").to(memory_format=torch.contiguous_format)
        self.mean, self.std = predictor.mean, predictor.std
        self.tta = predictor.config.train.tta_flip, predictor.config.train.tta_shift
        self.temperature = predictor.temperature

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = ((images.float() / 255 - self.mean) / self.std).unsqueeze(1)
        logits = torch.stack([self.model(view) for view in tta_views(x, *self.tta)]).mean(0)
        return torch.softmax(logits / self.temperature, dim=1)


@dataclass
class ExportReport:
    path: Path
    images: int
    max_abs_difference: float
    agreement: float


def export_onnx(predictor: Predictor, path: Path, test_images: np.ndarray) -> ExportReport:
    """Write ``path`` and check it: the largest probability difference and the share of equal
    predicted classes between onnxruntime and PyTorch (fp32) on ``test_images``."""
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise ConfigError(
            f"fmnist export needs the export extra ({exc})", fix="pip install 'fmnist[export]'"
        ) from None
    deployed = Deployed(predictor).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.from_numpy(test_images[:2].astype(np.uint8))
    batch = torch.export.Dim("batch", min=1)
    # The exporter narrates its steps on stdout and warns about torchvision ops no model uses.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        torch.onnx.export(
            deployed,
            (example,),
            str(path),
            input_names=["images"],
            output_names=["probabilities"],
            dynamic_shapes={"images": {0: batch}},
            dynamo=True,
            verbose=False,
        )
    _add_metadata(onnx, path, predictor)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = test_images[:PARITY_IMAGES].astype(np.uint8)
    ours = session.run(None, {"images": images})[0]
    with torch.no_grad():
        reference = deployed(torch.from_numpy(images)).numpy()
    return ExportReport(
        path,
        len(images),
        float(np.abs(ours - reference).max()),
        float(np.mean(ours.argmax(1) == reference.argmax(1))),
    )


def _add_metadata(onnx, path: Path, predictor: Predictor) -> None:
    model = onnx.load(str(path))
    entries = {
        "class_names": json.dumps(list(predictor.class_names)),
        "input": "uint8 (N, 28, 28), light object on black (fmnist.data.photos prepares photos)",
        "output": "probabilities (N, 10), in class_names order",
        "temperature": json.dumps(predictor.temperature),
        "normalisation": json.dumps({"mean": predictor.mean, "std": predictor.std}),
        "fmnist_config": json.dumps(predictor.config.to_dict()),
    }
    for key, value in entries.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
