"""Building blocks shared by the model families."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from fmnist.models.catalog import Activation, Pool

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "leaky_relu": lambda: nn.LeakyReLU(0.1),
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "linear": nn.Identity,  # study 003's "linear activation" CNN: no non-linearity at all
}


def make_activation(name: Activation) -> nn.Module:
    return _ACTIVATIONS[name]()


def make_pool(kind: Pool, size: int = 2) -> nn.Module:
    return {
        "max": lambda: nn.MaxPool2d(size),
        "avg": lambda: nn.AvgPool2d(size),
        "none": nn.Identity,
    }[kind]()


def conv_bn_act(
    cin: int,
    cout: int,
    kernel: int = 3,
    stride: int = 1,
    *,
    batch_norm: bool = True,
    activation: Activation = "relu",
    padding: int | None = None,
) -> nn.Sequential:
    """Conv -> (BN) -> activation; 'same' padding by default. The conv has no bias when BN
    follows."""
    pad = kernel // 2 if padding is None else padding
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, pad, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(make_activation(activation))
    return nn.Sequential(*layers)


def dense_stack(
    width_in: int,
    widths: tuple[int, ...],
    *,
    activation: Activation,
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> tuple[nn.Sequential, int]:
    """Linear -> (BN) -> activation -> (dropout) per width; returns the stack and its output
    width."""
    layers: list[nn.Module] = []
    for width in widths:
        layers.append(nn.Linear(width_in, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(make_activation(activation))
        if dropout:
            layers.append(nn.Dropout(dropout))
        width_in = width
    return nn.Sequential(*layers), width_in


class Classifier(nn.Module):
    """``features`` (image -> flat embedding) then ``head`` (embedding -> 10 logits).

    The split gives embeddings for t-SNE/TensorBoard via ``forward_features``.
    """

    def __init__(self, features: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.head = head

    def forward_features(self, x):
        return self.features(x)

    def forward_head(self, x):
        return self.head(x)

    def forward(self, x):
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    """Two 3x3 convs with a shortcut (a 1x1 conv where shape changes).

    ``preact=True`` is the pre-activation order of Wide-ResNets (BN-ReLU-conv); otherwise the
    original ResNet order (conv-BN-ReLU, ReLU after the sum).
    """

    def __init__(
        self, cin: int, cout: int, stride: int = 1, *, preact: bool = False, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.preact = preact
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cin if preact else cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.shortcut = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Conv2d(cin, cout, 1, stride, bias=False)
        )
        self.shortcut_bn = (
            nn.Identity()
            if preact or isinstance(self.shortcut, nn.Identity)
            else nn.BatchNorm2d(cout)
        )
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x):
        if self.preact:
            out = self.relu(self.bn1(x))
            skip = x if isinstance(self.shortcut, nn.Identity) else self.shortcut(out)
            out = self.conv2(self.drop(self.relu(self.bn2(self.conv1(out)))))
            return out + skip
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(self.drop(out)))
        return self.relu(out + self.shortcut_bn(self.shortcut(x)))


class PatchWhitening(nn.Module):
    """A frozen first convolution whose filters whiten the image's k x k patches (airbench's
    whitening layer): the eigenvectors of the training patches' covariance, each divided by the
    square root of its eigenvalue, and each also negated, so that a ReLU after it loses nothing.
    The net's first learned layer then sees inputs with no correlation between neighbouring
    pixels, which lets it learn in fewer epochs (airbench measured 34 -> 21 epochs to 94 % on
    CIFAR-10). ``fit`` sets the filters from training images before the first step; they are a
    buffer, saved in checkpoints and never trained. The output keeps the input's side (a 2 x 2
    kernel pads one pixel right and below)."""

    def __init__(self, kernel: int, eps: float = 5e-4) -> None:
        super().__init__()
        self.kernel, self.eps = kernel, eps
        self.register_buffer("weight", torch.zeros(2 * kernel * kernel, 1, kernel, kernel))

    @property
    def out_channels(self) -> int:
        return self.weight.shape[0]

    @torch.no_grad()
    def fit(self, images: torch.Tensor) -> None:
        """Filters from the patches of ``images`` (N, 1, H, W), normalised as the net sees them."""
        patches = F.unfold(images.float(), self.kernel).transpose(1, 2).reshape(-1, self.kernel**2)
        covariance = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
        filters = eigenvectors.T / torch.sqrt(eigenvalues[:, None] + self.eps)
        filters = filters.reshape(-1, 1, self.kernel, self.kernel)
        self.weight.copy_(torch.cat([filters, -filters]).to(self.weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        before = (self.kernel - 1) // 2  # the rest of the kernel's overhang goes after
        after = self.kernel - 1 - before
        return F.conv2d(F.pad(x, (before, after, before, after)), self.weight.to(x.dtype))


def fit_to_training_images(model: nn.Module, images: Callable[[], torch.Tensor]) -> None:
    """Set the layers of ``model`` that are made from data (``PatchWhitening``) from the
    normalised training images ``images()`` returns, asked for only if there is such a layer."""
    layers = [module for module in model.modules() if isinstance(module, PatchWhitening)]
    if layers:
        fitted_on = images()
        for layer in layers:
            layer.fit(fitted_on)
