"""The report's tables, each a `Table` (numbers for CSV, formatted strings for Markdown and LaTeX).

Accuracy and sparsity are in percent (columns `*_pct*`), AUC a fraction; spread is the sample standard
deviation over seeds (blank with one seed). Every number comes from the metrics files' rows.
"""

from __future__ import annotations

import math

import pandas as pd

from deepfake_lth.lottery.methods import CONTROL_METHODS, IMP_METHODS, PRUNING_METHODS, method_label
from deepfake_lth.models.registry import model_label
from deepfake_lth.paths import level_name
from deepfake_lth.report import paper
from deepfake_lth.report.cells import (
    as_float, count, is_missing, mean_pm_std, number, pm_column, signed, sparsity_range,
)
from deepfake_lth.report.compare import paper_comparison_table
from deepfake_lth.report.formats import Table
from deepfake_lth.report.roles import Roles
from deepfake_lth.report.summary import (
    in_domain,
    ordered,
    sort_rows,
    summarize_over_seeds,
    transferred,
)

NAN = math.nan
ACCURACY = ("test_accuracy_pct_mean", "test_accuracy_pct_std")


def accuracy_table(frame: pd.DataFrame, params: dict) -> Table:
    """Table 1: accuracy and AUC against measured sparsity, per dataset x model x method x level."""
    keys = ["dataset", "model", "method", "level"]
    summary = sort_rows(summarize_over_seeds(in_domain(frame), keys), params)
    numbers = summary.reindex(columns=[
        *keys, "nominal_sparsity_pct", "sparsity_pct_mean", *ACCURACY, "test_auc_mean", "test_auc_std",
        "n_seeds", "seeds",
    ])
    display = pd.DataFrame({
        "dataset": numbers["dataset"],
        "model": numbers["model"].map(model_label),
        "method": numbers["method"].map(method_label),
        "level": numbers["level"],
        "sparsity % (measured)": numbers["sparsity_pct_mean"].map(lambda v: number(v, 1)),
        "accuracy %": pm_column(numbers, "test_accuracy_pct"),
        "AUC": [mean_pm_std(m, s, 3) for m, s in zip(numbers["test_auc_mean"], numbers["test_auc_std"])],
        "seeds": numbers["n_seeds"],
    })
    return Table("table1_accuracy_vs_sparsity", "Test accuracy and AUC against measured sparsity (mean ± std over seeds)", numbers, display)


def imp_vs_oneshot_table(frame: pd.DataFrame, params: dict) -> Table | None:
    """Table 2: IMP-Global and IMP-Local against one-shot at each level, with the differences."""
    rows = in_domain(frame)
    methods = [m for m in PRUNING_METHODS if m in set(rows["method"])]
    if not methods:
        return None
    summary = summarize_over_seeds(rows[rows["method"].isin(methods)], ["dataset", "model", "level", "method"])
    numbers = sort_rows(_wide_by_method(summary, ["dataset", "model", "level"], methods), params)
    for imp in IMP_METHODS:
        if imp in methods and "oneshot" in methods:
            numbers[f"{imp}_minus_oneshot_pct"] = (
                numbers[f"{imp}_test_accuracy_pct_mean"] - numbers["oneshot_test_accuracy_pct_mean"]
            )
    display = pd.DataFrame({
        "dataset": numbers["dataset"],
        "model": numbers["model"].map(model_label),
        "level": numbers["level"],
        "sparsity % (measured)": sparsity_range(numbers, methods),
    })
    for method in methods:
        display[f"{method_label(method)} %"] = pm_column(numbers, f"{method}_test_accuracy_pct")
    for imp in IMP_METHODS:
        column = f"{imp}_minus_oneshot_pct"
        if column in numbers:
            display[f"Δ {method_label(imp)} − one-shot"] = numbers[column].map(signed)
    return Table("table2_imp_vs_oneshot", "IMP against one-shot pruning at each level (test accuracy %, mean ± std over seeds)", numbers, display)


