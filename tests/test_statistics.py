"""Intervals and paired tests: the grouped, stratified bootstrap, McNemar, the verdicts, and the report's
claims, comparisons and figures built from predictions.csv files."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepfake_lth import metrics
from deepfake_lth.predictions import read_predictions, write_predictions
from deepfake_lth.report.build import build_report
from deepfake_lth.report.statistics import bootstrap
from deepfake_lth.report.statistics.claims import (
    FAILS, HOLDS, INCONCLUSIVE, NON_INFERIORITY, NOT_TESTABLE, SUPERIORITY, verdict,
)
from deepfake_lth.report.statistics.intervals import Intervals

sys.path.insert(0, str(Path(__file__).parent))
from test_report import make_params, write_results_tree  # noqa: E402

STATISTICS = {"bootstrap": 2000, "seed": 0, "margin": 1.0}


def scored(n_groups: int, frames: int, rng: np.random.Generator, accuracy: float = 0.8, same_within_group=True):
    """Labels, fake probabilities and groups of `n_groups` groups of `frames` images, half the groups fake."""
    group_labels = np.repeat([0, 1], n_groups // 2)
    labels = np.repeat(group_labels, frames)
    groups = np.repeat(np.arange(n_groups), frames).astype(str)
    right = np.repeat(rng.random(n_groups) < accuracy, frames) if same_within_group else rng.random(len(labels)) < accuracy
    p_fake = np.where(right == (labels == 1), rng.uniform(0.55, 1.0, len(labels)), rng.uniform(0.0, 0.45, len(labels)))
    return labels, p_fake, groups


def interval_of(labels, probs, groups, metric="accuracy", n=2000, seed=0):
    units = bootstrap.Units.of(labels, groups)
    weights = bootstrap.group_weights(units.label, n, np.random.default_rng(seed))
    return bootstrap.interval(bootstrap.resampled(weights, units, labels, probs, groups)[metric])


def test_unit_weights_give_exactly_the_metrics_of_metrics_py():
    rng = np.random.default_rng(3)
    labels, probs, groups = scored(60, 3, rng, same_within_group=False)
    probs[:20] = 0.5  # ties
    units = bootstrap.Units.of(labels, groups)
    values = bootstrap.resampled(np.ones((1, len(units.label))), units, labels, probs, groups)
    assert values["accuracy"][0] == metrics.accuracy(labels, probs)
    assert values["auc"][0] == metrics.roc_auc(labels, probs)
    assert values["eer"][0] == metrics.equal_error_rate(labels, probs)
    video_labels, video_probs = metrics.group_mean(labels, probs, groups)
    assert values["video_auc"][0] == metrics.roc_auc(video_labels, video_probs)
    assert values["video_accuracy"][0] == metrics.accuracy(video_labels, video_probs)


def test_a_test_set_of_one_class_has_no_auc_or_eer_as_in_metrics_py():
    labels, probs = np.ones(4, dtype=int), np.array([0.2, 0.6, 0.7, 0.9])
    values = bootstrap.weighted_scores(np.ones((1, 4)), labels, probs)
    assert values["accuracy"][0] == 0.75 and np.isnan(values["auc"][0]) and np.isnan(values["eer"][0])
    assert math.isnan(metrics.equal_error_rate(labels, probs))


def test_resampling_keeps_each_class_count_and_draws_whole_groups():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    units = bootstrap.Units.of(labels, ["a", "a", "b", "c", "d", "d", "d", "e", "f", "g"])
    assert units.label.tolist() == [0, 0, 0, 1, 1, 1, 1]
    weights = bootstrap.group_weights(units.label, 500, np.random.default_rng(0))
    assert (weights[:, units.label == 0].sum(axis=1) == 3).all() and (weights[:, units.label == 1].sum(axis=1) == 4).all()


def test_on_a_large_iid_sample_the_interval_is_the_normal_one():
    labels, probs, groups = scored(4000, 1, np.random.default_rng(1), accuracy=0.75)
    accuracy = metrics.accuracy(labels, probs)
    half = 1.96 * math.sqrt(accuracy * (1 - accuracy) / len(labels))
    low, high = interval_of(labels, probs, groups)
    assert low == pytest.approx(accuracy - half, abs=0.005) and high == pytest.approx(accuracy + half, abs=0.005)


def test_perfectly_correlated_frames_widen_the_interval_to_the_video_count():
    """Ten identical frames per video carry one video's information: the grouped interval is the one of
    the videos alone, not the ten times narrower one of independent frames."""
    rng = np.random.default_rng(2)
    labels, probs, groups = scored(200, 1, rng, accuracy=0.75)
    videos = interval_of(labels, probs, groups)
    frames = interval_of(np.repeat(labels, 10), np.repeat(probs, 10), np.repeat(groups, 10))
    assert frames == pytest.approx(videos, abs=0.005)
    naive = interval_of(np.repeat(labels, 10), np.repeat(probs, 10), np.arange(2000).astype(str))
    assert (naive[1] - naive[0]) < 0.5 * (frames[1] - frames[0])


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_draws(tmp_path):
    rng = np.random.default_rng(4)
    labels, probs, groups = scored(100, 2, rng)
    path = tmp_path / "predictions.csv"
    write_predictions(path, {"test": (labels, probs, groups)})
    assert read_predictions(path)["test"].p_fake.tolist() == probs.tolist()  # full precision on disk

    def run(seed):
        intervals = Intervals({**STATISTICS, "seed": seed})
        intervals.add_run("m", "d", path)
        return intervals.resampled["m"]["accuracy"]

    assert run(0).tobytes() == run(0).tobytes()
    assert run(0).tobytes() != run(1).tobytes()


def test_paired_differences_use_the_same_faces_and_seeds_add_a_level(tmp_path):
    rng = np.random.default_rng(5)
    labels, probs, groups = scored(200, 2, rng)
    wrong = (probs >= 0.5).astype(int) != labels
    better = np.where(wrong & (rng.random(len(labels)) < 0.5), 1 - probs, probs)  # right wherever b is, and more
    runs = {}
    for name, p in (("a", better), ("b", probs)):
        write_predictions(tmp_path / f"{name}.csv", {"test": (labels, p, groups)})
        runs[name] = tmp_path / f"{name}.csv"
    intervals = Intervals(STATISTICS)
    for name, path in runs.items():
        intervals.add_run(name, "d", path)
    paired = intervals.paired({0: "a"}, {0: "b"}, "accuracy", "d")
    assert paired.delta == pytest.approx(metrics.accuracy(labels, better) - metrics.accuracy(labels, probs))
    assert paired.low > 0 and paired.p_value < 0.001  # every discordant pair favours a: paired, it is sure
    unpaired_width = math.hypot(*(np.subtract(*intervals.run(n, "accuracy")[::-1]) for n in "ab"))
    assert paired.high - paired.low < 0.7 * unpaired_width  # as if the two were scored on other faces
    other = np.where(rng.random(len(labels)) < 0.5, probs, 1 - probs)
    write_predictions(tmp_path / "c.csv", {"test": (labels, other, groups)})
    intervals.add_run("c", "d", tmp_path / "c.csv")
    one_seed = intervals.over_seeds(["b"], "accuracy", "d")
    two_seeds = intervals.over_seeds(["b", "c"], "accuracy", "d")
    assert (two_seeds[1] - two_seeds[0]) > (one_seed[1] - one_seed[0])  # seeds that disagree widen it
    write_predictions(tmp_path / "other_faces.csv", {"test": (labels[::-1], probs, groups)})
    with pytest.raises(Exception, match="other test faces"):
        intervals.add_run("x", "d", tmp_path / "other_faces.csv")


def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_pairs():
    # 8 faces only a gets right, 2 only b, 5 both, 3 neither: p = 2 * P(X <= 2), X ~ Bin(10, 1/2) = 112/1024
    a = [1] * 8 + [0] * 2 + [1] * 5 + [0] * 3
    b = [0] * 8 + [1] * 2 + [1] * 5 + [0] * 3
    assert bootstrap.mcnemar(a, b) == pytest.approx(2 * (1 + 10 + 45) / 1024)
    assert bootstrap.mcnemar(a, a) == 1.0


@pytest.mark.parametrize("test, low, high, p, expected", [
    (NON_INFERIORITY, -0.8, 2.0, 0.5, HOLDS),  # within the 1-point margin
    (NON_INFERIORITY, -3.0, -1.5, 0.01, FAILS),  # worse by more than the margin, surely
    (NON_INFERIORITY, -3.0, 0.5, 0.2, INCONCLUSIVE),
    (SUPERIORITY, 0.5, 3.0, 0.01, HOLDS),
    (SUPERIORITY, 0.5, 3.0, 0.2, INCONCLUSIVE),  # the interval alone is not enough: McNemar must agree
    (SUPERIORITY, -2.0, 0.0, 0.3, FAILS),
    (SUPERIORITY, -2.0, 1.0, 0.5, INCONCLUSIVE),
    (SUPERIORITY, math.nan, math.nan, math.nan, INCONCLUSIVE),
])
def test_verdicts(test, low, high, p, expected):
    assert verdict(test, low, high, 1.0, p) == expected


@pytest.fixture(scope="module")
def one_seed_report(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("one_seed")
    params = make_params(tmp_path, seeds=[0], report={"formats": ["png"]})
    write_results_tree(params, seeds=[0])
    build_report(params)
    return params, Path(params["paths"]["results"])


def test_the_claims_table_has_every_column_and_a_row_per_claim_setting(one_seed_report):
    params, results = one_seed_report
    claims = pd.read_csv(results / "tables" / "claims.csv", keep_default_na=False)
    for column in ("claim", "comparison", "dataset", "model", "delta_pct", "ci_low", "ci_high", "p_value", "paper",
                   "verdict", "margin_pct"):
        assert column in claims.columns, column
    assert set(claims.verdict) <= {HOLDS, FAILS, INCONCLUSIVE, NOT_TESTABLE}
    in_domain = claims[claims.source_dataset == ""]
    assert len(in_domain) == 8 * 2 * 2  # 8 claims at 60 and 80%, 2 datasets x 2 models
    assert len(claims) - len(in_domain) == 2 * 2  # tickets transfer, 60 and 80%, one pair x 2 models
    dense = claims[(claims.key == "ticket_matches_dense") & (claims.dataset == "demo_gan") & (claims.model == "cnn5")]
    assert dense.paper.tolist()[-1] == "-0.53"  # the paper's CNN-5: 90.88 at 80% against 91.41 dense
    for _, row in claims[claims.verdict != NOT_TESTABLE].iterrows():  # superiority: Holm's p; matching: the family interval
        low, high = (row.family_ci_low, row.family_ci_high) if row.test == NON_INFERIORITY else (row.ci_low, row.ci_high)
        assert row.verdict == verdict(row.test, float(low), float(high), 1.0, float(row.p_holm))
    assert (claims[claims.verdict == NOT_TESTABLE].note != "").all()
    report = (results / "report.md").read_text()
    assert "## The paper's claims: verdicts" in report and "one seed ran" in report
    assert (results / "tables" / "claims.tex").is_file() and (results / "tables" / "claims.md").is_file()


def test_comparisons_agree_with_the_predictions(one_seed_report):
    params, results = one_seed_report
    comparisons = pd.read_csv(results / "tables" / "comparisons.csv")
    row = comparisons[(comparisons.comparison == "ticket − dense") & (comparisons.dataset == "demo_swap")
                      & (comparisons.model == "mesonet") & (comparisons.a_method == "imp_local")
                      & (comparisons.level == 3)].iloc[0]
    runs = Path(params["paths"]["results"], "runs", "demo_swap", "mesonet", "seed_0")
    ticket = read_predictions(runs / "imp_local" / "level_03" / "predictions.csv")["test"]
    dense = read_predictions(runs / "dense" / "predictions.csv")["test"]
    expected = 100 * (metrics.accuracy(ticket.label, ticket.p_fake) - metrics.accuracy(dense.label, dense.p_fake))
    assert row.delta_accuracy_pct == pytest.approx(expected)
    assert row.ci_low <= row.delta_accuracy_pct <= row.ci_high
    def right_per_video(s):  # demo_swap's frames come in videos: McNemar counts videos, not frames
        labels, probs = metrics.group_mean(s.label, s.p_fake, s.group)
        return (probs >= 0.5).astype(int) == labels

    assert row.p_value == pytest.approx(bootstrap.mcnemar(right_per_video(ticket), right_per_video(dense)))
    runs_table = pd.read_csv(results / "tables" / "accuracy_vs_sparsity.csv")
    assert (runs_table.test_accuracy_ci_low <= runs_table.test_accuracy).all()
    assert (runs_table.test_accuracy <= runs_table.test_accuracy_ci_high).all()
    assert runs_table[runs_table.dataset == "demo_swap"].test_video_accuracy_ci_low.notna().all()


def test_with_one_seed_nothing_says_over_seeds_and_fig2_names_its_band(one_seed_report, tmp_path):
    params, results = one_seed_report
    for path in [results / "report.md", *(results / "tables").glob("*.md")]:
        assert "over seeds" not in path.read_text(), path
    from deepfake_lth.report.collect import collect_metrics
    from deepfake_lth.report.figures import study_figures as figures
    frame = collect_metrics(sorted(results.glob("runs/**/metrics.json")), results)
    figure = figures.accuracy_vs_sparsity(frame, params)
    assert "one seed; bands: 95% intervals, bootstrap over test groups" in figure._suptitle.get_text()
    table = pd.read_csv(results / "tables" / "table1_accuracy_vs_sparsity.csv")
    assert table.test_accuracy_pct_ci_low.notna().all()


def test_rebuilding_writes_the_same_bytes(one_seed_report):
    params, results = one_seed_report
    before = {p.name: p.read_bytes() for p in (results / "tables").iterdir()}
    build_report(params)
    assert {p.name: p.read_bytes() for p in (results / "tables").iterdir()} == before


def test_several_seeds_give_hierarchical_intervals_and_per_seed_deltas(tmp_path):
    params = make_params(tmp_path, report={"formats": ["png"]})  # seeds 0, 1, 2
    write_results_tree(params, transfer=False, gradcam=False)
    build_report(params)
    results = Path(params["paths"]["results"])
    comparisons = pd.read_csv(results / "tables" / "comparisons.csv")
    assert (comparisons.n_seeds == 3).all()
    assert comparisons.per_seed_delta_accuracy_pct.str.count(":").eq(3).all()
    assert "[95% interval: seeds, test groups]" in (results / "tables" / "table1_accuracy_vs_sparsity.md").read_text()


def test_the_intervals_benchmark_reports_every_test_set(tmp_path):
    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    import bench_intervals

    result = bench_intervals.main(["--quick", "--out", str(tmp_path / "intervals.json")])
    assert [row["test_set"] for row in result["test_sets"]] == ["demo_gan", "demo_swap", "openforensic_kaggle",
                                                                "ffpp_kaggle"]
    for row in result["test_sets"]:
        assert row["s_per_run"] > 0 and row["runs"] > 0 and isinstance(row["in_job_ok"], bool)


@pytest.mark.parametrize("frames_per_group", [1, 2, 5])
def test_the_fast_accuracy_and_auc_equal_the_general_bootstrap(frames_per_group):
    """The conditions' scorings use bootstrap.accuracy_and_auc: under every resample it gives the general
    bootstrap's image-level accuracy and AUC, ties (equal scores across classes) included."""
    rng = np.random.default_rng(frames_per_group)
    labels = np.repeat([0, 1], 150)
    groups = np.array([f"{y}-{i // frames_per_group}" for i, y in enumerate(labels)], dtype=object)
    probs = np.round(rng.random(300), 2)  # many ties
    units = bootstrap.Units.of(labels, groups)
    weights = bootstrap.group_weights(units.label, 300, rng)
    general = bootstrap.resampled(weights, units, labels, probs, groups)
    fast = bootstrap.accuracy_and_auc(weights, units, labels, probs)
    np.testing.assert_allclose(fast["accuracy"], general["accuracy"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast["auc"], general["auc"], rtol=0, atol=1e-12)
    whole = bootstrap.accuracy_and_auc(np.ones((1, len(units.label))), units, labels, probs)
    assert whole["auc"][0] == pytest.approx(metrics.roc_auc(labels, probs))
