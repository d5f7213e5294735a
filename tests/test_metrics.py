"""Metric functions against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepfake_lth.metrics import (
    accuracy,
    average_precision,
    equal_error_rate,
    group_mean,
    has_groups,
    roc_auc,
    split_metrics,
)

# 2 real, 2 fake; ranked by probability: fake .8, real .4, fake .35, real .1
LABELS = [0, 0, 1, 1]
PROBS = [0.1, 0.4, 0.35, 0.8]


def test_accuracy_thresholds_the_probability_at_one_half():
    # predictions 0, 0, 0, 1 against 0, 0, 1, 1: three right
    assert accuracy(LABELS, PROBS) == 0.75
    assert accuracy([1], [0.5]) == 1.0  # 0.5 itself counts as fake


def test_roc_auc_is_the_fraction_of_fake_real_pairs_ranked_right():
    # pairs (fake, real): (.35,.1) right, (.35,.4) wrong, (.8,.1) right, (.8,.4) right
    assert roc_auc(LABELS, PROBS) == pytest.approx(3 / 4)
    assert roc_auc([0, 1], [0.3, 0.3]) == pytest.approx(0.5)  # a tie counts half
    assert math.isnan(roc_auc([1, 1], [0.2, 0.9]))


def test_average_precision_sums_precision_over_recall_steps():
    # fake .8: precision 1 at recall .5; fake .35: precision 2/3 at recall 1
    assert average_precision(LABELS, PROBS) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_equal_error_rate_at_a_threshold_where_the_rates_meet():
    # threshold .4: one of two reals above (FPR 1/2), one of two fakes below (FNR 1/2)
    assert equal_error_rate(LABELS, PROBS) == pytest.approx(0.5)
    assert equal_error_rate([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == pytest.approx(0.0)


def test_equal_error_rate_interpolates_between_roc_points():
    # reals .2 .6, fakes .4 .7 .9. Threshold .7: FPR 0, FNR 1/3; threshold .6: FPR 1/2, FNR 1/3.
    # On that segment FNR stays 1/3 and FPR reaches it two thirds of the way: EER 1/3.
    assert equal_error_rate([0, 0, 1, 1, 1], [0.2, 0.6, 0.4, 0.7, 0.9]) == pytest.approx(1 / 3)


def test_video_level_scores_average_the_frames_of_each_group():
    labels = [0, 0, 1, 1, 1, 1]
    probs = [0.2, 0.6, 0.4, 0.8, 0.9, 0.3]
    groups = ["a", "a", "b", "b", "c", "c"]
    video_labels, video_probs = group_mean(labels, probs, groups)
    assert list(video_labels) == [0, 1, 1]
    assert list(video_probs) == pytest.approx([0.4, 0.6, 0.6])
    result = split_metrics(labels, probs, groups, loss=0.5)
    # frames: predictions 0 1 0 1 1 0 -> 3 of 6 right; videos: .4 .6 .6 -> all right
    assert result["accuracy"] == 0.5
    assert result["video"] == {"accuracy": 1.0, "auc": 1.0, "eer": 0.0, "ap": 1.0, "n": 3}
    assert result["n"] == 6 and result["loss"] == 0.5


def test_no_video_level_scores_when_every_image_is_its_own_group():
    assert not has_groups(["a", "b", "c"])
    assert split_metrics([0, 1, 1], [0.2, 0.7, 0.9], ["a", "b", "c"])["video"] is None


def test_undefined_metrics_are_written_as_null():
    result = split_metrics([1, 1], [0.6, 0.7], None, loss=float("nan"))
    assert result["auc"] is None and result["eer"] is None and result["ap"] is None
    assert result["loss"] is None and result["accuracy"] == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_curves_agree_with_scikit_learn(seed):
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 200)
    probs = np.round(rng.random(200), 1)  # many ties
    assert roc_auc(labels, probs) == pytest.approx(roc_auc_score(labels, probs), abs=1e-12)
    assert average_precision(labels, probs) == pytest.approx(average_precision_score(labels, probs), abs=1e-12)
