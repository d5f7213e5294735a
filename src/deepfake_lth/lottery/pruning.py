"""Unstructured magnitude pruning as a pure function: (trained weights, current mask, sparsity, scope) -> mask.

Open_lth's strategy with exact counts: among the weights the current mask keeps, keep the ones of
largest magnitude so that exactly `total - round(sparsity * total)` survive (over all tensors for
the global scope, per tensor for the local one). Ties are broken by position (earlier kept), so
the count is exact and the result deterministic. Targeting the level's cumulative sparsity rather
than pruning a rounded fraction each round keeps level L within half a weight of 1 - 0.8^L.
"""

from __future__ import annotations

import numpy as np
import torch

from deepfake_lth.models.masking import Mask

SCOPES = ("global", "local")


def surviving_count(total: int, sparsity: float) -> int:
    """Weights left of `total` at `sparsity` (rounded to the nearest count)."""
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity {sparsity} outside [0, 1]")
    return total - round(sparsity * total)


def _keep_largest(weights: torch.Tensor, keep: torch.Tensor, count: int) -> torch.Tensor:
    """Bool tensor keeping the `count` largest |weights| among those `keep` marks (flat inputs)."""
    return _keep_top(weights.detach().abs(), keep, count)


def _keep_top(scores: torch.Tensor, keep: torch.Tensor, count: int) -> torch.Tensor:
    """Bool tensor keeping the `count` highest scores among those `keep` marks (flat inputs; ties: earlier).

    The same choice as a stable descending sort, in linear time: every score above the count-th
    highest, then as many of the scores equal to it as are still needed, earliest first. NumPy's
    partition finds that score 3x faster than torch.kthvalue (SynFlow asks 100 times per mask)."""
    score = scores.detach().cpu().double().numpy()
    kept = keep.detach().cpu().numpy().astype(bool, copy=False)
    candidates = score[kept]
    if count > len(candidates):
        raise ValueError(f"cannot keep {count} weights: the current mask keeps only {len(candidates)}")
    if count == 0:
        return torch.zeros_like(keep)
    threshold = np.partition(candidates, len(candidates) - count)[len(candidates) - count]
    result = (score > threshold) & kept
    ties = np.flatnonzero((score == threshold) & kept)[: count - int(np.count_nonzero(result))]
    result[ties] = True
    return torch.from_numpy(result).to(keep.device)


def prune_by_magnitude(weights: dict[str, torch.Tensor], mask: Mask, sparsity: float, scope: str) -> Mask:
    """The mask that prunes the masked model to `sparsity` of its prunable weights by magnitude.

    `weights` holds at least the mask's tensors (a trained state_dict); `mask` is the current mask
    (all True for the dense model), and every weight it prunes stays pruned. `scope`: "global"
    (one threshold across all tensors) or "local" (the sparsity applied to each tensor).
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown pruning scope '{scope}' (allowed: {', '.join(SCOPES)})")
    names = list(mask)
    flat_w = {n: weights[n].detach().cpu().reshape(-1) for n in names}
    flat_m = {n: mask[n].cpu().reshape(-1).bool() for n in names}
    if scope == "local":
        kept = {n: _keep_largest(flat_w[n], flat_m[n], surviving_count(flat_m[n].numel(), sparsity)) for n in names}
    else:
        total = sum(m.numel() for m in flat_m.values())
        joint = _keep_largest(torch.cat([flat_w[n] for n in names]), torch.cat([flat_m[n] for n in names]),
                              surviving_count(total, sparsity))
        kept = dict(zip(names, joint.split([flat_m[n].numel() for n in names])))
    return {n: kept[n].reshape(mask[n].shape).clone() for n in names}


def prune_by_score(scores: dict[str, torch.Tensor], mask: Mask, sparsity: float) -> Mask:
    """The mask keeping the highest `scores` over all tensors (one global ranking) among the weights
    `mask` keeps, so that exactly `total - round(sparsity * total)` survive: pruning at initialisation."""
    names = list(mask)
    flat_m = [mask[n].cpu().reshape(-1).bool() for n in names]
    total = sum(m.numel() for m in flat_m)
    joint = _keep_top(torch.cat([scores[n].detach().cpu().reshape(-1) for n in names]), torch.cat(flat_m),
                      surviving_count(total, sparsity))
    return {n: kept.reshape(mask[n].shape).clone() for n, kept in zip(names, joint.split([m.numel() for m in flat_m]))}
