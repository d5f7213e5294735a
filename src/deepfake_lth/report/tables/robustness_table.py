"""The robustness table: accuracy and AUC of the dense run and every method at the controls' levels under
each perturbation and severity, with their intervals, each run's accuracy drop and its drop against the
dense model's. The CSV has one row per seed (fractions, full precision); the Markdown, LaTeX and HTML
show the means over seeds (percent, points)."""

from __future__ import annotations

import math

import pandas as pd

from deepfake_lth import methods
from deepfake_lth.conditions.perturbations import label as perturbation_label, names, perturbation
from deepfake_lth.models.registry import model_label
from deepfake_lth.report.statistics.robustness import REFERENCE
from deepfake_lth.report.summary import sort_rows
from deepfake_lth.report.tables.cells import MISSING, number, signed_interval
from deepfake_lth.report.tables.formats import Table

NAME = "robustness"
COLUMNS = ["dataset", "model", "seed", "method", "level", "perturbation", "severity", "accuracy", "ci_low", "ci_high",
           "auc", "auc_ci_low", "auc_ci_high", "sparsity", "n_faces", "drop", "drop_ci_low", "drop_ci_high"]


def in_report_order(table: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Rows by dataset, model, method, level (params and registry order), then perturbation (registry
    order) and severity (the reference, then mildest to strongest)."""
    rank = {(name, severity): position  # the reference (0) first, then the perturbation's grid mildest first
            for name, severities in table.groupby("perturbation")["severity"].unique().items()
            for position, severity in enumerate(perturbation(name).ordered([s for s in severities if s != REFERENCE]))}
    ranked = table.assign(_p=table["perturbation"].map(list(names()).index),
                          _s=[rank.get(key, -1) for key in zip(table["perturbation"], table["severity"])])
    ranked = ranked.sort_values(["_p", "_s"], kind="stable").drop(columns=["_p", "_s"])
    return sort_rows(ranked, params)


def severity_cell(name: str, severity: float) -> str:
    """'clean' for a reference row, else the severity in words ('quality 30', 'ε = 1/255')."""
    return "clean" if severity == REFERENCE else perturbation(name).severity_text(severity)


def robustness_table(per_seed: pd.DataFrame, pooled: pd.DataFrame, params: dict) -> Table | None:
    if per_seed.empty:
        return None
    numbers = in_report_order(per_seed, params)[COLUMNS]
    shown = in_report_order(pooled, params)
    display = pd.DataFrame({
        "dataset": shown["dataset"],
        "model": shown["model"].map(model_label),
        "method": shown["method"].map(methods.label),
        "level": shown["level"],
        "sparsity %": (100 * shown["sparsity"]).map(lambda v: number(v, 1)),
        "perturbation": shown["perturbation"].map(perturbation_label),
        "severity": [severity_cell(n, s) for n, s in zip(shown["perturbation"], shown["severity"])],
        "accuracy % [95% CI]": [f"{100 * a:.2f} [{100 * lo:.2f}, {100 * hi:.2f}]" if not math.isnan(lo) else number(100 * a)
                                for a, lo, hi in zip(shown["accuracy"], shown["ci_low"], shown["ci_high"])],
        "AUC [95% CI]": [number(a, 3) if math.isnan(lo) else f"{a:.3f} [{lo:.3f}, {hi:.3f}]"
                         for a, lo, hi in zip(shown["auc"], shown["auc_ci_low"], shown["auc_ci_high"])],
        "drop (points) [95% CI]": [_points(p) for p in shown["drop"]],
        "drop − dense drop (points) [95% CI]": [_points(p) for p in shown["vs_dense"]],
        "seeds": shown["n_seeds"],
    })
    seeds = "mean over seeds; the CSV has each seed" if per_seed["seed"].nunique() > 1 else "one seed"
    return Table(NAME, f"Robustness: accuracy under perturbation ({seeds}; 95% intervals)", numbers, display)


def _points(paired) -> str:
    if paired is None or (isinstance(paired, float) and math.isnan(paired)):
        return MISSING
    return signed_interval(100 * paired.delta, 100 * paired.low, 100 * paired.high)
