"""Why the network says what it says: attribution maps of 28x28 images, by captum.

For one image and the class a model predicts for it, each map gives every pixel a share in that
prediction (the class's logit):

- **Integrated Gradients** (Sundararajan et al. 2017) sums the gradients along the straight path
  from a baseline image to the input; its attributions add up to f(input) - f(baseline), which
  captum checks (the convergence delta). The baseline is **black**, every pixel 0: in
  Fashion-MNIST the background around a garment is exactly black, so black is the image with
  nothing in it, and a map says what the garment's pixels add to "nothing". (The training mean
  is a ghost of every garment at once, which hides the shape a class is told by; a blurred copy
  keeps the silhouette and so explains only texture.)
- **Saliency** (Simonyan et al. 2014): the gradient's magnitude, how sensitive the logit is to each
  pixel. Any model: softmax regression and MLPs included.
- **Grad-CAM** (Selvaraju et al. 2017) on the last convolution: its feature maps weighted by their
  mean gradient, positive part, upsampled to 28x28. Only for models with a convolution.
- **Occlusion** (Zeiler & Fergus 2014): how much the logit drops when a 4x4 black patch hides
  each place (stride 2), the direct test of "does it look there".

Maps explain the network's own logits in fp32, without flip-TTA (Grad-CAM needs one pass through
its layer); the top-3 classes shown beside them are the run's predictions as ``predict`` makes
them (TTA and temperature included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from fmnist.errors import ConfigError

if TYPE_CHECKING:
    from fmnist.inference import Run

METHODS = ("integrated_gradients", "saliency", "grad_cam", "occlusion")
IG_STEPS = 64
OCCLUSION_PATCH, OCCLUSION_STRIDE = 4, 2


@dataclass
class Explanation:
    """The maps of one image for the class ``target`` (each 28x28; None where a method does not
    apply), and IG's convergence delta."""

    target: int
    maps: dict[str, np.ndarray | None]
    ig_delta: float


def _captum():
    try:
        import captum.attr as attr
    except ImportError:
        raise ConfigError(
            "fmnist explain needs captum, the PyTorch project's interpretability library",
            fix="pip install 'fmnist[explain]'",
        ) from None
    return attr


def last_convolution(model: nn.Module) -> nn.Conv2d | None:
    """The last Conv2d in module order: Grad-CAM's layer (None: an MLP or softmax regression)."""
    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return convolutions[-1] if convolutions else None


def explain(
    model: nn.Module, x: torch.Tensor, targets: list[int], *, black: float
) -> list[Explanation]:
    """Maps of normalised images ``x`` (N, 1, 28, 28) for their ``targets``, the model in eval mode
    and fp32. ``black``: a black pixel after normalisation, IG's baseline and occlusion's patch."""
    attr = _captum()
    model = model.float().eval()
    x = x.float().contiguous().requires_grad_()  # captum warns and sets it otherwise
    target = torch.as_tensor(targets, device=x.device)
    ig, delta = integrated_gradients(model, x, target, black=black)
    maps = {
        "integrated_gradients": ig,
        "saliency": attr.Saliency(model).attribute(x, target=target, abs=True),
        "occlusion": attr.Occlusion(model).attribute(
            x,
            target=target,
            sliding_window_shapes=(1, OCCLUSION_PATCH, OCCLUSION_PATCH),
            strides=(1, OCCLUSION_STRIDE, OCCLUSION_STRIDE),
            baselines=black,
        ),
    }
    layer = last_convolution(model)
    if layer is not None:
        cam = attr.LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True)
        maps["grad_cam"] = attr.LayerAttribution.interpolate(cam, x.shape[-2:], "bilinear")
    arrays = {name: m.detach()[:, 0].cpu().numpy() for name, m in maps.items()}
    return [
        Explanation(
            int(targets[i]),
            {name: arrays[name][i] if name in arrays else None for name in METHODS},
            float(delta[i]),
        )
        for i in range(len(x))
    ]