def controls_table(frame: pd.DataFrame, params: dict) -> Table | None:
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
    summary = summarize_over_seeds(chosen, ["dataset", "model", "level", "method"])
    methods = [ticket, *controls]
    numbers = sort_rows(_wide_by_method(summary, ["dataset", "model", "level"], methods), params)
    numbers.insert(3, "ticket", ticket)
    for control in controls:
        numbers[f"{control}_minus_ticket_pct"] = (
            numbers[f"{control}_test_accuracy_pct_mean"] - numbers[f"{ticket}_test_accuracy_pct_mean"]
        )
    display = pd.DataFrame({
        "dataset": numbers["dataset"],
        "model": numbers["model"].map(model_label),
        "level": numbers["level"],
        "sparsity % (measured)": sparsity_range(numbers, methods),
        f"ticket ({method_label(ticket)}) %": pm_column(numbers, f"{ticket}_test_accuracy_pct"),
    })
    for control in controls:
        display[f"{method_label(control)} %"] = pm_column(numbers, f"{control}_test_accuracy_pct")
        display[f"Δ {method_label(control).removesuffix(' (control)')} − ticket"] = numbers[f"{control}_minus_ticket_pct"].map(signed)
    return Table("table3_controls", f"Controls against the ticket ({method_label(ticket)}) at their levels (test accuracy %)", numbers, display)


def transfer_tables(frame: pd.DataFrame, params: dict) -> list[Table]:
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
    return [_transfer_table(frame, moved, source, target, params) for source, target in pairs]


def _transfer_table(frame, moved, source, target, params) -> Table:
    cells = moved[(moved["source_dataset"] == source) & (moved["dataset"] == target)]
    models = ordered(cells["model"], list(params.get("models", [])))
    methods = ordered(cells["method"], list(PRUNING_METHODS))
    levels = sorted(set(cells["level"]))
    dense = summarize_over_seeds(
        in_domain(frame)[lambda f: (f["dataset"] == target) & (f["method"] == "dense")], ["model"]
    ).set_index("model")
    summary = summarize_over_seeds(cells, ["model", "method", "level"])
    numbers = pd.DataFrame({"source": source, "target": target, "model": models})
    display = pd.DataFrame({"model": [model_label(m) for m in models]})
    numbers["dense_test_accuracy_pct_mean"] = [_get(dense, m, ACCURACY[0]) for m in models]
    numbers["dense_test_accuracy_pct_std"] = [_get(dense, m, ACCURACY[1]) for m in models]
    display[f"dense ({target}) %"] = pm_column(numbers, "dense_test_accuracy_pct")
    for level in levels:
        for method in methods:
            hits = summary[(summary["method"] == method) & (summary["level"] == level)].set_index("model")
            if hits.empty:
                continue
            prefix = f"{method}_{level_name(level)}"
            numbers[f"{prefix}_sparsity_pct"] = [_get(hits, m, "sparsity_pct_mean") for m in models]
            numbers[f"{prefix}_test_accuracy_pct_mean"] = [_get(hits, m, ACCURACY[0]) for m in models]
            numbers[f"{prefix}_test_accuracy_pct_std"] = [_get(hits, m, ACCURACY[1]) for m in models]
            label = f"{method_label(method)} L{level} ({hits['sparsity_pct_mean'].mean():.1f}%)"
            display[label] = pm_column(numbers, f"{prefix}_test_accuracy_pct")
    title = f"Tickets found on {source} trained and tested on {target} (test accuracy %; cf. the paper's Table I)"
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
    return Table("table6_parameters", "Parameter counts measured from the checkpoints (means over seeds)", numbers, display)


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


def build_tables(frame: pd.DataFrame, gradcam_records: list[dict], params: dict, roles: Roles) -> list[Table]:
    """Every table the data allows, in report order."""
    tables = [
        accuracy_table(frame, params),
        imp_vs_oneshot_table(frame, params),
        controls_table(frame, params),
        *transfer_tables(frame, params),
        paper_comparison_table(frame, params, roles),
        parameter_table(frame, params),
        gradcam_table(gradcam_records, params),
    ]
    return [t for t in tables if t is not None]


def _wide_by_method(summary: pd.DataFrame, keys: list[str], methods: list[str]) -> pd.DataFrame:
    """One row per `keys`, with `<method>_{sparsity_pct, test_accuracy_pct_mean, _std, n_seeds}` columns."""
    rows = []
    for key, group in summary.groupby(keys, sort=False):
        row = dict(zip(keys, key))
        by_method = group.set_index("method")
        for method in methods:
            row[f"{method}_sparsity_pct"] = _get(by_method, method, "sparsity_pct_mean")
            row[f"{method}_test_accuracy_pct_mean"] = _get(by_method, method, ACCURACY[0])
            row[f"{method}_test_accuracy_pct_std"] = _get(by_method, method, ACCURACY[1])
            row[f"{method}_n_seeds"] = _get(by_method, method, "n_seeds")
        rows.append(row)
    return pd.DataFrame(rows)


def _get(indexed: pd.DataFrame, key, column: str) -> float:
    if key not in indexed.index:
        return NAN
    return float(indexed.loc[key, column])
