"""Multiply-accumulates of one image through a network's convolutions and linear layers, as dense layers
compute them and counting only the non-zero weights (what a sparse kernel would multiply).

A convolution costs, per output position, one MAC per weight of its output channel's filter (its
in_channels / groups x kernel); a linear layer one MAC per weight. Biases, BatchNorm, activations and
pooling are not counted (Blalock et al. 2020 count the same layers; they are a small share).
"""

from __future__ import annotations

import torch
from torch import nn


def count_macs(net: nn.Module, image_size: int) -> tuple[int, int]:
    """(dense MACs, effective MACs) of one square RGB image of side `image_size` through `net`."""
    totals = [0, 0]

    def count(module: nn.Module, inputs, output) -> None:
        weight = module.weight
        positions = output[0].numel() // output.shape[1]  # an image's output positions per channel (or unit)
        totals[0] += positions * weight.numel()
        totals[1] += positions * int(torch.count_nonzero(weight))

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        was_training = net.training
        net.eval()
        with torch.no_grad():
            device = next(net.parameters()).device
            net(torch.zeros(1, 3, image_size, image_size, device=device))
        net.train(was_training)
    finally:
        for hook in hooks:
            hook.remove()
    return totals[0], totals[1]
