"""Robustness: every scored run's accuracy and AUC under each perturbation and severity, with intervals,
its accuracy drop, and a ticket's drop against its dense model's (the claims "tickets are as robust").

A run's robustness.csv holds its clean scores of every test face and its scores under each perturbation.
A corruption is scored on the dataset's test faces, so it is resampled with the same group draws as the
run's clean predictions; an attack is scored on the dataset's adversarial subset, a face set of its own
with its own draws. Every perturbation has a reference: the clean scores of its face set (severity 0 in
the table). A run's drop is its accuracy under the perturbation minus its reference accuracy, resample by
resample (a paired difference); a ticket's drop against the dense model's is the difference of the two
differences on the same faces, seeds and draws (`Paired.minus`), whose interval is the paired bootstrap's
alone: McNemar's test does not apply to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_lth import methods
from deepfake_lth.conditions.perturbations import CLEAN, perturbation, strongest_severities
from deepfake_lth.conditions.robustness_file import read_robustness
from deepfake_lth.errors import InputError
from deepfake_lth.predictions import SplitPredictions
from deepfake_lth.report.statistics.comparisons import PAIRED
from deepfake_lth.report.statistics.intervals import Intervals, Paired

REFERENCE = 0.0  # the severity of a perturbation's reference row: the clean faces of its face set
ROBUST_VS_DENSE = "ticket drop − dense drop"  # the comparisons' kind the robustness claims read
SETTING = ["dataset", "model", "method", "level", "perturbation", "severity"]


@dataclass(frozen=True)
class Robustness:
    """The study's robustness results: `per_seed` (one row per scoring) and `pooled` (over seeds)."""

    per_seed: pd.DataFrame
    pooled: pd.DataFrame

    @classmethod
    def of(cls, intervals: Intervals, runs: pd.DataFrame, files: dict[Path, Path]) -> "Robustness":
        scorings = add_scorings(intervals, runs, files)
        if scorings.empty:
            return cls(pd.DataFrame(), pd.DataFrame())
        return cls(per_seed_rows(intervals, scorings), pooled_rows(intervals, scorings))

    def datasets(self) -> list[str]:
        return list(dict.fromkeys(self.pooled["dataset"])) if not self.pooled.empty else []


def face_set(dataset: str, name: str) -> str:
    """The faces a perturbation is scored on: the dataset's test faces, or for an attack its adversarial subset."""
    return f"{dataset} · adversarial subset" if perturbation(name).attack else dataset


def _restricted(clean: SplitPredictions, scored: SplitPredictions, path: Path) -> SplitPredictions:
    """The clean scores of the faces `scored` covers (an attack's subset), in its order."""
    position = {int(i): k for k, i in enumerate(clean.index)}
    if any(int(i) not in position for i in scored.index):
        raise InputError(f"{path}: attacked faces without a clean row")
    rows = np.array([position[int(i)] for i in scored.index], dtype=np.int64)
    return SplitPredictions(clean.index[rows], clean.group[rows], clean.label[rows], clean.p_fake[rows])


def add_scorings(intervals: Intervals, runs: pd.DataFrame, files: dict[Path, Path]) -> pd.DataFrame:
    """Resample every scoring of the robustness files `files` (metrics path -> robustness.csv) of `runs`
    (metrics rows) into `intervals`. One row per run, perturbation and severity, each perturbation's
    reference (REFERENCE) included: the run's identity, its `key` and its `reference`'s in `intervals`,
    and the `face_set` both are drawn from."""
    rows = []
    for run in runs.itertuples():
        path = files.get(Path(run.path))
        if path is None:
            continue
        scores = read_robustness(path)
        if (CLEAN, REFERENCE) not in scores:
            raise InputError(f"{path}: no clean rows (perturbation '{CLEAN}')")
        clean = scores.pop((CLEAN, REFERENCE))
        by_name: dict[str, list] = {}
        for (name, severity), scored in scores.items():
            by_name.setdefault(name, []).append((severity, scored))
        references: dict[str, str] = {}
        for name, scored_at in by_name.items():
            try:
                where = face_set(run.dataset, name)
            except ValueError as e:
                raise InputError(f"{path}: {e}") from None
            if where not in references:
                references[where] = f"{run.path}|{CLEAN}|{where}"
                faces = clean if where == run.dataset else _restricted(clean, scored_at[0][1], path)
                intervals.add_scores(references[where], where, faces, path)
            reference = references[where]
            rows.append(_row(run, name, REFERENCE, reference, reference, where))
            for severity, scored in scored_at:
                key = f"{run.path}|{name}|{severity!r}"
                intervals.add_scores(key, where, scored, path)
                rows.append(_row(run, name, severity, key, reference, where))
    return pd.DataFrame(rows)


def _row(run, name: str, severity: float, key: str, reference: str, where: str) -> dict:
    return {"path": run.path, "dataset": run.dataset, "model": run.model, "seed": int(run.seed),
            "method": run.method, "level": int(run.level), "sparsity": run.sparsity, "perturbation": name,
            "severity": severity, "key": key, "reference": reference, "face_set": where}


