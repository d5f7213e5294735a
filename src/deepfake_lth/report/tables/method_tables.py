"""Tables 2 and 3: methods against each other at each level, with the paired differences on the same test
faces. Which methods a table sets side by side is asked of the method registry (families, controls)."""

from __future__ import annotations

import math

import pandas as pd

from deepfake_lth import methods
from deepfake_lth.models.registry import model_label
from deepfake_lth.report.statistics.comparisons import IMP_VS_ONESHOT, TICKET_VS_CONTROL, imp_methods, oneshot_methods
from deepfake_lth.report.statistics.intervals import Intervals
from deepfake_lth.report.summary import ACCURACY, CI, in_domain, sort_rows, spread_note, summarize_over_seeds, value_at
from deepfake_lth.report.tables.cells import p_value, pm_column, signed_interval, sparsity_range
from deepfake_lth.report.tables.formats import Table

NAN = math.nan
IMP_VS_ONESHOT_TABLE = f"table2_{methods.IMP}_vs_{methods.ONESHOT}"  # the families it compares


def imp_vs_oneshot_table(frame: pd.DataFrame, params: dict, intervals: Intervals,
                         comparisons: pd.DataFrame) -> Table | None:
    """Table 2: the pruning methods at each level, with the paired differences of each IMP-family method
    against each one-shot-family method."""
    rows = in_domain(frame)
    present = [m for m in methods.pruning_methods() if m in set(rows["method"])]
    if not present:
        return None
    numbers = _side_by_side(rows[rows["method"].isin(present)], present, params, intervals)
    pairs = [(imp, one_shot) for imp in imp_methods() for one_shot in oneshot_methods()
             if imp in present and one_shot in present]
    for imp, one_shot in pairs:
        _difference(numbers, f"{imp}_minus_{one_shot}_pct", imp, one_shot)
        _add_paired(numbers, comparisons, IMP_VS_ONESHOT, imp, one_shot, f"{imp}_minus_{one_shot}")
    display = _leading_columns(numbers, present)
    for method in present:
        display[f"{methods.label(method)} %"] = pm_column(numbers, f"{method}_test_accuracy_pct")
    for imp, one_shot in pairs:
        _paired_display(display, numbers, f"{imp}_minus_{one_shot}",
                        f"{methods.label(imp)} − {methods.label(one_shot)}")
    return Table(IMP_VS_ONESHOT_TABLE, f"IMP against one-shot pruning at each level (test accuracy %, "
                 f"{spread_note(frame)}; Δ paired on the same test faces)", numbers, display)


def controls_table(frame: pd.DataFrame, params: dict, intervals: Intervals, comparisons: pd.DataFrame) -> Table | None:
    """Table 3: the controls against the ticket whose mask they copy, at their levels."""
    rows = in_domain(frame)
    controls = [m for m in methods.control_methods() if m in set(rows["method"])]
    if not controls:
        return None
    ticket = params["pruning"]["controls"]["ticket"]
    control_rows = rows[rows["method"].isin(controls)]
    levels = control_rows[["dataset", "model", "level"]].drop_duplicates()
    chosen = rows.merge(levels, on=["dataset", "model", "level"])
    chosen = chosen[chosen["method"].isin([ticket, *controls])]
    shown = [ticket, *controls]
    numbers = _side_by_side(chosen, shown, params, intervals)
    numbers.insert(3, "ticket", ticket)
    for control in controls:
        _difference(numbers, f"{control}_minus_ticket_pct", control, ticket)
        _add_paired(numbers, comparisons, TICKET_VS_CONTROL, ticket, control, f"ticket_minus_{control}")
    display = _leading_columns(numbers, shown)
    display[f"ticket ({methods.label(ticket)}) %"] = pm_column(numbers, f"{ticket}_test_accuracy_pct")
    for control in controls:
        display[f"{methods.label(control)} %"] = pm_column(numbers, f"{control}_test_accuracy_pct")
        _paired_display(display, numbers, f"ticket_minus_{control}", f"ticket − {methods.method(control).short_label}")
    return Table("table3_controls", f"Controls against the ticket ({methods.label(ticket)}) at their levels (test "
                 f"accuracy %, {spread_note(frame)}; Δ paired on the same test faces)", numbers, display)


