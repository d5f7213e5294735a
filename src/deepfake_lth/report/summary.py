"""Aggregation over seeds and the canonical order of datasets, models and methods."""

from __future__ import annotations

import math

import pandas as pd

from deepfake_lth import methods

# Columns of summarize_over_seeds: test accuracy in percent (mean, std) and its 95% interval.
ACCURACY = ("test_accuracy_pct_mean", "test_accuracy_pct_std")
CI = ("test_accuracy_pct_ci_low", "test_accuracy_pct_ci_high")


def in_domain(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of models trained and tested on the same dataset (train and prune stages)."""
    return frame[frame["stage"] != "transfer"]


def transferred(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of tickets trained on another dataset than the one they were found on."""
    return frame[frame["stage"] == "transfer"]


def spread_note(frame: pd.DataFrame) -> str:
    """What a cell's '±' and '[low, high]' are, for a title: never "over seeds" when one seed ran."""
    if frame["seed"].nunique() > 1:
        return "mean ± std over seeds [95% interval: seeds, test groups]"
    return "one seed [95% interval over test groups]"


def summarize_over_seeds(frame: pd.DataFrame, keys: list[str], intervals=None) -> pd.DataFrame:
    """One row per `keys` group: mean and sample std (ddof=1; NaN with one seed) over seeds, and with
    `intervals` (report.statistics.intervals.Intervals) the 95% interval of the mean: `test_accuracy_pct_ci_low`,
    `_ci_high`, `test_auc_ci_low`, `_ci_high` (test groups with one seed; seeds, then groups with more).

    Accuracy and sparsity are in percent (`*_pct_*`), AUC stays a fraction, counts are means.
    """
    if frame.empty:
        return pd.DataFrame(columns=[*keys, "n_seeds"])
    grouped = frame.groupby(keys, sort=False, dropna=False)
    summary = grouped.agg(
        n_seeds=("seed", "nunique"),
        seeds=("seed", lambda s: " ".join(str(v) for v in sorted(set(s)))),
        nominal_sparsity_pct=("nominal_sparsity", "mean"),
        sparsity_pct_mean=("sparsity", "mean"),
        test_accuracy_pct_mean=("test_accuracy", "mean"),
        test_accuracy_pct_std=("test_accuracy", "std"),
        test_auc_mean=("test_auc", "mean"),
        test_auc_std=("test_auc", "std"),
        remaining_weights=("remaining_weights", "mean"),
        prunable_weights=("prunable_weights", "mean"),
        total_parameters=("total_parameters", "mean"),
    ).reset_index()
    if "constant_predictions" in frame.columns:  # runs predicting one class (intervals.add_run_intervals)
        summary["constant_runs"] = grouped["constant_predictions"].sum().to_numpy().astype(int)
    for column in ("nominal_sparsity_pct", "sparsity_pct_mean", "test_accuracy_pct_mean", "test_accuracy_pct_std"):
        summary[column] = summary[column] * 100.0
    if intervals is not None:
        bounds = {"accuracy": [], "auc": []}
        for _, rows in grouped:
            for metric in bounds:
                bounds[metric].append(intervals.of_rows(rows, metric))
        for metric, column, scale in (("accuracy", "test_accuracy_pct", 100.0), ("auc", "test_auc", 1.0)):
            summary[f"{column}_ci_low"] = [b[0] * scale for b in bounds[metric]]
            summary[f"{column}_ci_high"] = [b[1] * scale for b in bounds[metric]]
    return summary


def sort_rows(table: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Rows in the order of params.yaml (datasets, models), then the method registry's order, then level."""
    preferred = {
        "dataset": list(params.get("datasets", {})),
        "source_dataset": list(params.get("datasets", {})),
        "model": list(params.get("models", [])),
        "method": list(methods.order()),
    }
    keys = [c for c in ("source_dataset", "dataset", "model", "method", "level") if c in table.columns]
    if table.empty or not keys:
        return table.reset_index(drop=True)

    def rank(column: pd.Series) -> pd.Series:
        if column.name not in preferred:
            return column
        position = {name: i for i, name in enumerate(ordered(column, preferred[column.name]))}
        return column.map(lambda name: position.get(name, -1))

    return table.sort_values(keys, key=rank, kind="stable").reset_index(drop=True)


def ordered(names, preferred: list[str]) -> list[str]:
    """The distinct `names`, those in `preferred` first in its order, the rest sorted."""
    names = {n for n in names if isinstance(n, str)}
    return [n for n in preferred if n in names] + sorted(names - set(preferred))


def value_at(indexed: pd.DataFrame, key, column: str) -> float:
    """`indexed.loc[key, column]` as a float; NaN when there is no row `key`."""
    if key not in indexed.index:
        return math.nan
    return float(indexed.loc[key, column])
