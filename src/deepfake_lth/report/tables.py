"""The report's tables, each a `Table` (numbers for CSV, formatted strings for Markdown and LaTeX).

Accuracy and sparsity are in percent (columns `*_pct*`), AUC a fraction. A cell reads 'mean ± std [low, high]':
the mean over seeds, the sample standard deviation over seeds (absent with one seed) and the 95% interval
of the mean (report.intervals: a bootstrap over test groups, and over seeds when several ran). Every
number comes from the metrics files' rows and the predictions beside them.
"""

from __future__ import annotations

import math

import pandas as pd

from deepfake_lth.lottery.methods import CONTROL_METHODS, IMP_METHODS, PRUNING_METHODS, method_label
from deepfake_lth.models.registry import model_label
from deepfake_lth.paths import level_name
from deepfake_lth.report import paper
from deepfake_lth.report.cells import (
    as_float, count, is_missing, mean_pm_std, number, p_value, pm_column, signed_interval, sparsity_range,
)
from deepfake_lth.report.claims import claims_frame, claims_table
from deepfake_lth.report.compare import paper_comparison_table
from deepfake_lth.report.comparisons import (
    IMP_VS_ONESHOT, TICKET_VS_CONTROL, comparisons_frame, comparisons_table,
)
from deepfake_lth.report.formats import Table
from deepfake_lth.report.intervals import Intervals
from deepfake_lth.report.roles import Roles
from deepfake_lth.report.summary import (
    in_domain,
    ordered,
    sort_rows,
    spread_note,
    summarize_over_seeds,
    transferred,
)

NAN = math.nan
ACCURACY = ("test_accuracy_pct_mean", "test_accuracy_pct_std")
CI = ("test_accuracy_pct_ci_low", "test_accuracy_pct_ci_high")
AUC_CI = ("test_auc_ci_low", "test_auc_ci_high")


def accuracy_table(frame: pd.DataFrame, params: dict, intervals: Intervals) -> Table:
    """Table 1: accuracy and AUC against measured sparsity, per dataset x model x method x level."""
    keys = ["dataset", "model", "method", "level"]
    summary = sort_rows(summarize_over_seeds(in_domain(frame), keys, intervals), params)
    numbers = summary.reindex(columns=[
        *keys, "nominal_sparsity_pct", "sparsity_pct_mean", *ACCURACY, *CI, "test_auc_mean", "test_auc_std",
        *AUC_CI, "n_seeds", "seeds",
    ])
    display = pd.DataFrame({
        "dataset": numbers["dataset"],
        "model": numbers["model"].map(model_label),
        "method": numbers["method"].map(method_label),
        "level": numbers["level"],
        "sparsity % (measured)": numbers["sparsity_pct_mean"].map(lambda v: number(v, 1)),
        "accuracy %": pm_column(numbers, "test_accuracy_pct"),
        "AUC": [mean_pm_std(m, s, 3) if is_missing(lo) else f"{mean_pm_std(m, s, 3)} [{lo:.3f}, {hi:.3f}]"
                for m, s, lo, hi in zip(numbers["test_auc_mean"], numbers["test_auc_std"],
                                        numbers["test_auc_ci_low"], numbers["test_auc_ci_high"])],
        "seeds": numbers["n_seeds"],
    })
    return Table("table1_accuracy_vs_sparsity", f"Test accuracy and AUC against measured sparsity ({spread_note(frame)})",
                 numbers, display)


def imp_vs_oneshot_table(frame: pd.DataFrame, params: dict, intervals: Intervals,
                         comparisons: pd.DataFrame) -> Table | None:
    """Table 2: IMP-Global and IMP-Local against one-shot at each level, with the paired differences."""
    rows = in_domain(frame)
    methods = [m for m in PRUNING_METHODS if m in set(rows["method"])]
    if not methods:
        return None
    summary = summarize_over_seeds(rows[rows["method"].isin(methods)], ["dataset", "model", "level", "method"], intervals)
    numbers = sort_rows(_wide_by_method(summary, ["dataset", "model", "level"], methods), params)
    for imp in IMP_METHODS:
        if imp in methods and "oneshot" in methods:
            numbers[f"{imp}_minus_oneshot_pct"] = (
                numbers[f"{imp}_test_accuracy_pct_mean"] - numbers["oneshot_test_accuracy_pct_mean"]
            )
            _add_paired(numbers, comparisons, IMP_VS_ONESHOT, imp, "oneshot", f"{imp}_minus_oneshot")
    display = pd.DataFrame({
        "dataset": numbers["dataset"],
        "model": numbers["model"].map(model_label),
        "level": numbers["level"],
        "sparsity % (measured)": sparsity_range(numbers, methods),
    })
    for method in methods:
        display[f"{method_label(method)} %"] = pm_column(numbers, f"{method}_test_accuracy_pct")
    for imp in IMP_METHODS:
        if f"{imp}_minus_oneshot_pct" in numbers:
            _paired_display(display, numbers, f"{imp}_minus_oneshot", f"{method_label(imp)} − one-shot")
    return Table("table2_imp_vs_oneshot", f"IMP against one-shot pruning at each level (test accuracy %, "
                 f"{spread_note(frame)}; Δ paired on the same test faces)", numbers, display)


