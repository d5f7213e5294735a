"""Deployment: what each scored run costs to store and to run (the deploy stage's deployment.csv, one per
dataset x model x seed), beside its test accuracy with its 95% interval, and each run against the dense run
of its setting: sizes and latencies as ratios, accuracy as a paired difference on the same test faces.

A ratio is the run's mean over seeds divided by the dense run's, at the same runtime and thread count; a
size ratio divides by the dense run's bytes_dense (the dense model as it ships). Unstructured tickets are
timed as the dense network, so their latency ratio is what the measurement gives for the same network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from deepfake_lth import methods
from deepfake_lth.deployment.deployment_file import IDENTITY, RUNTIMES, read_deployment
from deepfake_lth.report.statistics.intervals import Intervals, Paired

TIMING = ["runtime", "threads"]
SETTING = ["dataset", "model", "method", "level", *TIMING]  # a pooled row: one per setting over its seeds
MEASURED = ["mask_sparsity", "effective_sparsity", "total_parameters", "nonzero_parameters", "macs", "effective_macs",
            "bytes_dense", "bytes_sparse", "bytes_compressed", "latency_ms_b1", "latency_iqr_ms_b1", "latency_ms_b32",
            "latency_iqr_ms_b32"]
BYTES = ("bytes_dense", "bytes_sparse", "bytes_compressed")
LATENCIES = ("latency_ms_b1", "latency_ms_b32")
ACCURACY = {"test_accuracy": "accuracy", "test_accuracy_ci_low": "ci_low", "test_accuracy_ci_high": "ci_high"}


@dataclass(frozen=True)
class Deployment:
    """The study's deployment measurements: `per_seed` (deployment.csv's rows, each with its run's test accuracy
    and interval) and `pooled` (over seeds, with ratios to the dense run and `vs_dense`, a Paired accuracy)."""

    per_seed: pd.DataFrame
    pooled: pd.DataFrame

    @classmethod
    def of(cls, intervals: Intervals, runs: pd.DataFrame, files: list[Path]) -> "Deployment":
        """`runs`: the in-domain metrics rows with their intervals (add_run_intervals); `files`: deployment.csv."""
        if not files:
            return cls(pd.DataFrame(), pd.DataFrame())
        per_seed = with_accuracy(in_timing_order(pd.concat(map(read_deployment, files), ignore_index=True)), runs)
        return cls(per_seed, pooled_rows(intervals, per_seed))

    def models(self) -> list[str]:
        return list(dict.fromkeys(self.pooled["model"])) if not self.pooled.empty else []

    def at(self, runtime: str, threads: int) -> pd.DataFrame:
        """The pooled rows of one runtime and thread count."""
        if self.pooled.empty:
            return self.pooled
        return self.pooled[(self.pooled["runtime"] == runtime) & (self.pooled["threads"] == threads)]


def in_timing_order(measured: pd.DataFrame) -> pd.DataFrame:
    """Rows by seed, runtime (deployment_file's order) and thread count, so that a stable sort by run keeps them so."""
    rank = measured["runtime"].map(RUNTIMES.index)
    return measured.assign(_r=rank).sort_values(["seed", "_r", "threads"], kind="stable").drop(columns="_r")


def with_accuracy(measured: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """`measured` with each run's metrics `path`, test accuracy and its 95% interval (fractions; NaN where the run
    has no metrics file)."""
    accuracy = runs[[*IDENTITY, "path", *ACCURACY]].rename(columns=ACCURACY)
    accuracy = accuracy.astype({"seed": int, "level": int})
    measured = measured.astype({"seed": int, "level": int, "threads": int})
    return measured.merge(accuracy, on=list(IDENTITY), how="left", validate="many_to_one")


def pooled_rows(intervals: Intervals, per_seed: pd.DataFrame) -> pd.DataFrame:
    """One row per SETTING: the means over seeds of MEASURED and of accuracy, accuracy's interval over seeds,
    the ratios to the dense run (`<latency>_ratio`, `<bytes>_ratio`) and `vs_dense` (accuracy − dense's)."""
    rows = []
    for setting, group in per_seed.groupby(SETTING, sort=False):
        runs = dict(zip(group["seed"], group["path"])) if group["path"].notna().all() else {}
        low, high = intervals.over_seeds(list(runs.values()), "accuracy", setting[0])
        rows.append({**dict(zip(SETTING, setting)), **group[MEASURED].mean().to_dict(),
                     "architecture": group["architecture"].iloc[0], "n_seeds": group["seed"].nunique(),
                     "seeds": " ".join(map(str, sorted(set(group["seed"])))), "accuracy": group["accuracy"].mean(),
                     "ci_low": low, "ci_high": high, "runs": runs})
    pooled = pd.DataFrame(rows)
    dense = pooled[pooled["method"] == methods.DENSE].set_index(["dataset", "model", *TIMING])
    matched = dense.reindex(pd.MultiIndex.from_frame(pooled[["dataset", "model", *TIMING]]))
    for column in LATENCIES:
        pooled[f"{column}_ratio"] = pooled[column].to_numpy() / matched[column].to_numpy()
    for column in BYTES:
        pooled[f"{column}_ratio"] = pooled[column].to_numpy() / matched["bytes_dense"].to_numpy()
    pooled["vs_dense"] = [_versus(intervals, row, dense_runs)
                          for row, dense_runs in zip(pooled.itertuples(), matched["runs"])]
    return pooled.drop(columns="runs")


def _versus(intervals: Intervals, row, dense: dict) -> Paired | None:
    if row.method == methods.DENSE or not isinstance(dense, dict) or not row.runs or not dense:
        return None
    return intervals.paired(row.runs, dense, "accuracy", row.dataset)