def per_seed_rows(intervals: Intervals, scorings: pd.DataFrame) -> pd.DataFrame:
    """One row per scoring (each seed its own): accuracy and AUC on its faces with their 95% intervals (test
    groups), and beyond the reference its accuracy drop with the paired interval. Fractions, as metrics.json."""
    rows = []
    for scoring in scorings.itertuples():
        low, high = intervals.run(scoring.key, "accuracy")
        auc_low, auc_high = intervals.run(scoring.key, "auc")
        drop = (None if scoring.severity == REFERENCE else
                intervals.paired({scoring.seed: scoring.key}, {scoring.seed: scoring.reference}, "accuracy",
                                 scoring.face_set))
        full = intervals.full[scoring.key]
        rows.append({
            **{c: getattr(scoring, c) for c in ("dataset", "model", "seed", "method", "level", "sparsity",
                                                "perturbation", "severity")},
            "n_faces": len(intervals.test[scoring.key]),
            "accuracy": full["accuracy"], "ci_low": low, "ci_high": high,
            "auc": full["auc"], "auc_ci_low": auc_low, "auc_ci_high": auc_high,
            "drop": math.nan if drop is None else drop.delta,
            "drop_ci_low": math.nan if drop is None else drop.low, "drop_ci_high": math.nan if drop is None else drop.high,
        })
    return pd.DataFrame(rows)


def pooled_rows(intervals: Intervals, scorings: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset x model x method x level x perturbation x severity, over its seeds: the mean
    accuracy and AUC with the 95% interval of the mean (seeds, then test groups), the mean drop with its
    paired interval, and for a method other than dense, its drop against the dense model's (`vs_dense`,
    a Paired of the accuracy drops, kept for the claims; `drop` the run's own Paired)."""
    if scorings.empty:
        return pd.DataFrame()
    rows = []
    for setting, group in scorings.groupby(SETTING, sort=False):
        group = group.sort_values("seed")
        keys, references = dict(zip(group["seed"], group["key"])), dict(zip(group["seed"], group["reference"]))
        where = group["face_set"].iloc[0]
        accuracy = intervals.over_seeds(list(keys.values()), "accuracy", where)
        auc = intervals.over_seeds(list(keys.values()), "auc", where)
        row = dict(zip(SETTING, setting))
        drop = None if row["severity"] == REFERENCE else intervals.paired(keys, references, "accuracy", where)
        rows.append({**row, "n_seeds": len(keys), "seeds": " ".join(map(str, keys)),
                     "sparsity": float(group["sparsity"].mean()),
                     "accuracy": float(np.mean([intervals.full[k]["accuracy"] for k in keys.values()])),
                     "ci_low": accuracy[0], "ci_high": accuracy[1],
                     "auc": float(np.mean([intervals.full[k]["auc"] for k in keys.values()])),
                     "auc_ci_low": auc[0], "auc_ci_high": auc[1], "drop": drop})
    table = pd.DataFrame(rows)
    dense = {tuple(r[c] for c in ("dataset", "model", "perturbation", "severity")): r["drop"]
             for r in rows if r["method"] == methods.DENSE}
    table["vs_dense"] = [_versus(row["drop"], dense.get((row["dataset"], row["model"], row["perturbation"],
                                                         row["severity"])), row["method"])
                         for row in rows]
    return table


def _versus(drop: Paired | None, dense: Paired | None, method: str) -> Paired | None:
    if drop is None or dense is None or method == methods.DENSE or drop.seeds != dense.seeds:
        return None
    return drop.minus(dense)


def claim_comparisons(table: pd.DataFrame, params: dict) -> pd.DataFrame:
    """The rows the robustness claims read, in the columns of the comparisons frame (comparisons.py), one per
    method, level and perturbation at the strongest severity of its grid: Δ = the method's accuracy drop
    minus the dense model's, in points."""
    if table.empty:
        return pd.DataFrame()
    strongest = strongest_severities(params["robustness"])
    rows = []
    for row in table[table["vs_dense"].notna()].itertuples():
        if strongest.get(row.perturbation) != row.severity:
            continue
        paired = row.vs_dense
        rows.append({
            "comparison": ROBUST_VS_DENSE, "source_dataset": None, "dataset": row.dataset, "model": row.model,
            "level": int(row.level), "a": f"{methods.label(row.method)} L{row.level} drop", "b": "dense drop",
            "a_method": row.method, "b_method": methods.DENSE, "perturbation": row.perturbation,
            "severity": row.severity, "n_seeds": len(paired.seeds), "delta_accuracy_pct": 100 * paired.delta,
            "ci_low": 100 * paired.low, "ci_high": 100 * paired.high, "p_value": math.nan,
            "constant_predictions": "", PAIRED: paired,
        })
    return pd.DataFrame(rows)
