"""Table 5: the paper's numbers (report.paper) beside ours, each matched to our runs by dataset role,
setting, model, method and the level nearest the paper's sparsity."""

from __future__ import annotations

import math

import pandas as pd

from deepfake_lth import methods
from deepfake_lth.config import level_nearest
from deepfake_lth.models.registry import model_label
from deepfake_lth.report import paper
from deepfake_lth.report.roles import Roles
from deepfake_lth.report.statistics.comparisons import imp_methods
from deepfake_lth.report.statistics.intervals import Intervals
from deepfake_lth.report.summary import in_domain, ordered, spread_note, transferred
from deepfake_lth.report.tables.cells import count, is_missing, mean_pm_std, number, signed
from deepfake_lth.report.tables.formats import Table

NAN = math.nan
QUANTITY_LABELS = {
    "test_accuracy_pct": "test accuracy %",
    "remaining_weights": "weights left",
    "total_parameters_millions": "parameters",
}


def paper_comparison_table(frame: pd.DataFrame, params: dict, roles: Roles, intervals: Intervals) -> Table | None:
    """Table 5: the paper's numbers (report.paper) beside ours, matched by dataset role, with the difference
    (None when the study has none of the paper's models)."""
    models = ordered(set(frame["model"]) | set(params.get("models", [])), list(params.get("models", [])))
    rows = [_compare(number_, frame, params, roles, intervals) for number_ in paper.PAPER_NUMBERS
            if number_.model in models]
    rows += [_compare_size(model, frame, roles) for model in models if model in paper.STATED_PARAMETERS_MILLIONS]
    if not rows:
        return None
    numbers = pd.DataFrame(rows)
    display = pd.DataFrame({
        "setting": numbers["setting"],
        "our data": numbers["dataset"].fillna("not configured"),
        "model": numbers["model"].map(model_label),
        "method (ours)": numbers["method"].map(methods.label),
        "paper sparsity %": numbers["paper_sparsity_pct"].map(lambda v: number(v, 0)),
        "our sparsity %": numbers["sparsity_pct"].map(lambda v: number(v, 1)),
        "quantity": numbers["quantity"].map(QUANTITY_LABELS),
        "paper": [_quantity(q, v) for q, v in zip(numbers["quantity"], numbers["paper"])],
        "ours": [
            (_quantity(q, m, s) + ("" if is_missing(lo) else f" [{lo:.2f}, {hi:.2f}]")) if not is_missing(m) else "not run"
            for q, m, s, lo, hi in zip(numbers["quantity"], numbers["ours_mean"], numbers["ours_std"],
                                       numbers["ours_ci_low"], numbers["ours_ci_high"])
        ],
        "ours − paper": [_quantity_signed(q, d) for q, d in zip(numbers["quantity"], numbers["difference"])],
        "source": numbers["source"],
    })
    return Table("table5_paper_comparison", f"The paper's numbers beside ours (ours: {spread_note(frame)})",
                 numbers, display)


def _compare(number_: paper.PaperNumber, frame, params, roles: Roles, intervals: Intervals) -> dict:
    source, target = roles.dataset(paper.OPENFORENSIC), roles.dataset(paper.FFPP)
    if number_.setting == "transfer":
        dataset = None if source is None or target is None else f"{source} → {target}"
    else:
        dataset = roles.dataset(number_.role)
    level = 0 if number_.method == methods.DENSE else level_nearest(params, number_.sparsity)
    rows = _our_rows(frame, number_, source, target, level)
    method = number_.method if rows.empty else rows["method"].iloc[0]
    if method == methods.IMP:  # Table I's "IMP" (the family, scope unstated) that we did not run
        method = imp_methods()[0]
    if number_.quantity == "remaining_weights":
        values = rows["remaining_weights"]
    else:
        values = rows["test_accuracy"] * 100.0
    mean = values.mean() if len(values) else NAN
    low = high = NAN
    if number_.quantity == "test_accuracy_pct":
        low, high = (100.0 * b for b in intervals.of_rows(rows, "accuracy"))
    return {
        "setting": f"{number_.setting.replace('_', '-')} ({_role_name(number_.role)} role)",
        "paper_role": number_.role,
        "dataset": dataset,
        "model": number_.model,
        "method": method,
        "level": level,
        "paper_sparsity_pct": number_.sparsity * 100.0,
        "sparsity_pct": rows["sparsity"].mean() * 100.0 if len(rows) else NAN,
        "quantity": number_.quantity,
        "paper": number_.value,
        "ours_mean": mean,
        "ours_std": values.std() if len(values) > 1 else NAN,
        "ours_ci_low": low,
        "ours_ci_high": high,
        "n_seeds": int(rows["seed"].nunique()),
        "difference": mean - number_.value,
        "source": number_.where,
    }


def _our_rows(frame, number_: paper.PaperNumber, source, target, level) -> pd.DataFrame:
    """Our metrics rows that correspond to one paper number (empty when we have none)."""
    own = in_domain(frame)
    if number_.setting == "transfer" and number_.method != methods.DENSE:
        cells = transferred(frame)
        cells = cells[(cells["source_dataset"] == source) & (cells["dataset"] == target)]
        candidates = list(imp_methods()) if number_.method == methods.IMP else [number_.method]
        for method in candidates:  # Table I's "IMP" does not say which scope: the first we ran
            hits = cells[(cells["model"] == number_.model) & (cells["method"] == method) & (cells["level"] == level)]
            if not hits.empty:
                return hits
        return cells.iloc[0:0]
    dataset = target if number_.setting == "transfer" else (source if number_.role == paper.OPENFORENSIC else target)
    return own[(own["dataset"] == dataset) & (own["model"] == number_.model)
               & (own["method"] == number_.method) & (own["level"] == level)]


def _compare_size(model: str, frame, roles: Roles) -> dict:
    dense = in_domain(frame)[lambda f: (f["model"] == model) & (f["method"] == methods.DENSE)]
    preferred = dense[dense["dataset"] == roles.dataset(paper.OPENFORENSIC)]
    dense = preferred if not preferred.empty else dense
    mean = dense["total_parameters"].mean() / 1e6 if len(dense) else NAN
    stated = paper.STATED_PARAMETERS_MILLIONS[model]
    return {
        "setting": "model size", "paper_role": None,
        "dataset": dense["dataset"].iloc[0] if len(dense) else None,
        "model": model, "method": methods.DENSE, "level": 0, "paper_sparsity_pct": 0.0, "sparsity_pct": NAN,
        "quantity": "total_parameters_millions", "paper": stated, "ours_mean": mean, "ours_std": NAN,
        "ours_ci_low": NAN, "ours_ci_high": NAN,
        "n_seeds": int(dense["seed"].nunique()), "difference": mean - stated, "source": "Sec. III text",
    }


def _quantity(quantity: str, value: float, std: float = NAN) -> str:
    if quantity == "remaining_weights":
        return count(value)
    if quantity == "total_parameters_millions":
        return number(value, 3) + "M"
    return mean_pm_std(value, std)


def _quantity_signed(quantity: str, value: float) -> str:
    if quantity == "remaining_weights":
        return count(value, sign=True)
    return signed(value, 3 if quantity == "total_parameters_millions" else 2)


def _role_name(role: str) -> str:
    return {paper.OPENFORENSIC: "OpenForensic", paper.FFPP: "FF++"}.get(role, role)
