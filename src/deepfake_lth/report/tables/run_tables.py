"""The report's tables, each a `Table` (numbers for CSV, formatted strings for Markdown and LaTeX), in
report order (build_tables); here the per-run tables (1, 6, 7), in method_tables.py the methods side by side
(2, 3), in transfer_tables.py the transfer pairs (4), in paper_comparison.py the paper's numbers beside ours (5).

Accuracy and sparsity are in percent (columns `*_pct*`), AUC a fraction. A cell reads 'mean ± std [low, high]':
the mean over seeds, the sample standard deviation over seeds (absent with one seed) and the 95% interval
of the mean (report.statistics.intervals: a bootstrap over test groups, and over seeds when several ran). Every
number comes from the metrics files' rows and the predictions beside them.
"""

from __future__ import annotations

import math

import pandas as pd

from deepfake_lth import methods
from deepfake_lth.models.registry import model_label
from deepfake_lth.report import paper
from deepfake_lth.report.roles import Roles
from deepfake_lth.report.statistics.claims import claims_frame, claims_table
from deepfake_lth.report.statistics.claims_summary import claims_summary, claims_summary_table
from deepfake_lth.report.statistics.comparisons import comparisons_frame, comparisons_table
from deepfake_lth.report.statistics.intervals import Intervals
from deepfake_lth.report.summary import ACCURACY, CI, in_domain, sort_rows, spread_note, summarize_over_seeds
from deepfake_lth.report.tables.cells import as_float, count, is_missing, mean_pm_std, number, pm_column
from deepfake_lth.report.tables.formats import Table
from deepfake_lth.report.tables.method_tables import controls_table, imp_vs_oneshot_table
from deepfake_lth.report.tables.paper_comparison import paper_comparison_table
from deepfake_lth.report.tables.transfer_tables import transfer_tables

NAN = math.nan
AUC_CI = ("test_auc_ci_low", "test_auc_ci_high")


def accuracy_table(frame: pd.DataFrame, params: dict, intervals: Intervals) -> Table:
    """Table 1: accuracy and AUC against measured sparsity, per dataset x model x method x level."""
    keys = ["dataset", "model", "method", "level"]
    summary = sort_rows(summarize_over_seeds(in_domain(frame), keys, intervals), params)
    numbers = summary.reindex(columns=[
        *keys, "nominal_sparsity_pct", "sparsity_pct_mean", *ACCURACY, *CI, "test_auc_mean", "test_auc_std",
        *AUC_CI, "n_seeds", "seeds", "constant_runs",
    ])
    display = pd.DataFrame({
        "dataset": numbers["dataset"],
        "model": numbers["model"].map(model_label),
        "method": numbers["method"].map(methods.label),
        "level": numbers["level"],
        "sparsity % (measured)": numbers["sparsity_pct_mean"].map(lambda v: number(v, 1)),
        "accuracy %": [cell + (f" ({n:.0f} run{'s' if n > 1 else ''} predicting one class)" if n > 0 else "")
                       for cell, n in zip(pm_column(numbers, "test_accuracy_pct"), numbers["constant_runs"].fillna(0))],
        "AUC": [mean_pm_std(m, s, 3) if is_missing(lo) else f"{mean_pm_std(m, s, 3)} [{lo:.3f}, {hi:.3f}]"
                for m, s, lo, hi in zip(numbers["test_auc_mean"], numbers["test_auc_std"],
                                        numbers["test_auc_ci_low"], numbers["test_auc_ci_high"])],
        "seeds": numbers["n_seeds"],
    })
    return Table("table1_accuracy_vs_sparsity", f"Test accuracy and AUC against measured sparsity ({spread_note(frame)})",
                 numbers, display)


def parameter_table(frame: pd.DataFrame, params: dict) -> Table:
    """Table 6: measured parameter counts (total, prunable, remaining) per dataset x model x method x level."""
    keys = ["dataset", "model", "method", "level"]
    summary = sort_rows(summarize_over_seeds(in_domain(frame), keys), params)
    numbers = summary.reindex(columns=[*keys, "total_parameters", "prunable_weights", "remaining_weights", "sparsity_pct_mean"])
    numbers["paper_stated_parameters_millions"] = [
        paper.STATED_PARAMETERS_MILLIONS.get(m, NAN) if method == methods.DENSE else NAN
        for m, method in zip(numbers["model"], numbers["method"])
    ]
    display = pd.DataFrame({
        "dataset": numbers["dataset"],
        "model": numbers["model"].map(model_label),
        "method": numbers["method"].map(methods.label),
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
        "map of": [methods.label(m if lv else methods.DENSE) for m, lv in zip(numbers["method"], numbers["level"])],
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
                 intervals: Intervals, more_comparisons: pd.DataFrame | None = None) -> list[Table]:
    """Every table the data allows, in report order: the claims' verdicts first. `more_comparisons` are
    comparisons of the same columns made elsewhere (robustness), which only the claims read."""
    comparisons = comparisons_frame(frame, params, intervals)
    claimed = comparisons if more_comparisons is None or more_comparisons.empty else \
        pd.concat([comparisons, more_comparisons], ignore_index=True)
    claims = claims_frame(claimed, frame, params, roles, intervals)
    tables = [
        claims_summary_table(claims_summary(claims, params["statistics"]["margin"])),
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
