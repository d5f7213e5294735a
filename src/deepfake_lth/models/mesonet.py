"""Meso-4 and MesoInception-4 (Afchar et al., "MesoNet: a Compact Facial Video Forgery Detection
Network", WIFS 2018), exactly as the authors' Keras models in their repository's `classifiers.py`
(DariusAf/MesoNet, classes `Meso4` and `MesoInception4`), not as the popular PyTorch port (which
shares one BatchNorm between blocks, drops the conv biases and puts BatchNorm before the ReLU).

Meso-4 (`Meso4.init_model`): each block is `Conv2D(..., padding='same', activation='relu')` →
`BatchNormalization()` → `MaxPooling2D(..., padding='same')`:

    conv 3x3, 8  (bias) -> ReLU -> BatchNorm -> maxpool 2
    conv 5x5, 8  (bias) -> ReLU -> BatchNorm -> maxpool 2
    conv 5x5, 16 (bias) -> ReLU -> BatchNorm -> maxpool 2
    conv 5x5, 16 (bias) -> ReLU -> BatchNorm -> maxpool 4
    flatten -> dropout 0.5 -> dense 16 -> LeakyReLU 0.1 -> dropout 0.5 -> dense 1 (one logit)

MesoInception-4 (`MesoInception4.init_model`) replaces the first two blocks by
`InceptionLayer(a, b, c, d)` → BatchNorm → maxpool 2, with (a, b, c, d) = (1, 4, 4, 2) then
(2, 4, 4, 2) as in the code (the paper's text says (1, 4, 4, 1) and (1, 4, 4, 2)). Its four
branches, each conv with bias and ReLU, are concatenated in this order:

    1x1 a  |  1x1 b -> 3x3 b  |  1x1 c -> 3x3 c, dilation 2  |  1x1 d -> 3x3 d, dilation 3

then two blocks conv 5x5, 16 → ReLU → BatchNorm → maxpool (2, then 4) and the Meso-4 head.

BatchNorm has Keras' defaults: epsilon 1e-3 and a moving average of momentum 0.99 (PyTorch's
`momentum=0.01`). Convolutions and pools use Keras' "same" padding (ceil_mode pools), so the
flattened size is 16 * ceil(image_size / 32) ** 2: at 128 px Meso-4 has 15,689 parameters (the
paper's 0.015M), at the authors' 256 px 27,977. The authors' inputs are RGB scaled to [0, 1] and
their last layer is a sigmoid; these models return the logit (shape [B, 1]).
"""

from __future__ import annotations

import math

import torch
from torch import nn

KERAS_BATCHNORM = {"eps": 1e-3, "momentum": 0.01}  # Keras' epsilon and momentum 0.99, in PyTorch's terms
POOLS = (2, 2, 2, 4)
FEATURE_CHANNELS = 16  # of the last block: the dense head sees 16 x side x side features


def _conv(in_channels: int, out_channels: int, kernel: int, dilation: int = 1) -> list[nn.Module]:
    """Keras' `Conv2D(out, kernel, padding='same', activation='relu')`: conv with bias, then ReLU."""
    return [nn.Conv2d(in_channels, out_channels, kernel, padding=dilation * (kernel // 2), dilation=dilation),
            nn.ReLU(inplace=True)]


def _block(layer: list[nn.Module] | nn.Module, channels: int, pool: int) -> nn.Sequential:
    """A layer, then `BatchNormalization()` and `MaxPooling2D(pool, padding='same')`."""
    layers = layer if isinstance(layer, list) else [layer]
    return nn.Sequential(*layers, nn.BatchNorm2d(channels, **KERAS_BATCHNORM), nn.MaxPool2d(pool, ceil_mode=True))


def flattened_features(image_size: int) -> int:
    """Features entering the dense layers: 16 channels at the size left after pools 2, 2, 2, 4."""
    side = image_size
    for pool in POOLS:
        side = math.ceil(side / pool)
    return FEATURE_CHANNELS * side * side


def _head(image_size: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(flattened_features(image_size), 16),
        nn.LeakyReLU(0.1),
        nn.Dropout(0.5),
        nn.Linear(16, 1),
    )


class MesoNet(nn.Module):
    """Meso-4 for square RGB faces of side `image_size`; returns one logit per image, shape [B, 1]."""

    def __init__(self, image_size: int = 256):
        super().__init__()
        self.features = nn.Sequential(
            _block(_conv(3, 8, 3), 8, 2),
            _block(_conv(8, 8, 5), 8, 2),
            _block(_conv(8, 16, 5), 16, 2),
            _block(_conv(16, 16, 5), 16, 4),
        )
        self.classifier = _head(image_size)

    def forward(self, x):
        return self.classifier(self.features(x))


class InceptionLayer(nn.Module):
    """The authors' `InceptionLayer(a, b, c, d)`: four branches, concatenated along channels (a+b+c+d)."""

    def __init__(self, in_channels: int, a: int, b: int, c: int, d: int):
        super().__init__()
        self.branch1 = nn.Sequential(*_conv(in_channels, a, 1))
        self.branch2 = nn.Sequential(*_conv(in_channels, b, 1), *_conv(b, b, 3))
        self.branch3 = nn.Sequential(*_conv(in_channels, c, 1), *_conv(c, c, 3, dilation=2))
        self.branch4 = nn.Sequential(*_conv(in_channels, d, 1), *_conv(d, d, 3, dilation=3))
        self.out_channels = a + b + c + d

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class MesoInception(nn.Module):
    """MesoInception-4 for square RGB faces of side `image_size`; one logit per image, shape [B, 1]."""

    def __init__(self, image_size: int = 256):
        super().__init__()
        first, second = InceptionLayer(3, 1, 4, 4, 2), InceptionLayer(11, 2, 4, 4, 2)
        self.features = nn.Sequential(
            _block(first, first.out_channels, 2),
            _block(second, second.out_channels, 2),
            _block(_conv(second.out_channels, 16, 5), 16, 2),
            _block(_conv(16, 16, 5), 16, 4),
        )
        self.classifier = _head(image_size)

    def forward(self, x):
        return self.classifier(self.features(x))
