"""Structured pruning: whole output channels by L1 norm (Li et al., ICLR 2017), grouped as Torch-Pruning's
dependency graph couples them (Fang et al., CVPR 2023), and the physically smaller network they leave.

A channel group is every tensor slice that stands or falls with one channel: the rows of the conv or
linear weights that produce it (several where a residual addition joins them, as in ResNet-18's stages),
their biases and the BatchNorm that follows. A channel ticket's mask is the study's usual weight mask
(mask.pt), with whole producer rows False; its companions (biases, BatchNorm γ and β of a removed channel)
are held at zero through training (`companion_mask`), so a removed channel emits exactly zero and the
shrunk network (`shrink`) computes what the masked one does. Removing a channel also removes the next
layer's input weights: the mask counts the first, the shrunk network both (its effective sparsity).

Each group keeps at least one channel. A level prunes each group to round(sparsity x channels) removed
channels, the ones whose producer rows have the smallest summed L1 norm among those still kept (ties:
the earlier channel), so that its weight sparsity is the level's within a channel's rounding.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from deepfake_lth.errors import ConfigError
from deepfake_lth.models.masking import Mask
from deepfake_lth.models.registry import NAME_ATTRIBUTE, output_layer_name

PRODUCERS = (nn.Conv2d, nn.Linear)  # layers whose weight rows make a channel
NORMS = (nn.BatchNorm2d, nn.BatchNorm1d)


@dataclass(frozen=True)
class ChannelGroup:
    """One group of coupled channels: for each channel position i, the row idxs[i] of each producer's weight
    (and bias), and the entry idxs[i] of each companion (BatchNorm γ and β)."""

    channels: int
    producers: tuple[tuple[str, tuple[int, ...]], ...]  # (module name, its channel indices)
    norms: tuple[tuple[str, tuple[int, ...]], ...]  # (BatchNorm module name, its channel indices)

    def removed(self, mask: Mask) -> list[int]:
        """Channel positions whose producer rows the mask prunes entirely."""
        dead = torch.ones(self.channels, dtype=torch.bool)
        for module, idxs in self.producers:
            rows = mask[f"{module}.weight"][list(idxs)].reshape(self.channels, -1)
            dead &= ~rows.any(dim=1)
        return torch.nonzero(dead).flatten().tolist()


def _dependency_graph(net: nn.Module, image_size: int):
    import torch_pruning as tp  # imported here: the registry and stage table stay torch-pruning-free

    example = torch.zeros(1, 3, image_size, image_size, device=next(net.parameters()).device)
    return tp.DependencyGraph().build_dependency(net, example_inputs=example)


def channel_groups(net: nn.Module, image_size: int, prunable: list[str]) -> list[ChannelGroup]:
    """The channel groups of `net` whose producers' weights are all `prunable` (the output layer's outputs
    are never a group). Traced on a copy in eval mode: the network itself is not touched."""
    traced = copy.deepcopy(net).eval()
    graph = _dependency_graph(traced, image_size)
    names = {module: name for name, module in traced.named_modules()}
    output = dict(traced.named_modules())[output_layer_name(traced)]
    groups = []
    for group in graph.get_all_groups(ignored_layers=[output], root_module_types=list(PRODUCERS)):
        producers, norms, channels = [], [], None
        for item in group.items:
            module = item.dep.target.module
            if not graph.is_out_channel_pruning_fn(item.dep.handler) or not isinstance(module, (*PRODUCERS, *NORMS)):
                continue
            channels = len(item.idxs) if channels is None else channels
            if len(item.idxs) != channels:
                raise ConfigError(f"{names[module]}: a channel maps to several of its outputs; channel pruning "
                                  "supports one-to-one couplings only")
            (producers if isinstance(module, PRODUCERS) else norms).append((names[module], tuple(item.idxs)))
        if producers and all(f"{name}.weight" in prunable for name, _ in producers):
            groups.append(ChannelGroup(channels, tuple(producers), tuple(norms)))
    return groups


def _importance(group: ChannelGroup, weights: dict) -> torch.Tensor:
    """Summed L1 norm of each channel's producer rows (float64)."""
    total = torch.zeros(group.channels, dtype=torch.float64)
    for module, idxs in group.producers:
        rows = weights[f"{module}.weight"].detach().cpu().double()[list(idxs)]
        total += rows.abs().reshape(group.channels, -1).sum(dim=1)
    return total


