"""Detection metrics from per-image fake probabilities: accuracy, ROC AUC, EER, AP, and video-level ones.

Labels are 1 for fake, 0 for real. Every function takes NumPy-compatible arrays and returns a
float; a metric that is undefined for the data (AUC with one class present) is NaN, and
`split_metrics` writes it as null.
"""

from __future__ import annotations

import logging
import math

import numpy as np

log = logging.getLogger(__name__)


def accuracy(labels, probs, threshold: float = 0.5) -> float:
    """Fraction of images whose prediction (fake when probability >= threshold) equals the label."""
    labels, probs = np.asarray(labels), np.asarray(probs)
    return float(np.mean((probs >= threshold).astype(int) == labels))


def _both_classes(labels) -> bool:
    return len(np.unique(labels)) == 2


def roc_curve(labels, probs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates and precision at every distinct threshold, highest first.

    The same points as scikit-learn's curves (which a test checks), in NumPy: every training job
    evaluates, and importing scikit-learn would cost each job about a second.
    """
    labels, probs = np.asarray(labels), np.asarray(probs, dtype=np.float64)
    order = np.argsort(-probs, kind="mergesort")
    labels, probs = labels[order], probs[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(probs)), len(probs) - 1]
    tp = np.cumsum(labels == 1)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    fpr = np.r_[0.0, fp / fp[-1]]
    tpr = np.r_[0.0, tp / tp[-1]]
    precision = tp / (tp + fp)
    return fpr, tpr, precision


def roc_auc(labels, probs) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    if not _both_classes(labels):
        return math.nan
    fpr, tpr, _ = roc_curve(labels, probs)
    return float(np.trapezoid(tpr, fpr))


def average_precision(labels, probs) -> float:
    """Average precision with fake as the positive class (sum of precision x recall step); NaN when only
    one class is present."""
    if not _both_classes(labels):
        return math.nan
    _, recall, precision = roc_curve(labels, probs)
    return float(np.sum(np.diff(recall) * precision))


def equal_error_rate(labels, probs) -> float:
    """The error rate where false positive and false negative rates are equal.

    The ROC curve is piecewise linear between its thresholds; the EER is where the line from the
    last point with FPR < FNR to the first with FPR >= FNR crosses FPR = FNR.
    """
    if not _both_classes(labels):
        return math.nan
    fpr, tpr, _ = roc_curve(labels, probs)
    gap = fpr - (1.0 - tpr)  # rises from -1 to 1 as the threshold falls
    i = int(np.argmax(gap >= 0))
    if i == 0 or gap[i] == 0:
        return float(fpr[i])
    t = -gap[i - 1] / (gap[i] - gap[i - 1])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def has_groups(groups) -> bool:
    """True when some group (e.g. a source video) holds more than one image."""
    return groups is not None and len(set(np.asarray(groups).tolist())) < len(groups)


def group_mean(labels, probs, groups) -> tuple[np.ndarray, np.ndarray]:
    """Per-group labels and mean probabilities (video-level scores), groups in order of first sight.

    A group holding both labels (a misconfigured group pattern) is split by label and logged. Each mean
    is a compensated (Kahan) sum in image order over the count: pandas' groupby mean, bit for bit, without
    importing pandas into a training job.
    """
    sums: dict[tuple, list[float]] = {}  # (group, label) -> [sum, compensation, count], in order of first sight
    for group, label, prob in zip(np.asarray(groups).tolist(), np.asarray(labels).tolist(), np.asarray(probs).tolist()):
        total = sums.setdefault((group, label), [0.0, 0.0, 0])
        y = prob - total[1]
        t = total[0] + y
        total[1] = t - total[0] - y
        if total[1] != total[1]:  # NaN: an infinite term; keep the plain sum
            total[1] = 0.0
        total[0], total[2] = t, total[2] + 1
    mixed = len(sums) - len({group for group, _ in sums})
    if mixed:
        log.warning("%d groups hold both real and fake images; scored separately per label", mixed)
    keys = list(sums)
    return (np.array([label for _, label in keys], dtype=np.asarray(labels).dtype),
            np.array([sums[k][0] / sums[k][2] for k in keys], dtype=np.float64))


def _finite_or_none(value: float):
    return None if value is None or not math.isfinite(value) else float(value)


def scores(labels, probs) -> dict:
    """accuracy, auc, eer, ap and n, with undefined values as None."""
    return {
        "accuracy": _finite_or_none(accuracy(labels, probs)),
        "auc": _finite_or_none(roc_auc(labels, probs)),
        "eer": _finite_or_none(equal_error_rate(labels, probs)),
        "ap": _finite_or_none(average_precision(labels, probs)),
        "n": int(len(labels)),
    }


def split_metrics(labels, probs, groups=None, loss: float | None = None) -> dict:
    """The metrics.json entry of one split: image-level scores, loss, and video-level scores or None."""
    result = scores(labels, probs)
    result["loss"] = _finite_or_none(loss)
    result["video"] = scores(*group_mean(labels, probs, groups)) if has_groups(groups) else None
    return result
