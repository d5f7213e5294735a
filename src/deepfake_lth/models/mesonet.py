"""Meso-4 (Afchar et al., "MesoNet: a Compact Facial Video Forgery Detection Network", WIFS 2018).

A faithful port of the authors' Keras model, not of the popular PyTorch port (which shares one
BatchNorm between blocks and drops the conv biases):

    conv 3x3, 8  (bias) -> BatchNorm -> ReLU -> maxpool 2
    conv 5x5, 8  (bias) -> BatchNorm -> ReLU -> maxpool 2
    conv 5x5, 16 (bias) -> BatchNorm -> ReLU -> maxpool 2
    conv 5x5, 16 (bias) -> BatchNorm -> ReLU -> maxpool 4
    flatten -> dropout 0.5 -> dense 16 -> LeakyReLU 0.1 -> dropout 0.5 -> dense 1 (one logit)

Convolutions and pools use Keras' "same" padding (ceil_mode pools), so the flattened size is
16 * ceil(image_size / 32) ** 2: 256 at 128 px (15,689 parameters, the paper's 0.015M) and
1,024 at the authors' 256 px (27,977 parameters).
"""

from __future__ import annotations

import math

from torch import nn


def _conv_block(in_channels: int, out_channels: int, kernel: int, pool: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=True),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(pool, ceil_mode=True),
    )


def flattened_features(image_size: int) -> int:
    """Features entering the dense layers: 16 channels at the size left after pools 2, 2, 2, 4."""
    side = image_size
    for pool in (2, 2, 2, 4):
        side = math.ceil(side / pool)
    return 16 * side * side


class MesoNet(nn.Module):
    """Meso-4 for square RGB faces of side `image_size`; returns one logit per image, shape [B, 1]."""

    def __init__(self, image_size: int = 256):
        super().__init__()
        self.features = nn.Sequential(
            _conv_block(3, 8, 3, 2),
            _conv_block(8, 8, 5, 2),
            _conv_block(8, 16, 5, 2),
            _conv_block(16, 16, 5, 4),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(flattened_features(image_size), 16),
            nn.LeakyReLU(0.1),
            nn.Dropout(0.5),
            nn.Linear(16, 1),
        )

    def forward(self, x):
        return self.classifier(self.features(x))