def controls_table(frame: pd.DataFrame, params: dict, intervals: Intervals, comparisons: pd.DataFrame) -> Table | None:
    """Table 3: the controls (reinit, random mask) against the ticket whose mask they copy, at their levels."""
    rows = in_domain(frame)
    controls = [m for m in CONTROL_METHODS if m in set(rows["method"])]
    if not controls:
        return None
    ticket = params["pruning"]["controls"]["ticket"]
    control_rows = rows[rows["method"].isin(controls)]
    levels = control_rows[["dataset", "model", "level"]].drop_duplicates()
    chosen = rows.merge(levels, on=["dataset", "model", "level"])
    chosen = chosen[chosen["method"].isin([ticket, *controls])]
    summary = summarize_over_seeds(chosen, ["dataset", "model", "level", "method"], intervals)
    methods = [ticket, *controls]
    numbers = sort_rows(_wide_by_method(summary, ["dataset", "model", "level"], methods), params)
    numbers.insert(3, "ticket", ticket)
    for control in controls:
        numbers[f"{control}_minus_ticket_pct"] = (
            numbers[f"{control}_test_accuracy_pct_mean"] - numbers[f"{ticket}_test_accuracy_pct_mean"]
        )
        _add_paired(numbers, comparisons, TICKET_VS_CONTROL, ticket, control, f"ticket_minus_{control}")
    display = pd.DataFrame({
        "dataset": numbers["dataset"],
        "model": numbers["model"].map(model_label),
        "level": numbers["level"],
        "sparsity % (measured)": sparsity_range(numbers, methods),
        f"ticket ({method_label(ticket)}) %": pm_column(numbers, f"{ticket}_test_accuracy_pct"),
    })
    for control in controls:
        display[f"{method_label(control)} %"] = pm_column(numbers, f"{control}_test_accuracy_pct")
        _paired_display(display, numbers, f"ticket_minus_{control}",
                        f"ticket − {method_label(control).removesuffix(' (control)')}")
    return Table("table3_controls", f"Controls against the ticket ({method_label(ticket)}) at their levels (test "
                 f"accuracy %, {spread_note(frame)}; Δ paired on the same test faces)", numbers, display)


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


def transfer_tables(frame: pd.DataFrame, params: dict, intervals: Intervals) -> list[Table]:
    """Table 4, one per source -> target pair, shaped like the paper's Table I.

    Rows: model. Columns: the target's own dense run, then each transfer method at each level,
    labelled with the measured sparsity (mean over models and seeds).
    """
    moved = transferred(frame)
    if moved.empty:
        return []
    configured = [tuple(p) for p in params.get("transfer", {}).get("pairs", [])]
    found = list(dict.fromkeys(zip(moved["source_dataset"], moved["dataset"])))
    pairs = [p for p in configured if p in found] + sorted(p for p in found if p not in configured)
    return [_transfer_table(frame, moved, source, target, params, intervals) for source, target in pairs]


def _transfer_table(frame, moved, source, target, params, intervals) -> Table:
    cells = moved[(moved["source_dataset"] == source) & (moved["dataset"] == target)]
    models = ordered(cells["model"], list(params.get("models", [])))
    methods = ordered(cells["method"], list(PRUNING_METHODS))
    levels = sorted(set(cells["level"]))
    dense = summarize_over_seeds(
        in_domain(frame)[lambda f: (f["dataset"] == target) & (f["method"] == "dense")], ["model"], intervals
    ).set_index("model")
    summary = summarize_over_seeds(cells, ["model", "method", "level"], intervals)
    numbers = pd.DataFrame({"source": source, "target": target, "model": models})
    display = pd.DataFrame({"model": [model_label(m) for m in models]})
    for column in (*ACCURACY, *CI):
        numbers[column.replace("test_", "dense_test_", 1)] = [_get(dense, m, column) for m in models]
    display[f"dense ({target}) %"] = pm_column(numbers, "dense_test_accuracy_pct")
    for level in levels:
        for method in methods:
            hits = summary[(summary["method"] == method) & (summary["level"] == level)].set_index("model")
            if hits.empty:
                continue
            prefix = f"{method}_{level_name(level)}"
            numbers[f"{prefix}_sparsity_pct"] = [_get(hits, m, "sparsity_pct_mean") for m in models]
            for column in (*ACCURACY, *CI):
                numbers[f"{prefix}_{column}"] = [_get(hits, m, column) for m in models]
            label = f"{method_label(method)} L{level} ({hits['sparsity_pct_mean'].mean():.1f}%)"
            display[label] = pm_column(numbers, f"{prefix}_test_accuracy_pct")
    title = (f"Tickets found on {source} trained and tested on {target} (test accuracy %, {spread_note(frame)}; "
             "cf. the paper's Table I)")
    return Table(f"table4_transfer_{source}__to__{target}", title, numbers, display)