def _side_by_side(rows: pd.DataFrame, shown: list[str], params: dict, intervals: Intervals) -> pd.DataFrame:
    """The `shown` methods' summaries over seeds, one row per dataset, model and level (wide_by_method)."""
    summary = summarize_over_seeds(rows, ["dataset", "model", "level", "method"], intervals)
    return sort_rows(wide_by_method(summary, ["dataset", "model", "level"], shown), params)


def _difference(numbers: pd.DataFrame, column: str, a: str, b: str) -> None:
    """`column`: the mean test accuracy of method a minus that of method b, in points."""
    numbers[column] = numbers[f"{a}_test_accuracy_pct_mean"] - numbers[f"{b}_test_accuracy_pct_mean"]


def _leading_columns(numbers: pd.DataFrame, shown: list[str]) -> pd.DataFrame:
    """A table's first display columns: the setting, and the measured sparsity of the `shown` methods."""
    return pd.DataFrame({
        "dataset": numbers["dataset"],
        "model": numbers["model"].map(model_label),
        "level": numbers["level"],
        "sparsity % (measured)": sparsity_range(numbers, shown),
    })


def _add_paired(numbers: pd.DataFrame, comparisons: pd.DataFrame, kind: str, a: str, b: str, prefix: str) -> None:
    """`<prefix>_delta_pct`, `_ci_low`, `_ci_high` and `_p_value` columns from the paired comparison a − b of
    each row's dataset, model and level (NaN where it was not made)."""
    found = {}
    if not comparisons.empty:
        hits = comparisons[(comparisons["comparison"] == kind) & (comparisons["a_method"] == a)
                           & (comparisons["b_method"] == b)]
        found = {(d, m, lv): r for d, m, lv, r in zip(hits["dataset"], hits["model"], hits["level"],
                                                      hits.itertuples(index=False))}
    for column, field in (("delta_pct", "delta_accuracy_pct"), ("ci_low", "ci_low"), ("ci_high", "ci_high"),
                          ("p_value", "p_value")):
        numbers[f"{prefix}_{column}"] = [getattr(found[key], field) if key in found else NAN
                                         for key in zip(numbers["dataset"], numbers["model"], numbers["level"])]


def _paired_display(display: pd.DataFrame, numbers: pd.DataFrame, prefix: str, label: str) -> None:
    display[f"Δ {label} [95% CI]"] = [signed_interval(d, lo, hi) for d, lo, hi in zip(
        numbers[f"{prefix}_delta_pct"], numbers[f"{prefix}_ci_low"], numbers[f"{prefix}_ci_high"])]
    display[f"p ({label})"] = numbers[f"{prefix}_p_value"].map(p_value)


def wide_by_method(summary: pd.DataFrame, keys: list[str], shown: list[str]) -> pd.DataFrame:
    """One row per `keys`, with `<method>_{sparsity_pct, test_accuracy_pct_mean, _std, _ci_low, _ci_high, n_seeds}`
    columns for each method of `shown`."""
    rows = []
    for key, group in summary.groupby(keys, sort=False):
        row = dict(zip(keys, key))
        by_method = group.set_index("method")
        for method in shown:
            row[f"{method}_sparsity_pct"] = value_at(by_method, method, "sparsity_pct_mean")
            for column in (*ACCURACY, *CI):
                row[f"{method}_{column}"] = value_at(by_method, method, column)
            row[f"{method}_n_seeds"] = value_at(by_method, method, "n_seeds")
        rows.append(row)
    return pd.DataFrame(rows)
