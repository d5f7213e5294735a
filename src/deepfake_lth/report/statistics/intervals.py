"""Intervals and paired differences for the study's runs, from their predictions.csv files.

Every run scored on one dataset's test faces is resampled with the same group draws (`bootstrap`), so
a run's metric under resample b and another run's under the same b differ by the models alone: the
difference of the two vectors is the paired bootstrap of the difference. With several seeds, the
outer level draws seeds (`bootstrap.over_seeds`); a comparison pairs the runs of equal seed (a ticket
with the dense run it was pruned from).
"""

from __future__ import annotations

import logging
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_lth.errors import InputError
from deepfake_lth.metrics import group_mean, has_groups
from deepfake_lth.predictions import SplitPredictions, read_predictions
from deepfake_lth.report.statistics import bootstrap

log = logging.getLogger(__name__)

METRICS = ("accuracy", "auc", "eer")
VIDEO_METRICS = tuple(f"video_{m}" for m in METRICS)


@dataclass(frozen=True)
class Paired:
    """A paired comparison a − b of one metric over the seeds both have."""

    delta: float  # mean over seeds of (a − b) on the full test set
    low: float
    high: float
    p_value: float  # exact McNemar on accuracy: the one seed's, or the largest over seeds (significant in each)
    seed_p_values: dict  # seed -> that seed's McNemar p
    differences: np.ndarray  # seeds x B: each seed's a − b under every group resample
    draws: np.ndarray | None  # B x seeds: the seed draws of the outer level (None with one seed)
    a_values: dict  # seed -> a's metric on the full test set
    b_values: dict  # seed -> b's metric on the full test set

    @property
    def seeds(self) -> list:
        return list(self.a_values)

    @property
    def per_seed(self) -> dict:
        """seed -> that seed's a − b on the full test set."""
        return {s: self.a_values[s] - self.b_values[s] for s in self.a_values}

    def resampled(self) -> np.ndarray:
        """The B resampled values of the mean difference over seeds."""
        return bootstrap.over_seeds(self.differences, self.draws)

    def interval(self, level: float = bootstrap.LEVEL) -> tuple[float, float]:
        return bootstrap.interval(self.resampled(), level)

    def minus(self, other: "Paired") -> "Paired":
        """(a − b) − (other's a − b): a difference of paired differences on the same faces, seeds and group
        and seed draws (a ticket's accuracy drop under a perturbation against its dense model's). Its
        interval comes from the resamples alone: no McNemar test applies (p NaN)."""
        if self.seeds != other.seeds or self.differences.shape != other.differences.shape:
            raise ValueError("a difference of paired differences needs the same seeds and resamples on both sides")
        differences = self.differences - other.differences
        low, high = bootstrap.interval(bootstrap.over_seeds(differences, self.draws))
        a_values, b_values = self.per_seed, other.per_seed
        delta = float(np.mean([a_values[s] - b_values[s] for s in self.seeds]))
        return Paired(delta, low, high, math.nan, {}, differences, self.draws, a_values, b_values)


