"""The grouped, stratified bootstrap of a test set, vectorised over resamples, and McNemar's exact test.

Frames of one video are not independent, so the bootstrap resamples whole groups (a video; a photo is
its own group), separately within each class so that every resample keeps the class balance of the
test set. One draw of group counts (`group_weights`, B x groups) weights the images of every run
scored on the same test faces: a run's metric under resample b and the difference of two runs under
resample b use the same faces, which makes the difference a paired one. Accuracy, ROC AUC and EER
are computed for all B resamples at once from weighted counts; with unit weights they equal
`deepfake_lth.metrics` exactly (tested). With several seeds, `over_seeds` adds the outer level of a
hierarchical bootstrap: seeds are drawn with replacement, and each resample averages its drawn seeds,
their spread corrected for the understatement of drawing from few seeds (`seed_scale`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deepfake_lth.metrics import group_mean, has_groups

LEVEL = 0.95  # of every interval
CHUNK = 256  # resamples computed at once: bounds the B x images matrices (~20 MB at 10k test faces)


@dataclass(frozen=True)
class Units:
    """A test split's resampling units: its groups, split by label (so a unit has one class), in order of
    first sight, the order of `metrics.group_mean`'s videos."""

    of_image: np.ndarray  # each image's unit
    label: np.ndarray  # each unit's label

    @classmethod
    def of(cls, labels, groups) -> "Units":
        keys: dict[tuple, int] = {}
        of_image = np.array([keys.setdefault((g, int(y)), len(keys))
                             for g, y in zip(np.asarray(groups).tolist(), np.asarray(labels).tolist())], dtype=np.int64)
        return cls(of_image, np.array([y for _, y in keys], dtype=np.int64))