def parameter_table(frame: pd.DataFrame, params: dict) -> Table:
    """Table 6: measured parameter counts (total, prunable, remaining) per dataset x model x method x level."""
    keys = ["dataset", "model", "method", "level"]
    summary = sort_rows(summarize_over_seeds(in_domain(frame), keys), params)
    numbers = summary.reindex(columns=[*keys, "total_parameters", "prunable_weights", "remaining_weights", "sparsity_pct_mean"])
    numbers["paper_stated_parameters_millions"] = [
        paper.STATED_PARAMETERS_MILLIONS.get(m, NAN) if method == "dense" else NAN
        for m, method in zip(numbers["model"], numbers["method"])
    ]
    display = pd.DataFrame({
        "dataset": numbers["dataset"],
        "model": numbers["model"].map(model_label),
        "method": numbers["method"].map(method_label),
        "level": numbers["level"],
        "total parameters": numbers["total_parameters"].map(count),
        "prunable weights": numbers["prunable_weights"].map(count),
        "remaining weights": numbers["remaining_weights"].map(count),
        "sparsity % (measured)": numbers["sparsity_pct_mean"].map(lambda v: number(v, 1)),
        "paper (stated)": numbers["paper_stated_parameters_millions"].map(lambda v: "" if is_missing(v) else f"{v}M"),
    })
    over = " (means over seeds)" if frame["seed"].nunique() > 1 else ""
    return Table("table6_parameters", f"Parameter counts measured from the checkpoints{over}", numbers, display)


def gradcam_table(records: list[dict], params: dict) -> Table | None:
    """Table 7: Grad-CAM change of attention per dataset x model x level (means over the sampled faces)."""
    if not records:
        return None
    rows = []
    for record in records:
        for level in record["levels"]:
            rows.append({
                "dataset": record["dataset"], "model": record["model"], "method": record["method"],
                "level": level["level"], "sparsity_pct": level["sparsity"] * 100.0,
                "n_images": len(record.get("images", [])),
                "mean_map_change_frobenius": level["mean_map_change_frobenius"],
                "mean_map_change_rms": level["mean_map_change_rms"],
                "mean_spearman": as_float(level["mean_spearman"]),
                "sample_accuracy_pct": level["sample_accuracy"] * 100.0,
            })
    numbers = sort_rows(pd.DataFrame(rows), params)
    display = pd.DataFrame({
        "dataset": numbers["dataset"],
        "model": numbers["model"].map(model_label),
        "map of": [method_label(m) if lv else "dense" for m, lv in zip(numbers["method"], numbers["level"])],
        "level": numbers["level"],
        "sparsity %": numbers["sparsity_pct"].map(lambda v: number(v, 1)),
        "faces": numbers["n_images"],
        "‖pruned − dense‖_F": numbers["mean_map_change_frobenius"].map(number),
        "RMS change": numbers["mean_map_change_rms"].map(lambda v: number(v, 3)),
        "Spearman ρ to dense": numbers["mean_spearman"].map(lambda v: number(v, 3)),
        "accuracy on the sample %": numbers["sample_accuracy_pct"].map(lambda v: number(v, 1)),
    })
    return Table("table7_gradcam", "Grad-CAM: change of attention against the dense map (means over the sampled faces)", numbers, display)


def build_tables(frame: pd.DataFrame, gradcam_records: list[dict], params: dict, roles: Roles,
                 intervals: Intervals) -> list[Table]:
    """Every table the data allows, in report order: the claims' verdicts first."""
    comparisons = comparisons_frame(frame, params, intervals)
    claims = claims_frame(comparisons, frame, params, roles)
    tables = [
        claims_table(claims, params["statistics"]["margin"]),
        accuracy_table(frame, params, intervals),
        imp_vs_oneshot_table(frame, params, intervals, comparisons),
        controls_table(frame, params, intervals, comparisons),
        *transfer_tables(frame, params, intervals),
        comparisons_table(comparisons),
        paper_comparison_table(frame, params, roles, intervals),
        parameter_table(frame, params),
        gradcam_table(gradcam_records, params),
    ]
    return [t for t in tables if t is not None]


def _wide_by_method(summary: pd.DataFrame, keys: list[str], methods: list[str]) -> pd.DataFrame:
    """One row per `keys`, with `<method>_{sparsity_pct, test_accuracy_pct_mean, _std, _ci_low, _ci_high, n_seeds}`
    columns."""
    rows = []
    for key, group in summary.groupby(keys, sort=False):
        row = dict(zip(keys, key))
        by_method = group.set_index("method")
        for method in methods:
            row[f"{method}_sparsity_pct"] = _get(by_method, method, "sparsity_pct_mean")
            for column in (*ACCURACY, *CI):
                row[f"{method}_{column}"] = _get(by_method, method, column)
            row[f"{method}_n_seeds"] = _get(by_method, method, "n_seeds")
        rows.append(row)
    return pd.DataFrame(rows)


def _get(indexed: pd.DataFrame, key, column: str) -> float:
    if key not in indexed.index:
        return NAN
    return float(indexed.loc[key, column])
