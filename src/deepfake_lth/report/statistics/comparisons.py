"""Every paired comparison the paper makes, scored on the same test faces: Δ accuracy and Δ AUC with a
paired, grouped bootstrap interval (hierarchical over seeds) and an exact McNemar p-value.

- a ticket (each method that makes its own mask) against its dense model, at each level;
- each method of the IMP family against each of the one-shot family at the same level, and against each
  pruning-at-initialisation and each structured method there (beyond the paper);
- the controls' ticket against each control at the control levels;
- a transferred ticket against the target's dense model and against the target's own ticket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from deepfake_lth import methods
from deepfake_lth.models.registry import model_label
from deepfake_lth.report.statistics.chance import constant_sides
from deepfake_lth.report.statistics.intervals import Intervals
from deepfake_lth.report.summary import in_domain, sort_rows, transferred
from deepfake_lth.report.tables.cells import MISSING, p_value, signed_interval
from deepfake_lth.report.tables.formats import Table

TICKET_VS_DENSE, IMP_VS_ONESHOT, TICKET_VS_CONTROL = "ticket − dense", "IMP − one-shot", "ticket − control"
IMP_VS_AT_INIT = "IMP − pruning at init"
IMP_VS_STRUCTURED = "IMP − structured"
PAIRED = "paired"  # the column of intervals.Paired objects (accuracy), read by the claims, never written
TRANSFER_VS_DENSE, TRANSFER_VS_OWN = "transferred − target dense", "transferred − target's own ticket"


def imp_methods() -> tuple[str, ...]:
    """The registered methods of the IMP family (the a side of IMP − one-shot)."""
    return methods.names(lambda m: m.family == methods.IMP)


def at_init_methods() -> tuple[str, ...]:
    """The registered methods that prune at initialisation (the b side of IMP − pruning at init)."""
    return methods.names(lambda m: m.family == methods.AT_INIT)


def structured_methods() -> tuple[str, ...]:
    """The registered methods that prune whole channels (the b side of IMP − structured)."""
    return methods.names(lambda m: m.family == methods.STRUCTURED)


def oneshot_methods() -> tuple[str, ...]:
    """The registered methods of the one-shot family (the b side of IMP − one-shot)."""
    return methods.names(lambda m: m.family == methods.ONESHOT)


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a method at a level, its runs by seed, their mean measured sparsity."""

    method: str
    level: int
    runs: dict  # seed -> metrics path
    sparsity: float

    @classmethod
    def of(cls, rows: pd.DataFrame, method: str, level: int) -> "Side | None":
        hits = rows[(rows["method"] == method) & (rows["level"] == level)]
        if hits.empty:
            return None
        return cls(method, level, dict(zip(hits["seed"].astype(int), hits["path"])), float(hits["sparsity"].mean()))

    def label(self) -> str:
        if self.method == methods.DENSE:
            return methods.label(self.method)
        return f"{methods.label(self.method)} L{self.level} ({100 * self.sparsity:.1f}%)"


def comparisons_frame(frame: pd.DataFrame, params: dict, intervals: Intervals) -> pd.DataFrame:
    """One row per comparison of the study (columns: comparison, source_dataset, dataset, model, level,
    a, b, their sparsities, seeds, Δ accuracy in points and Δ AUC with their 95% intervals, p_value)."""
    rows = []
    own = in_domain(frame)
    for (dataset, model), runs in own.groupby(["dataset", "model"], sort=False):
        dense = Side.of(runs, methods.DENSE, 0)
        levels = sorted(set(runs["level"]) - {0})
        for level in levels:
            tickets = {m: Side.of(runs, m, level) for m in methods.pruning_methods()}
            for ticket in filter(None, tickets.values()):
                rows.append(_row(TICKET_VS_DENSE, None, dataset, model, level, ticket, dense, intervals))
            for imp in imp_methods():
                for one_shot in oneshot_methods():
                    rows.append(_row(IMP_VS_ONESHOT, None, dataset, model, level, tickets[imp], tickets[one_shot],
                                     intervals))
                for at_init in at_init_methods():
                    rows.append(_row(IMP_VS_AT_INIT, None, dataset, model, level, tickets[imp], tickets[at_init],
                                     intervals))
                for structured in structured_methods():
                    rows.append(_row(IMP_VS_STRUCTURED, None, dataset, model, level, tickets[imp],
                                     tickets[structured], intervals))
            ticket = tickets.get(params["pruning"]["controls"]["ticket"])
            for control in methods.control_methods():
                rows.append(_row(TICKET_VS_CONTROL, None, dataset, model, level, ticket, Side.of(runs, control, level),
                                 intervals))
    moved = transferred(frame)
    for (source, target, model), cells in moved.groupby(["source_dataset", "dataset", "model"], sort=False):
        target_runs = own[(own["dataset"] == target) & (own["model"] == model)]
        for (method, level), _ in cells.groupby(["method", "level"], sort=False):
            ticket = Side.of(cells, method, level)
            rows.append(_row(TRANSFER_VS_DENSE, source, target, model, level, ticket,
                             Side.of(target_runs, methods.DENSE, 0), intervals))
            rows.append(_row(TRANSFER_VS_OWN, source, target, model, level, ticket,
                             Side.of(target_runs, method, level), intervals))
    table = pd.DataFrame([r for r in rows if r is not None])
    return sort_rows(table, params) if not table.empty else table