def group_weights(unit_labels: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How often each unit is drawn in each of `n_resamples` resamples (B x units, float64): per class, as
    many draws with replacement as the class has units."""
    n_units = len(unit_labels)
    counts = np.zeros(n_resamples * n_units)
    rows = np.arange(n_resamples)[:, None] * n_units
    for label in np.unique(unit_labels):
        members = np.flatnonzero(unit_labels == label)
        drawn = members[rng.integers(0, len(members), size=(n_resamples, len(members)))]
        counts += np.bincount((rows + drawn).ravel(), minlength=len(counts))
    return counts.reshape(n_resamples, n_units)


def weighted_accuracy(weights: np.ndarray, labels, probs) -> np.ndarray:
    correct = ((np.asarray(probs) >= 0.5).astype(int) == np.asarray(labels)).astype(np.float64)
    return (weights @ correct) / weights.sum(axis=1)


def _weighted_roc(weights: np.ndarray, labels, probs) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates (B x thresholds+1) at every distinct threshold, highest first, from
    (0, 0): metrics.roc_curve with each image counted by its weight."""
    labels, probs = np.asarray(labels), np.asarray(probs, dtype=np.float64)
    order = np.argsort(-probs, kind="mergesort")
    ordered, fake = probs[order], labels[order] == 1
    last_of_tie = np.r_[np.flatnonzero(np.diff(ordered)), len(ordered) - 1]
    w = weights[:, order]
    tp = np.cumsum(w * fake, axis=1)[:, last_of_tie]
    fp = np.cumsum(w * ~fake, axis=1)[:, last_of_tie]
    zeros = np.zeros((len(weights), 1))
    with np.errstate(invalid="ignore", divide="ignore"):  # one class only: NaN, as metrics.py says
        return np.hstack([zeros, fp / fp[:, -1:]]), np.hstack([zeros, tp / tp[:, -1:]])


def _auc(fpr: np.ndarray, tpr: np.ndarray) -> np.ndarray:
    return np.trapezoid(tpr, fpr, axis=1)


def _eer(fpr: np.ndarray, tpr: np.ndarray) -> np.ndarray:
    """metrics.equal_error_rate per resample: where the piecewise linear ROC crosses FPR = FNR."""
    gap = fpr - (1.0 - tpr)  # rises from -1 to 1 as the threshold falls
    i = np.argmax(gap >= 0, axis=1)
    rows = np.arange(len(gap))
    before = np.maximum(i - 1, 0)
    at_point = (i == 0) | (gap[rows, i] == 0)
    span = np.where(at_point, 1.0, gap[rows, i] - gap[rows, before])
    t = -gap[rows, before] / span
    crossing = fpr[rows, before] + t * (fpr[rows, i] - fpr[rows, before])
    return np.where(at_point, fpr[rows, i], crossing)


def weighted_scores(weights: np.ndarray, labels, probs) -> dict[str, np.ndarray]:
    """Accuracy, ROC AUC and EER of `probs` with each image counted by its weight, for every row of
    `weights` (B x images)."""
    fpr, tpr = _weighted_roc(weights, labels, probs)
    both_classes = np.isfinite(fpr[:, -1]) & np.isfinite(tpr[:, -1])
    return {"accuracy": weighted_accuracy(weights, labels, probs),
            "auc": np.where(both_classes, _auc(fpr, tpr), np.nan),
            "eer": np.where(both_classes, _eer(fpr, tpr), np.nan)}


def resampled(unit_weights: np.ndarray, units: Units, labels, probs, groups) -> dict[str, np.ndarray]:
    """Each metric of one run under every resample (B values each): image-level `accuracy`, `auc`, `eer`,
    and `video_*` (the mean probability per group, each group weighted by its draws) when a group
    holds several images."""
    labels, probs = np.asarray(labels), np.asarray(probs, dtype=np.float64)
    videos = group_mean(labels, probs, groups) if has_groups(groups) else None  # in the units' order, as metrics.json
    out: dict[str, list] = {}
    for start in range(0, len(unit_weights), CHUNK):
        chunk = unit_weights[start:start + CHUNK]
        for name, values in weighted_scores(chunk[:, units.of_image], labels, probs).items():
            out.setdefault(name, []).append(values)
        if videos is not None:
            for name, values in weighted_scores(chunk, *videos).items():
                out.setdefault(f"video_{name}", []).append(values)
    return {name: np.concatenate(parts) for name, parts in out.items()}


def accuracy_and_auc(unit_weights: np.ndarray, units: Units, labels, probs) -> dict[str, np.ndarray]:
    """Image-level accuracy and ROC AUC of one scoring under every resample (B values each): `resampled`'s
    `accuracy` and `auc`, equal to them, without the ROC curve (for the many scorings of the conditions).

    Accuracy counts correct images per unit once. AUC is the weighted Mann–Whitney statistic: for each
    fake image, the drawn weight of the real images scored below it plus half of those tied, from one
    cumulative sum over the real images in score order per resample."""
    labels, probs = np.asarray(labels), np.asarray(probs, dtype=np.float64)
    correct = ((probs >= 0.5).astype(int) == labels).astype(np.float64)
    per_unit = np.bincount(units.of_image, weights=correct, minlength=len(units.label))
    images = np.bincount(units.of_image, minlength=len(units.label)).astype(np.float64)
    accuracy = (unit_weights @ per_unit) / (unit_weights @ images)
    order = np.argsort(probs, kind="mergesort")
    fake = labels[order] == 1
    if fake.all() or not fake.any():
        return {"accuracy": accuracy, "auc": np.full(len(unit_weights), np.nan)}
    fake_units, real_units = units.of_image[order][fake], units.of_image[order][~fake]
    real_scores, fake_scores = probs[order][~fake], probs[order][fake]
    below = np.searchsorted(real_scores, fake_scores, side="left")  # reals strictly below each fake
    upto = np.searchsorted(real_scores, fake_scores, side="right")  # ... and those tied with it
    auc = []
    for start in range(0, len(unit_weights), CHUNK):
        chunk = unit_weights[start:start + CHUNK]
        real_below = np.zeros((len(chunk), len(real_units) + 1))
        np.cumsum(chunk[:, real_units], axis=1, out=real_below[:, 1:])
        fake_weights = chunk[:, fake_units]
        pairs = (fake_weights * (real_below[:, below] + real_below[:, upto])).sum(axis=1) / 2.0
        auc.append(pairs / (fake_weights.sum(axis=1) * real_below[:, -1]))
    return {"accuracy": accuracy, "auc": np.concatenate(auc)}


def seed_draws(n_seeds: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """The outer level of the hierarchical bootstrap: B x n_seeds indices of seeds drawn with replacement."""
    return rng.integers(0, n_seeds, size=(n_resamples, n_seeds))


def seed_scale(n_seeds: int) -> float:
    """How far each resample's seed deviation is stretched: √(n/(n−1)) with n seeds, 1 with one.

    Drawing seeds with replacement from n seeds spreads their mean by the seeds' own variance with
    divisor n, √((n−1)/n) of the sample standard deviation; the stretch undoes that understatement.
    What remains is that a few seeds estimate their spread poorly: in a simulation with known seed
    variance (tests/test_claims_summary.py) the 95% interval covers about 95% with 3 and 5 seeds where
    test-set and seed variation are alike, as in the demo, less where seeds dominate, and no method
    covers well with 2 (docs/statistics.md gives the figures)."""
    return math.sqrt(n_seeds / (n_seeds - 1)) if n_seeds > 1 else 1.0


def over_seeds(per_seed: np.ndarray, draws: np.ndarray | None) -> np.ndarray:
    """Resampled values of the mean over seeds: `per_seed` is seeds x B (one row per seed, each under the
    shared group draws). Each resample is the mean of all seeds under its group draw plus its drawn
    seeds' deviation from that mean, stretched by `seed_scale`; with one seed (or `draws` None) the
    groups are the only level."""
    if len(per_seed) == 1 or draws is None:
        return per_seed.mean(axis=0)
    center = per_seed.mean(axis=0)
    drawn = per_seed[draws, np.arange(per_seed.shape[1])[:, None]].mean(axis=1)
    return center + seed_scale(len(per_seed)) * (drawn - center)


def interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The percentile interval of resampled `values` (NaN, NaN when none is finite)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return math.nan, math.nan
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def mcnemar(correct_a, correct_b) -> float:
    """Exact McNemar p-value (two-sided) of two classifiers scored on the same images: a binomial test of
    the discordant pairs (A right and B wrong against A wrong and B right) at one half; 1 with none."""
    from scipy.stats import binomtest  # the report stage only: scipy costs a training job nothing

    correct_a, correct_b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    only_a, only_b = int(np.sum(correct_a & ~correct_b)), int(np.sum(~correct_a & correct_b))
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
