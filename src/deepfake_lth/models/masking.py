"""Masks over a model's prunable weights: making, checking, applying and keeping them during training.

A mask is a plain dict {parameter name: bool tensor of the parameter's shape}, True where the weight
survives. It lives beside the model, never inside it: checkpoints stay plain state_dicts of the
unpruned architecture with the pruned weights stored as exact zeros.
"""

from __future__ import annotations

import torch
from torch import nn

from deepfake_lth.errors import InputError
from deepfake_lth.io import load_tensors

Mask = dict[str, torch.Tensor]


def full_mask(model: nn.Module, names: list[str]) -> Mask:
    """An all-True mask over the named parameters (the dense model)."""
    params = dict(model.named_parameters())
    return {name: torch.ones_like(params[name], dtype=torch.bool, device="cpu") for name in names}


def check_mask(mask: Mask, model: nn.Module, names: list[str], source: str) -> Mask:
    """Return `mask` as CPU bool tensors if it covers exactly `names` with the parameters' shapes."""
    if not isinstance(mask, dict) or set(mask) != set(names):
        got = sorted(mask) if isinstance(mask, dict) else type(mask).__name__
        raise InputError(
            f"{source}: mask does not cover the prunable tensors of this model "
            f"(expected {len(names)} tensors {names[:3]}..., got {got if isinstance(got, str) else got[:3]}...); "
            "was it made with another model or pruning.prune_output_layer?"
        )
    params = dict(model.named_parameters())
    for name in names:
        if mask[name].shape != params[name].shape:
            raise InputError(
                f"{source}: mask '{name}' has shape {tuple(mask[name].shape)}, "
                f"the model's is {tuple(params[name].shape)} (another image size or model?)"
            )
    return {name: mask[name].to("cpu", torch.bool) for name in names}


def masked_state(state: dict, mask: Mask) -> dict:
    """A copy of `state` with every masked-out weight set to exactly zero."""
    out = {k: v.clone() for k, v in state.items()}
    for name, keep in mask.items():
        out[name].masked_fill_(~keep.to(out[name].device), 0)
    return out


class MaskKeeper:
    """Keeps masked weights at exactly zero through training, by the mask itself.

    `zero_gradients` after backward (so the optimiser sees no gradient and its moments stay zero)
    and `zero_weights` after each optimiser step (weight decay or momentum could otherwise move
    a zero). No re-parametrisation: the forward pass runs on the raw parameters at full speed.
    The mask is held as 0/1 in the parameter's dtype: a multiply is ~8x faster than masked_fill_.
    """

    def __init__(self, model: nn.Module, mask: Mask):
        params = dict(model.named_parameters())
        pruned = [name for name, keep in mask.items() if not keep.all()]
        self._params = [params[name] for name in pruned]
        self._masks = [mask[name].to(params[name].device, params[name].dtype) for name in pruned]

    @torch.no_grad()
    def zero_gradients(self) -> None:
        pairs = [(param.grad, keep) for param, keep in zip(self._params, self._masks) if param.grad is not None]
        if pairs:
            grads, keeps = zip(*pairs)
            torch._foreach_mul_(list(grads), list(keeps))  # one call for every tensor: 4x the per-tensor loop

    @torch.no_grad()
    def zero_weights(self) -> None:
        if self._params:
            torch._foreach_mul_(self._params, self._masks)


def sparsity_summary(mask: Mask) -> dict:
    """Measured sparsity of a mask, overall and per tensor (the metrics.json fields)."""
    per_layer = {}
    for name, keep in mask.items():
        total, remaining = keep.numel(), int(keep.sum())
        per_layer[name] = {"total": total, "remaining": remaining, "sparsity": 1.0 - remaining / total}
    prunable = sum(v["total"] for v in per_layer.values())
    remaining = sum(v["remaining"] for v in per_layer.values())
    return {
        "sparsity": 1.0 - remaining / prunable if prunable else 0.0,
        "remaining_weights": remaining,
        "prunable_weights": prunable,
        "per_layer": per_layer,
    }


def load_mask(path, model: nn.Module, names: list[str]) -> Mask:
    """Read mask.pt and check it against the model's prunable tensors (InputError naming the file)."""
    return check_mask(load_tensors(path), model, names, str(path))