def _row(kind, source, dataset, model, level, a: Side | None, b: Side | None, intervals: Intervals) -> dict | None:
    if a is None or b is None:
        return None
    accuracy = intervals.paired(a.runs, b.runs, "accuracy", dataset)
    auc = intervals.paired(a.runs, b.runs, "auc", dataset)
    seeds = accuracy.seeds if accuracy is not None else sorted(set(a.runs) & set(b.runs))
    return {
        "comparison": kind, "source_dataset": source, "dataset": dataset, "model": model, "level": int(level),
        "a": a.label(), "b": b.label(), "a_method": a.method, "b_method": b.method,
        "a_sparsity_pct": 100 * a.sparsity, "b_sparsity_pct": 100 * b.sparsity,
        "n_seeds": len(seeds), "seeds": " ".join(map(str, seeds)),
        "delta_accuracy_pct": _pct(accuracy, "delta"), "ci_low": _pct(accuracy, "low"), "ci_high": _pct(accuracy, "high"),
        "delta_auc": _value(auc, "delta"), "auc_ci_low": _value(auc, "low"), "auc_ci_high": _value(auc, "high"),
        "p_value": _value(accuracy, "p_value"),
        "per_seed_delta_accuracy_pct": "" if accuracy is None else
        " ".join(f"{s}:{100 * d:+.2f}" for s, d in accuracy.per_seed.items()),
        "constant_predictions": constant_sides(a.runs, b.runs, intervals),
        PAIRED: accuracy,  # the resampled accuracy difference, for the claims (dropped from the written table)
    }


def _pct(paired, field: str) -> float:
    return math.nan if paired is None else 100.0 * getattr(paired, field)


def _value(paired, field: str) -> float:
    return math.nan if paired is None else float(getattr(paired, field))


def comparisons_table(comparisons: pd.DataFrame) -> Table | None:
    """Every paired comparison, as numbers (CSV) and as cells 'Δ [low, high]'."""
    if comparisons.empty:
        return None
    display = pd.DataFrame({
        "comparison": comparisons["comparison"],
        "dataset": [d if not isinstance(s, str) else f"{s} → {d}"
                    for s, d in zip(comparisons["source_dataset"], comparisons["dataset"])],
        "model": comparisons["model"].map(model_label),
        "a": comparisons["a"], "b": comparisons["b"],
        "seeds": comparisons["n_seeds"],
        "Δ accuracy (points) [95% CI]": [signed_interval(d, lo, hi) for d, lo, hi in
                                         zip(comparisons["delta_accuracy_pct"], comparisons["ci_low"], comparisons["ci_high"])],
        "Δ AUC [95% CI]": [signed_interval(d, lo, hi, 3) for d, lo, hi in
                           zip(comparisons["delta_auc"], comparisons["auc_ci_low"], comparisons["auc_ci_high"])],
        "McNemar p": comparisons["p_value"].map(p_value),
        "per seed Δ": [s if n > 1 else MISSING for s, n in zip(comparisons["per_seed_delta_accuracy_pct"],
                                                               comparisons["n_seeds"])],
        "predicts one class": comparisons["constant_predictions"].replace("", MISSING),
    })
    return Table("comparisons", "Paired comparisons on the same test faces (Δ = a − b, 95% intervals, McNemar p)",
                 comparisons.drop(columns=PAIRED), display)

