"""Splits a dataset does not ship, drawn from one it does: seeded, per class, in whole groups.

`derive_splits: {validation: {from: train, fraction: 0.2, seed: 0}}` moves about a fifth of the train
split's faces into a validation split. The draw is over groups (a video, a source image, or one file
when no group is known), so no group ends up in two splits, and it is stratified: each stratum (the
groups whose faces are all real, all fake, or mixed, as in an OpenForensics photo) gives its own share.
Draws from one source take turns in the order of SPLITS from what earlier draws left, each with its own
seed, and each takes its fraction of the source as extracted.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from deepfake_lth.errors import InputError


def draw_groups(labels: np.ndarray, groups: np.ndarray, draws: dict[str, dict]) -> dict[str, list[str]]:
    """The groups each derived split takes from a source split of faces (`labels`, `groups` per face).

    `draws` maps a derived split to its {fraction, seed}, in the order the draws are made. Within a
    stratum, groups are shuffled (sorted by name first, so the order of the faces does not matter) and
    taken until the split holds ceil(fraction x the stratum's faces).
    """
    table = pd.DataFrame({"label": labels, "group": groups})
    per_group = table.groupby("group", sort=True)["label"].agg(
        faces="size", stratum=lambda s: "+".join(map(str, sorted(set(s)))))
    left = pd.Series(True, index=per_group.index)
    drawn = {}
    for split, draw in draws.items():
        rng = np.random.default_rng(draw["seed"])
        chosen: list[str] = []
        for _, stratum in per_group.groupby("stratum", sort=True):
            target = math.ceil(draw["fraction"] * stratum["faces"].sum())
            candidates = stratum[left.loc[stratum.index].to_numpy()]
            taken = 0
            for name in candidates.index[rng.permutation(len(candidates))]:
                if taken >= target:
                    break
                chosen.append(name)
                taken += int(candidates.at[name, "faces"])
        left.loc[chosen] = False
        drawn[split] = sorted(chosen)
    return drawn


def split_rows(groups: np.ndarray, drawn: dict[str, list[str]], source: str) -> dict[str, np.ndarray]:
    """Row numbers (in the source's order) of each derived split and of what stays in `source`."""
    rows = {split: np.flatnonzero(pd.Series(groups).isin(names).to_numpy()) for split, names in drawn.items()}
    taken = np.concatenate([np.zeros(0, dtype=np.int64), *rows.values()])
    rows[source] = np.setdiff1d(np.arange(len(groups)), taken)
    return rows


def require_both_classes(where: str, labels: np.ndarray, what: str) -> None:
    """A derived split, or what a draw leaves of its source, must hold real and fake faces."""
    n_fake = int(labels.sum())
    n_real = len(labels) - n_fake
    if n_real and n_fake:
        return
    raise InputError(f"{where}: {what} would hold {n_real} real and {n_fake} fake faces; a split needs faces "
                     f"of both classes (change the fraction, or the seed when groups are few)")