def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    *,
    black: float,
    steps: int = IG_STEPS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """IG maps (N, 1, 28, 28) of normalised images ``x`` (fp32, requiring grad) for ``target``
    (N class indices), from the black image, and captum's convergence delta of each."""
    method = _captum().IntegratedGradients(model)
    baseline = torch.full_like(x, black)
    return method.attribute(
        x, baselines=baseline, target=target, n_steps=steps, return_convergence_delta=True
    )


def top_class_map(predictor, image: np.ndarray, target: int, *, steps: int) -> np.ndarray:
    """The Integrated Gradients map (28, 28) of one (28, 28) uint8 ``image`` for class
    ``target`` in ``steps`` steps: the one map ``fmnist serve`` shows. The predictor's model is
    used as it is (fp32 weights, eval mode, never changed here), so threads may share it."""
    x = predictor.inputs(image[None]).float().contiguous().requires_grad_()
    target_tensor = torch.tensor([target], device=x.device)
    black = _black(predictor)
    ig, _ = integrated_gradients(predictor.module, x, target_tensor, black=black, steps=steps)
    return ig.detach()[0, 0].cpu().numpy()


def _black(predictor) -> float:
    """A black pixel after the run's normalisation."""
    return (0.0 - predictor.mean) / predictor.std


def explain_images(predictor, pixels: np.ndarray) -> tuple[np.ndarray, list[Explanation]]:
    """The run's probabilities for (N, 28, 28) uint8 ``pixels`` and the maps of each for its
    predicted class (``predictor``: fmnist.inference.Predictor)."""
    probabilities = predictor.predict(pixels)
    x = predictor.inputs(pixels)
    return probabilities, explain(
        predictor.module, x, probabilities.argmax(1).tolist(), black=_black(predictor)
    )


@dataclass
class Explained:
    """What ``explain_files`` drew: each image's name, top 3 and IG's convergence delta, and the
    PNG."""

    figure: Path
    images: list[tuple[str, list[tuple[str, float]], float]]


def explain_files(
    run: Run,
    images: Sequence[str | Path] = (),
    *,
    test: Sequence[int] = (),
    out: str | Path | None = None,
) -> Explained:
    """Attribution maps of photos or .npy arrays (prepared as ``predict`` prepares them) and of
    test images by index (default: the first four), each for the class ``run`` predicts; drawn in
    OUT/explain.png (default RUN/explain/)."""
    from fmnist.data.images import read_images
    from fmnist.data.sources import load_arrays
    from fmnist.viz.explain import attribution_grid
    from fmnist.viz.plot import save

    predictor = run.predictor
    test_images, test_labels = (
        load_arrays(run.config.data.data_dir)[0][k] for k in ("test_images", "test_labels")
    )
    bad = [k for k in test if not 0 <= k < len(test_images)]
    if bad:
        raise ConfigError(
            "--test is not a test image index",
            allowed=f"0 to {len(test_images) - 1}",
            got=bad[0],
            fix="--test 0",
        )
    read = read_images(list(images))
    unreadable = next((item for item in read if item.error), None)
    if unreadable:
        raise ConfigError(unreadable.error)  # names the file, what is allowed and the fix
    indices = list(test) if test or images else [0, 1, 2, 3]
    names = [item.name for item in read] + [
        f"test image {k} ({predictor.class_names[test_labels[k]]})" for k in indices
    ]
    pixels = np.stack([item.pixels for item in read] + [test_images[k] for k in indices])
    probabilities, explanations = explain_images(predictor, pixels)
    tops = [
        [(predictor.class_names[c], float(p[c])) for c in p.argsort()[::-1][:3]]
        for p in probabilities
    ]
    captions = [(name, "\n".join(f"{c} {p:.1%}" for c, p in top)) for name, top in zip(names, tops)]
    where = Path(out) if out else run.path / "explain"
    figure = save(
        attribution_grid(pixels, captions, [e.maps for e in explanations]), where / "explain.png"
    )
    return Explained(figure, [(n, t, e.ig_delta) for n, t, e in zip(names, tops, explanations)])
