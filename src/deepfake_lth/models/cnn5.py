"""CNN-5: this project's reading of the paper's undocumented "5-layer CNN with BatchNorm" (0.300M).

The paper gives only the depth, BatchNorm and the parameter count, so the architecture is written
down here:

    5 x [conv 3x3 (no bias: BatchNorm follows) -> BatchNorm -> ReLU -> maxpool 2],
        channels 16, 32, 64, 96, 256
    global average pooling -> linear 256 -> 1 (one logit)

301,137 parameters at any input size: global average pooling makes the head independent of the
image size, so the same network runs on the 64 px demo and the paper's 128 px faces.
"""

from __future__ import annotations

from torch import nn

CHANNELS = (16, 32, 64, 96, 256)


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class CNN5(nn.Module):
    """Five conv blocks and a linear head over globally pooled features; one logit per image."""

    def __init__(self, image_size: int = 128):
        super().__init__()
        if image_size < 2 ** len(CHANNELS):
            raise ValueError(f"cnn5 needs images of at least {2 ** len(CHANNELS)} px, got {image_size}")
        widths = (3, *CHANNELS)
        self.features = nn.Sequential(*(_conv_block(a, b) for a, b in zip(widths, widths[1:])))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(CHANNELS[-1], 1)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))