class Intervals:
    """The bootstrap of every run of the study with predictions, keyed by its metrics.json path."""

    def __init__(self, statistics: dict):
        self.n_resamples, self.seed = statistics["bootstrap"], statistics["seed"]
        self.test_sets: dict[str, tuple[SplitPredictions, bootstrap.Units, np.ndarray, str]] = {}
        self.resampled: dict[str, dict[str, np.ndarray]] = {}  # metrics path -> metric -> B values
        self.full: dict[str, dict[str, float]] = {}  # metrics path -> metric on the whole test set
        self.correct: dict[str, np.ndarray] = {}  # metrics path -> what McNemar counts as right
        self.test: dict[str, SplitPredictions] = {}  # metrics path -> its test predictions
        self.constant: set[str] = set()  # metrics paths whose run predicts one class for every test face
        self.majority: dict[str, float] = {}  # dataset -> its test set's majority-class rate (a constant guess)
        self.without: list[str] = []  # metrics paths whose run has no predictions.csv

    def add_run(self, metrics_path: str, dataset: str, predictions_path: Path | None) -> None:
        """Resample one run's test predictions with the draws of `dataset`'s test set."""
        if predictions_path is None or not Path(predictions_path).is_file():
            self.without.append(metrics_path)
            return
        test = read_predictions(predictions_path).get("test")
        if test is None or not len(test):
            raise InputError(f"{predictions_path}: no test predictions")
        self._add(metrics_path, dataset, test, predictions_path, bootstrap.resampled)

    def add_scores(self, key: str, face_set: str, scores: SplitPredictions, source: Path) -> None:
        """Resample a scoring other than a run's predictions.csv (a run under a perturbation, read from
        `source`) with the draws of `face_set` (a dataset's test faces, or a subset of them under its own
        name): image-level accuracy and AUC."""
        self._add(key, face_set, scores, source,
                  lambda weights, units, labels, probs, groups: bootstrap.accuracy_and_auc(weights, units, labels, probs))

    def _add(self, key: str, face_set: str, test: SplitPredictions, path: Path, resample) -> None:
        first, units, weights, source = self._test_set(face_set, test, path)
        if not test.same_faces(first):
            raise InputError(f"{path}: scores other test faces of {face_set} than {source} "
                             "(a run made from an older face store? make it again)")
        self.test[key] = test
        self.resampled[key] = resample(weights, units, test.label, test.p_fake, test.group)
        whole = resample(np.ones((1, len(units.label))), units, test.label, test.p_fake, test.group)
        self.full[key] = {name: float(v[0]) for name, v in whole.items()}  # as metrics.json has them
        self.correct[key] = _correct(test)
        if np.unique(test.p_fake >= 0.5).size == 1:
            self.constant.add(key)

    def _test_set(self, dataset: str, test: SplitPredictions, path: Path):
        if dataset not in self.test_sets:
            units = bootstrap.Units.of(test.label, test.group)
            weights = bootstrap.group_weights(units.label, self.n_resamples, self._rng(dataset))
            self.test_sets[dataset] = (test, units, weights, str(path))
            fake_rate = float(np.mean(test.label))
            self.majority[dataset] = max(fake_rate, 1.0 - fake_rate)
        return self.test_sets[dataset]

    def _rng(self, *key) -> np.random.Generator:
        """A generator of its own per (statistics.seed, key): adding a dataset or run changes no other draw."""
        return np.random.default_rng([self.seed, *(zlib.crc32(str(k).encode()) for k in key)])

    def has(self, paths) -> bool:
        return all(p in self.resampled for p in paths)

    def run(self, path: str, metric: str) -> tuple[float, float]:
        """The 95% interval of one run's test `metric` (NaN when it has no predictions or no such metric)."""
        values = self.resampled.get(path, {}).get(metric)
        return (math.nan, math.nan) if values is None else bootstrap.interval(values)

    def over_seeds(self, paths: list[str], metric: str, dataset: str) -> tuple[float, float]:
        """The 95% interval of the mean over seeds of the runs `paths` (one per seed): test groups alone with
        one seed, seeds then groups with more."""
        if not paths or not self.has(paths) or metric not in self.resampled[paths[0]]:
            return math.nan, math.nan
        per_seed = np.stack([self.resampled[p][metric] for p in paths])
        return bootstrap.interval(bootstrap.over_seeds(per_seed, self._draws(dataset, len(paths))))

    def of_rows(self, rows: pd.DataFrame, metric: str) -> tuple[float, float]:
        """`over_seeds` of metrics rows (one run per seed, all tested on one dataset; NaN otherwise)."""
        if rows.empty or rows["dataset"].nunique() != 1:
            return math.nan, math.nan
        rows = rows.sort_values("seed")
        return self.over_seeds(list(rows["path"]), metric, rows["dataset"].iloc[0])

    def _draws(self, dataset: str, n_seeds: int) -> np.ndarray | None:
        if n_seeds < 2:
            return None
        return bootstrap.seed_draws(n_seeds, self.n_resamples, self._rng(dataset, "seeds", n_seeds))

    def paired(self, a: dict[int, str], b: dict[int, str], metric: str, dataset: str) -> Paired | None:
        """a − b over the seeds both have (`a`, `b`: seed -> metrics path), or None when they share none
        with predictions."""
        seeds = [s for s in a if s in b and self.has([a[s], b[s]])]
        if not seeds:
            return None
        for s in seeds:
            if not self.test[a[s]].same_faces(self.test[b[s]]):
                raise InputError(f"{a[s]} and {b[s]}: not scored on the same test faces, so not comparable")
        a_values = {s: self.full[a[s]][metric] for s in seeds}
        b_values = {s: self.full[b[s]][metric] for s in seeds}
        differences = np.stack([self.resampled[a[s]][metric] - self.resampled[b[s]][metric] for s in seeds])
        draws = self._draws(dataset, len(seeds))
        low, high = bootstrap.interval(bootstrap.over_seeds(differences, draws))
        p_values = {s: bootstrap.mcnemar(self.correct[a[s]], self.correct[b[s]]) for s in seeds}
        delta = float(np.mean([a_values[s] - b_values[s] for s in seeds]))
        return Paired(delta, low, high, max(p_values.values()), p_values, differences, draws, a_values, b_values)


def _correct(test: SplitPredictions) -> np.ndarray:
    """Which faces the run gets right, for McNemar: per group (video, by its mean probability) where a group
    holds several frames, since frames of one video are not independent; per face otherwise."""
    if has_groups(test.group):
        labels, probs = group_mean(test.label, test.p_fake, test.group)
        return (probs >= 0.5).astype(int) == labels
    return (test.p_fake >= 0.5).astype(int) == test.label


def study_intervals(frame: pd.DataFrame, predictions: dict[Path, Path], statistics: dict) -> Intervals:
    """The bootstrap of every run in `frame` (one row per metrics.json; `predictions` maps a metrics path
    to the predictions.csv declared beside it), each on the test set of the dataset it was tested on."""
    intervals = Intervals(statistics)
    for path, dataset in zip(frame["path"], frame["dataset"]):
        intervals.add_run(path, dataset, predictions.get(Path(path)))
    if intervals.without:
        log.warning("%d runs have no predictions.csv (made by an older version): no intervals for them",
                    len(intervals.without))
    return intervals


def add_run_intervals(frame: pd.DataFrame, intervals: Intervals) -> pd.DataFrame:
    """`test_<metric>_ci_low` and `_ci_high` columns (fractions, as the metrics) for every run, and
    `constant_predictions`: whether it predicts one class for every test face (its interval's width is then
    the test set's, not the model's)."""
    frame = frame.copy()
    frame["constant_predictions"] = [path in intervals.constant for path in frame["path"]]
    for metric in METRICS + VIDEO_METRICS:
        bounds = [intervals.run(path, metric) for path in frame["path"]]
        frame[f"test_{metric}_ci_low"] = [b[0] for b in bounds]
        frame[f"test_{metric}_ci_high"] = [b[1] for b in bounds]
    return frame
