"""A CNN written as a short layer string, for the studies' hand-made nets that no family covers.

    create_model("spec_cnn", spec="c8k3,c16k5,m,c16k3,c32k14,m,c32k3,c32k7v", dense=(84,))  # 004

Tokens, comma separated, applied in order to a 1x28x28 image:
    c<F>k<K>[s<S>][v]   conv with F filters, KxK kernel, stride S (default 1); TensorFlow
                        'SAME' padding (output = ceil(input / S), asymmetric where needed), or
                        'VALID' with v
    m / a               2x2 max / average pooling

Torch is imported inside the builder: the catalogue imports this module without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field, field_validator

from fmnist.models.catalog import Activation, DenseWidths, ModelOptions, Probability, register
from fmnist.models.geometry import SpecLayer, parse_spec, same_padding

if TYPE_CHECKING:
    from torch import nn


class SpecCnnOptions(ModelOptions):
    """CNN from a layer string (c<F>k<K>[s<S>][v], m, a): the studies' one-off nets, e.g. strided convs."""  # noqa: E501 (first line = `fmnist models` description)

    spec: Annotated[str, Field(max_length=2000)] = "c32k3,m,c64k3,m"
    dense: DenseWidths = (128,)
    activation: Activation = "relu"
    batch_norm: bool = False
    conv_dropout: Probability = 0.0
    dropout: Probability = 0.0

    @field_validator("spec")
    @classmethod
    def _fits_28x28(cls, spec: str) -> str:
        parse_spec(spec)
        return spec


def _conv(cin: int, layer: SpecLayer, o: SpecCnnOptions) -> list[nn.Module]:
    """The modules of one conv token (its fit was checked when the options were validated)."""
    from torch import nn

    from fmnist.models.layers import make_activation

    left, right = (0, 0) if layer.valid else same_padding(layer.side_in, layer.kernel, layer.stride)
    layers: list[nn.Module] = [nn.ZeroPad2d((left, right, left, right))] if left or right else []
    layers.append(nn.Conv2d(cin, layer.filters, layer.kernel, layer.stride, bias=not o.batch_norm))
    layers += [nn.BatchNorm2d(layer.filters)] if o.batch_norm else []
    layers.append(make_activation(o.activation))
    layers += [nn.Dropout2d(o.conv_dropout)] if o.conv_dropout else []
    return layers


@register("spec_cnn", SpecCnnOptions)
def spec_cnn(o: SpecCnnOptions) -> nn.Module:
    from torch import nn

    from fmnist.models.layers import Classifier, dense_stack

    layers: list[nn.Module] = []
    cin, side = 1, 28
    for layer in parse_spec(o.spec):
        if layer.kind == "c":
            layers += _conv(cin, layer, o)
            cin = layer.filters
        else:
            layers.append(nn.MaxPool2d(2) if layer.kind == "m" else nn.AvgPool2d(2))
        side = layer.side_out
    features = nn.Sequential(*layers, nn.Flatten())
    stack, width = dense_stack(
        cin * side * side, tuple(o.dense), activation=o.activation, dropout=o.dropout
    )
    return Classifier(nn.Sequential(features, stack), nn.Linear(width, 10))
