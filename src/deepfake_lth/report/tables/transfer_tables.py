"""Table 4: tickets found on one dataset, trained and tested on another, one table per transfer pair."""

from __future__ import annotations

import pandas as pd

from deepfake_lth import methods
from deepfake_lth.models.registry import model_label
from deepfake_lth.paths import TRANSFER_SEPARATOR, level_name
from deepfake_lth.report.statistics.intervals import Intervals
from deepfake_lth.report.summary import (
    ACCURACY, CI, in_domain, ordered, spread_note, summarize_over_seeds, transferred, value_at,
)
from deepfake_lth.report.tables.cells import pm_column
from deepfake_lth.report.tables.formats import Table


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
    shown = ordered(cells["method"], list(methods.pruning_methods()))
    levels = sorted(set(cells["level"]))
    dense = summarize_over_seeds(
        in_domain(frame)[lambda f: (f["dataset"] == target) & (f["method"] == methods.DENSE)], ["model"], intervals
    ).set_index("model")
    summary = summarize_over_seeds(cells, ["model", "method", "level"], intervals)
    numbers = pd.DataFrame({"source": source, "target": target, "model": models})
    display = pd.DataFrame({"model": [model_label(m) for m in models]})
    for column in (*ACCURACY, *CI):
        numbers[column.replace("test_", "dense_test_", 1)] = [value_at(dense, m, column) for m in models]
    display[f"dense ({target}) %"] = pm_column(numbers, "dense_test_accuracy_pct")
    for level in levels:
        for method in shown:
            hits = summary[(summary["method"] == method) & (summary["level"] == level)].set_index("model")
            if hits.empty:
                continue
            prefix = f"{method}_{level_name(level)}"
            numbers[f"{prefix}_sparsity_pct"] = [value_at(hits, m, "sparsity_pct_mean") for m in models]
            for column in (*ACCURACY, *CI):
                numbers[f"{prefix}_{column}"] = [value_at(hits, m, column) for m in models]
            label = f"{methods.label(method)} L{level} ({hits['sparsity_pct_mean'].mean():.1f}%)"
            display[label] = pm_column(numbers, f"{prefix}_test_accuracy_pct")
    title = (f"Tickets found on {source} trained and tested on {target} (test accuracy %, {spread_note(frame)}; "
             "cf. the paper's Table I)")
    return Table(f"table4_transfer_{source}{TRANSFER_SEPARATOR}{target}", title, numbers, display)