def prune_channels(groups: list[ChannelGroup], weights: dict, mask: Mask, sparsity: float) -> Mask:
    """The mask that removes, in each group, round(sparsity x channels) channels (at least one kept): every
    channel `mask` already removes, then the kept ones of least L1 norm in `weights`."""
    out = {name: keep.clone() for name, keep in mask.items()}
    for group in groups:
        removed = group.removed(mask)
        target = min(group.channels - 1, max(len(removed), round(sparsity * group.channels)))
        score = _importance(group, weights)
        kept = [c for c in range(group.channels) if c not in set(removed)]
        ranked = sorted(kept, key=lambda c: (score[c].item(), c))  # least important first, earlier on ties
        for channel in [*removed, *ranked[: target - len(removed)]]:
            for module, idxs in group.producers:
                out[f"{module}.weight"][idxs[channel]] = False
    return out


def companion_mask(net: nn.Module, groups: list[ChannelGroup], mask: Mask) -> Mask:
    """False at the bias and BatchNorm γ, β entries of every channel `mask` removes, True elsewhere: the
    tensors a removed channel needs at zero to emit zero."""
    params = dict(net.named_parameters())
    companions: Mask = {}

    def clear(name: str, index: int) -> None:
        if name in params:
            companions.setdefault(name, torch.ones_like(params[name], dtype=torch.bool, device="cpu"))[index] = False

    for group in groups:
        for channel in group.removed(mask):
            for module, idxs in group.producers:
                clear(f"{module}.bias", idxs[channel])
            for module, idxs in group.norms:
                clear(f"{module}.weight", idxs[channel])
                clear(f"{module}.bias", idxs[channel])
    return companions


def held_at_zero(net: nn.Module, image_size: int, prunable: list[str], mask: Mask) -> Mask:
    """The companion mask of a channel ticket's `mask` on `net` (its groups traced once)."""
    return companion_mask(net, channel_groups(net, image_size, prunable), mask)


def shrink(net: nn.Module, mask: Mask, image_size: int, prunable: list[str]) -> nn.Module:
    """A copy of `net` (holding a channel ticket's weights) with every channel `mask` removes physically gone:
    its producer rows, biases and BatchNorm entries, and the next layers' input weights that read it."""
    import torch_pruning as tp

    small = copy.deepcopy(net).cpu().eval()
    graph = _dependency_graph(small, image_size)
    modules = dict(small.named_modules())
    for group in channel_groups(small, image_size, prunable):
        removed = group.removed(mask)
        if not removed:
            continue
        root, idxs = group.producers[0]
        handler = tp.prune_conv_out_channels if isinstance(modules[root], nn.Conv2d) else tp.prune_linear_out_channels
        graph.get_pruning_group(modules[root], handler, idxs=[idxs[c] for c in removed]).prune()
    if hasattr(net, NAME_ATTRIBUTE):
        setattr(small, NAME_ATTRIBUTE, getattr(net, NAME_ATTRIBUTE))
    return small


def channel_ticket(ctx) -> tuple[Mask, dict]:
    """A level of iterative channel pruning (a `TicketContext`): level L-1's trained weights under its mask
    (level 1: the dense run's) pruned channel-wise to the level's sparsity, rewound to the rewind point
    with the removed channels' companions at zero."""
    from deepfake_lth.lottery.rewinding import read_state, rewind_weights
    from deepfake_lth.models.masking import full_mask, load_mask

    inputs = ctx.job.inputs
    mask = load_mask(inputs["mask"], ctx.net, ctx.names) if "mask" in inputs else full_mask(ctx.net, ctx.names)
    groups = channel_groups(ctx.net, ctx.image_size, ctx.names)
    mask = prune_channels(groups, read_state(inputs["weights"], ctx.net), mask, ctx.sparsity)
    return mask, rewind_weights(inputs["rewind"], ctx.net, {**mask, **companion_mask(ctx.net, groups, mask)})
