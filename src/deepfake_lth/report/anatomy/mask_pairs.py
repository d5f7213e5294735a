"""Which masks the overlap analysis compares, at the controls' levels (their sparsities): tickets of one
method from different seeds; the controls' ticket method against every other pruning method (IMP-Local,
one-shot, pruning at initialisation); and one model's tickets found on different datasets.

Torch- and pandas-free: the stage table declares these masks as the report job's inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from deepfake_lth import paths
from deepfake_lth.config import control_levels, sparsity_at_level, study_datasets

SEEDS, METHODS, DATASETS = "seeds", "methods", "datasets"


@dataclass(frozen=True)
class MaskPair:
    a: str  # the first mask: method, dataset, seed
    b: str
    sparsity: float  # the level's nominal sparsity
    mask_a: Path
    mask_b: Path
    kind: str  # what differs between the two: seeds, methods or datasets


def overlap_pairs(params: dict) -> list[MaskPair]:
    pruning = params["pruning"]
    ticket, others = pruning["controls"]["ticket"], [m for m in pruning["methods"] if m != pruning["controls"]["ticket"]]
    datasets, seeds = study_datasets(params), params["seeds"]
    pairs = []
    for level in control_levels(params):
        sparsity = sparsity_at_level(level, pruning["rate"], pruning["rate_of"])

        def pair(kind, a, b):  # a, b: (dataset, model, seed, method)
            masks = [paths.level_outputs(params, *side, level)["mask"] for side in (a, b)]
            return MaskPair(_label(a), _label(b), sparsity, *masks, kind)

        for model in params["models"]:
            for dataset in datasets:
                pairs += [pair(SEEDS, (dataset, model, s, m), (dataset, model, t, m))
                          for m in pruning["methods"] for s, t in combinations(seeds, 2)]
                pairs += [pair(METHODS, (dataset, model, s, ticket), (dataset, model, s, m)) for s in seeds for m in others
                          if ticket in pruning["methods"]]
            pairs += [pair(DATASETS, (d, model, s, m), (e, model, s, m))
                      for d, e in combinations(datasets, 2) for s in seeds for m in pruning["methods"]]
    return pairs


def _label(side) -> str:
    dataset, model, seed, method = side
    return f"{method} {dataset} {model} s{seed}"


def overlap_masks(params: dict) -> tuple[Path, ...]:
    """Every mask a pair reads, once, in pair order."""
    return tuple(dict.fromkeys(mask for pair in overlap_pairs(params) for mask in (pair.mask_a, pair.mask_b)))
