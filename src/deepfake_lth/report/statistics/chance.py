"""Baselines that learned nothing: a dense model whose test accuracy is no better than a constant guess,
and runs whose predictions are one class for every test face.

A claim about tickets compares them with the dense model or with each other; where the dense model
did not beat the majority-class rate of its test set (what predicting one class for every face
scores), every such comparison is between guesses, and its verdict would say nothing about tickets.
"""

from __future__ import annotations

import math

import pandas as pd

from deepfake_lth import methods
from deepfake_lth.report.statistics.intervals import Intervals
from deepfake_lth.report.summary import in_domain


def dense_at_chance(frame: pd.DataFrame, intervals: Intervals) -> dict[tuple[str, str], str]:
    """(dataset, model) -> why its claims are not testable, for each in-domain setting whose dense
    accuracy interval (pooled over seeds) does not lie above its test set's majority-class rate.
    Settings without predictions are left out: nothing can be said of them either way."""
    dense = in_domain(frame)
    dense = dense[dense["method"] == methods.DENSE]
    at_chance = {}
    for (dataset, model), rows in dense.groupby(["dataset", "model"], sort=False):
        low, high = intervals.of_rows(rows, "accuracy")
        majority = intervals.majority.get(dataset)
        if majority is None or math.isnan(low) or low > majority:
            continue
        at_chance[(dataset, model)] = (
            f"the dense model is at chance: accuracy [{100 * low:.1f}, {100 * high:.1f}]% does not lie above "
            f"the majority-class rate {100 * majority:.1f}% of {dataset}'s test set")
    return at_chance


def constant_sides(runs_a: dict, runs_b: dict, intervals: Intervals) -> str:
    """Which side of a comparison ('a', 'b', 'a, b' or '') has a run predicting one class for every test face."""
    return ", ".join(side for side, runs in (("a", runs_a), ("b", runs_b))
                     if any(path in intervals.constant for path in runs.values()))
