"""Generalization: every scored run's accuracy and AUC on the test faces of each dataset it is scored on, with
intervals, and a ticket's AUC against its dense model's on the same faces (the claim "tickets generalize").

A run's generalization.csv holds its scores of each tested dataset's test faces; its own dataset is the
diagonal (the scores of its predictions.csv). A scoring is resampled with the group draws of the tested
dataset's test faces: the draws every run trained on that dataset is resampled with, and for a dataset that
is only tested on (evaluate_only), the draws Intervals makes from its faces the first time they are scored.
A ticket's AUC minus its dense model's on one tested dataset is paired resample by resample (`Intervals.paired`
on AUC); McNemar's test, which counts right faces at the 0.5 threshold, does not test AUC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_lth import methods
from deepfake_lth.conditions.generalization_file import read_generalization
from deepfake_lth.report.statistics.comparisons import PAIRED
from deepfake_lth.report.statistics.intervals import Intervals, Paired

UNSEEN_VS_DENSE = "ticket AUC − dense AUC, unseen dataset"  # the comparisons' kind the generalization claim reads
BASELINE_AT_CHANCE = "baseline_at_chance"  # a comparison's note: why its dense side learned nothing there
CHANCE_AUC = 0.5  # what a score unrelated to the label ranks
CELL = ["trained_on", "tested_on", "model"]
SETTING = [*CELL, "method", "level"]


@dataclass(frozen=True)
class Generalization:
    """The study's generalization results: `per_seed` (one row per run and tested dataset) and `pooled`
    (over seeds, with each method's AUC against the dense model's, `vs_dense`)."""

    per_seed: pd.DataFrame
    pooled: pd.DataFrame

    @classmethod
    def of(cls, intervals: Intervals, runs: pd.DataFrame, files: dict[Path, Path]) -> "Generalization":
        scorings = add_scorings(intervals, runs, files)
        if scorings.empty:
            return cls(pd.DataFrame(), pd.DataFrame())
        return cls(per_seed_rows(intervals, scorings), pooled_rows(intervals, scorings))

    def models(self) -> list[str]:
        return list(dict.fromkeys(self.pooled["model"])) if not self.pooled.empty else []


def add_scorings(intervals: Intervals, runs: pd.DataFrame, files: dict[Path, Path]) -> pd.DataFrame:
    """Resample every scoring of the generalization files `files` (metrics path -> generalization.csv) of
    `runs` (metrics rows) into `intervals`, each with the draws of its tested dataset. One row per run and
    tested dataset: the run's identity, `trained_on`, `tested_on` and its `key` in `intervals`. A file of its
    own dataset alone (a model outside generalization.models) is left out: it repeats predictions.csv."""
    rows = []
    for run in runs.itertuples():
        path = files.get(Path(run.path))
        scored = read_generalization(path) if path is not None else {}
        if set(scored) <= {run.dataset}:
            continue
        for tested_on, scores in scored.items():
            key = f"{run.path}|generalization|{tested_on}"
            intervals.add_scores(key, tested_on, scores, path)
            rows.append({"path": run.path, "trained_on": run.dataset, "tested_on": tested_on, "model": run.model,
                         "seed": int(run.seed), "method": run.method, "level": int(run.level),
                         "sparsity": run.sparsity, "key": key})
    return pd.DataFrame(rows)


def per_seed_rows(intervals: Intervals, scorings: pd.DataFrame) -> pd.DataFrame:
    """One row per scoring (each seed its own): accuracy and AUC on the tested dataset's test faces with their
    95% intervals (its test groups). Fractions, as metrics.json."""
    rows = []
    for scoring in scorings.itertuples():
        low, high = intervals.run(scoring.key, "accuracy")
        auc_low, auc_high = intervals.run(scoring.key, "auc")
        full = intervals.full[scoring.key]
        rows.append({
            **{c: getattr(scoring, c) for c in ("trained_on", "tested_on", "model", "seed", "method", "level")},
            "accuracy": full["accuracy"], "ci_low": low, "ci_high": high,
            "auc": full["auc"], "auc_ci_low": auc_low, "auc_ci_high": auc_high,
            "sparsity": scoring.sparsity, "n_faces": len(intervals.test[scoring.key]),
        })
    return pd.DataFrame(rows)


def pooled_rows(intervals: Intervals, scorings: pd.DataFrame) -> pd.DataFrame:
    """One row per trained_on x tested_on x model x method x level, over its seeds: the mean accuracy and AUC
    with the 95% interval of the mean (seeds, then the tested dataset's test groups), and for a method other
    than dense its AUC minus the dense model's on the same faces and seeds (`vs_dense`, a Paired, fractions)."""
    settings = [({**dict(zip(SETTING, setting)), "sparsity": float(group["sparsity"].mean())},
                 dict(zip(group["seed"], group["key"])))
                for setting, group in scorings.sort_values("seed", kind="stable").groupby(SETTING, sort=False)]
    dense = {tuple(row[c] for c in CELL): keys for row, keys in settings if row["method"] == methods.DENSE}
    return pd.DataFrame([{**_pooled(intervals, row, keys),
                          "vs_dense": _versus(intervals, row, keys, dense.get(tuple(row[c] for c in CELL)))}
                         for row, keys in settings])


def _pooled(intervals: Intervals, row: dict, keys: dict) -> dict:
    """`row` (a SETTING and its sparsity) with its runs' (`keys`: seed -> key) means and intervals over seeds."""
    paths = list(keys.values())
    accuracy = intervals.over_seeds(paths, "accuracy", row["tested_on"])
    auc = intervals.over_seeds(paths, "auc", row["tested_on"])
    return {**row, "n_seeds": len(keys), "seeds": " ".join(map(str, keys)),
            "accuracy": float(np.mean([intervals.full[k]["accuracy"] for k in paths])),
            "ci_low": accuracy[0], "ci_high": accuracy[1],
            "auc": float(np.mean([intervals.full[k]["auc"] for k in paths])), "auc_ci_low": auc[0],
            "auc_ci_high": auc[1]}


def _versus(intervals: Intervals, row: dict, keys: dict, dense: dict | None) -> Paired | None:
    if dense is None or row["method"] == methods.DENSE:
        return None
    return intervals.paired(keys, dense, "auc", row["tested_on"])


def generalization_comparisons(pooled: pd.DataFrame) -> pd.DataFrame:
    """The rows the generalization claim reads, in the columns of the comparisons frame (comparisons.py), one
    per off-diagonal cell (trained_on as `source_dataset`, tested_on as `dataset`), model, method and level:
    Δ = the method's AUC minus the dense model's, in points (AUC × 100, in the column `delta_accuracy_pct`
    the claims read), and BASELINE_AT_CHANCE where the dense model's AUC there does not lie above 0.5."""
    if pooled.empty:
        return pd.DataFrame()
    unseen = pooled[pooled["trained_on"] != pooled["tested_on"]]
    dense = {tuple(row[c] for c in CELL): row for _, row in unseen[unseen["method"] == methods.DENSE].iterrows()}
    rows = []
    for _, row in unseen[unseen["vs_dense"].notna()].iterrows():
        paired = row["vs_dense"]
        rows.append({
            "comparison": UNSEEN_VS_DENSE, "source_dataset": row["trained_on"], "dataset": row["tested_on"],
            "model": row["model"], "level": int(row["level"]),
            "a": f"{methods.label(row['method'])} L{row['level']} AUC", "b": "dense AUC", "a_method": row["method"],
            "b_method": methods.DENSE, "n_seeds": len(paired.seeds),
            "delta_accuracy_pct": 100 * paired.delta, "ci_low": 100 * paired.low, "ci_high": 100 * paired.high,
            "p_value": math.nan, "constant_predictions": "", PAIRED: paired,
            BASELINE_AT_CHANCE: _at_chance(dense[tuple(row[c] for c in CELL)]),
        })
    return pd.DataFrame(rows)


def _at_chance(dense: pd.Series) -> str:
    """Why a claim on this cell is not testable when the dense model's AUC interval (pooled over seeds) on the
    unseen dataset does not lie above 0.5, else ''."""
    low, high = dense["auc_ci_low"], dense["auc_ci_high"]
    if math.isnan(low) or low > CHANCE_AUC:
        return ""
    return (f"the dense model trained on {dense['trained_on']} is at chance on {dense['tested_on']}: its AUC "
            f"[{low:.3f}, {high:.3f}] does not lie above {CHANCE_AUC:g}")
