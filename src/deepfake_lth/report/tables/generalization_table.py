"""The generalization table: accuracy and AUC of the dense run and every method at the controls' levels,
trained on one dataset (rows) and tested on each dataset's test faces (columns), with their 95% intervals.
The CSV has one row per seed (fractions, full precision); the Markdown, LaTeX and HTML show one matrix per
model, method and level, the means over seeds (accuracy in percent, AUC a fraction)."""

from __future__ import annotations

import math

import pandas as pd

from deepfake_lth import methods
from deepfake_lth.models.registry import model_label
from deepfake_lth.report.statistics.generalization import Generalization
from deepfake_lth.report.summary import ordered
from deepfake_lth.report.tables.cells import MISSING, number
from deepfake_lth.report.tables.formats import Table

NAME = "generalization"
COLUMNS = ["trained_on", "tested_on", "model", "seed", "method", "level", "accuracy", "ci_low", "ci_high",
           "auc", "auc_ci_low", "auc_ci_high", "sparsity", "n_faces"]
MATRIX = ["model", "method", "level", "trained_on"]  # one row of a matrix per trained_on; tested_on its columns


def in_report_order(table: pd.DataFrame, params: dict, keys: list[str]) -> pd.DataFrame:
    """Rows by `keys`, datasets and models in params order, methods in the registry's, levels rising."""
    datasets = list(params.get("datasets", {}))
    preferred = {"trained_on": datasets, "tested_on": datasets, "model": list(params.get("models", [])),
                 "method": list(methods.order())}

    def rank(column: pd.Series) -> pd.Series:
        if column.name not in preferred:
            return column
        position = {name: i for i, name in enumerate(ordered(column, preferred[column.name]))}
        return column.map(position)

    return table.sort_values(keys, key=rank, kind="stable").reset_index(drop=True)


def generalization_table(generalization: Generalization, params: dict) -> Table | None:
    if generalization.per_seed.empty:
        return None
    per_seed = generalization.per_seed
    numbers = in_report_order(per_seed, params, ["trained_on", "tested_on", "model", "method", "level", "seed"])
    seeds = "means over seeds; the CSV has each seed" if per_seed["seed"].nunique() > 1 else "one seed"
    title = (f"Generalization: accuracy and AUC trained on one dataset (rows), tested on each (columns) ({seeds}; "
             "95% intervals; the diagonal is in-domain)")
    return Table(NAME, title, numbers[COLUMNS], matrices(generalization.pooled, params))


def matrices(pooled: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Per model, method and level, two rows per trained_on (accuracy %, AUC), one column per tested_on."""
    tested = ordered(pooled["tested_on"], list(params.get("datasets", {})))
    rows = []
    rows_of_matrices = in_report_order(pooled, params, MATRIX).groupby(MATRIX, sort=False)
    for (model, method, level, trained_on), cells in rows_of_matrices:
        by_tested = cells.set_index("tested_on")
        identity = {"model": model_label(model), "method": methods.label(method), "level": level,
                    "sparsity %": number(100 * cells["sparsity"].mean(), 1), "trained on": trained_on}
        for metric, cell in (("accuracy %", _accuracy_cell), ("AUC", _auc_cell)):
            rows.append({**identity, "metric": metric,
                         **{f"tested on {d}": cell(by_tested.loc[d]) if d in by_tested.index else MISSING
                            for d in tested}})
    return pd.DataFrame(rows)


def _accuracy_cell(row: pd.Series) -> str:
    accuracy, low, high = 100 * row["accuracy"], 100 * row["ci_low"], 100 * row["ci_high"]
    return number(accuracy) if math.isnan(low) else f"{accuracy:.2f} [{low:.2f}, {high:.2f}]"


def _auc_cell(row: pd.Series) -> str:
    auc, low, high = row["auc"], row["auc_ci_low"], row["auc_ci_high"]
    return number(auc, 3) if math.isnan(low) else f"{auc:.3f} [{low:.3f}, {high:.3f}]"
