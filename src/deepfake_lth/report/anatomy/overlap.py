"""The anatomy of a ticket: how many kept weights two masks share, per prunable layer and overall.

The overlap of two masks is the Jaccard index of their kept weights, |A ∩ B| / |A ∪ B|. Two random
masks keeping k_a and k_b of a layer's n weights would share by chance a hypergeometric number I of
them, so the chance overlap is E[I / (k_a + k_b - I)], computed exactly over the hypergeometric law
(the part of it within 12 standard deviations of its mean, which holds all but ~1e-30 of its mass).
A pair is read from the masks its jobs wrote (mask.pt), which the report job declares as inputs.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
from scipy import stats

from deepfake_lth.io import load_tensors
from deepfake_lth.report.anatomy.mask_pairs import MaskPair

ALL_LAYERS = "all"
COLUMNS = ["a", "b", "layer", "sparsity", "jaccard", "jaccard_chance"]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|A ∩ B| / |A ∪ B| of two boolean arrays (1.0 when both keep nothing)."""
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 1.0


@functools.lru_cache(maxsize=None)
def chance_jaccard(n: int, kept_a: int, kept_b: int) -> float:
    """E[I / (k_a + k_b - I)] for I ~ Hypergeometric(n, k_a, k_b): the overlap of two uniformly random
    masks keeping k_a and k_b of n weights."""
    if kept_a == 0 and kept_b == 0:
        return 1.0
    mean = kept_a * kept_b / n
    sd = math.sqrt(mean * (1 - kept_a / n) * (n - kept_b) / max(n - 1, 1))
    low = max(0, kept_a + kept_b - n, int(mean - 12 * sd) - 1)
    high = min(kept_a, kept_b, int(mean + 12 * sd) + 1)
    shared = np.arange(low, high + 1)
    log_pmf = stats.hypergeom.logpmf(shared, n, kept_a, kept_b)
    weights = np.exp(log_pmf - log_pmf.max())
    return float(np.sum(weights * shared / (kept_a + kept_b - shared)) / np.sum(weights))


@functools.lru_cache(maxsize=64)
def _mask(path) -> dict[str, np.ndarray]:
    return {name: keep.cpu().numpy().reshape(-1) for name, keep in load_tensors(path).items()}


def pair_rows(pair: MaskPair) -> list[dict]:
    """One row per layer the two masks share, and one for all of them together."""
    a, b = _mask(pair.mask_a), _mask(pair.mask_b)
    rows, flat_a, flat_b = [], [], []
    for layer in a:
        if layer not in b:
            continue
        left, right = a[layer], b[layer]
        flat_a.append(left)
        flat_b.append(right)
        rows.append(_row(pair, layer, left, right))
    rows.append(_row(pair, ALL_LAYERS, np.concatenate(flat_a), np.concatenate(flat_b)))
    return rows


def _row(pair: MaskPair, layer: str, a: np.ndarray, b: np.ndarray) -> dict:
    return {"a": pair.a, "b": pair.b, "layer": layer, "sparsity": pair.sparsity, "jaccard": jaccard(a, b),
            "jaccard_chance": chance_jaccard(a.size, int(a.sum()), int(b.sum())), "kind": pair.kind}


def overlap_frame(pairs: list[MaskPair]) -> pd.DataFrame:
    """Every pair's rows (COLUMNS, then `kind`), pairs whose masks are missing left out."""
    rows = [row for pair in pairs if pair.mask_a.is_file() and pair.mask_b.is_file() for row in pair_rows(pair)]
    return pd.DataFrame(rows, columns=[*COLUMNS, "kind"])
