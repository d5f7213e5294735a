"""Formatting one table cell or figure label from a number: '–' wherever the number is missing."""

from __future__ import annotations

import math

import pandas as pd

MISSING = "–"


def is_missing(value) -> bool:
    """None or a float NaN (an undefined metric, a run that was not made)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def as_float(value) -> float:
    """A float, NaN for None (a JSON null)."""
    return math.nan if value is None else float(value)


def mean_pm_std(mean: float, std: float, digits: int = 2) -> str:
    """'91.41 ± 0.32'; the mean alone when std is undefined (one seed); '–' when there is no mean."""
    if is_missing(mean):
        return MISSING
    if is_missing(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def signed_interval(delta: float, low: float, high: float, digits: int = 2) -> str:
    """'+1.25 [-0.40, +2.90]': a difference with its interval."""
    if is_missing(delta):
        return MISSING
    if is_missing(low) or is_missing(high):
        return f"{delta:+.{digits}f}"
    return f"{delta:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def p_value(value: float) -> str:
    """'0.031', '<0.001'."""
    if is_missing(value):
        return MISSING
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def number(value: float, digits: int = 2) -> str:
    return MISSING if is_missing(value) else f"{value:.{digits}f}"


def signed(value: float, digits: int = 2) -> str:
    return MISSING if is_missing(value) else f"{value:+.{digits}f}"


def count(value: float, sign: bool = False) -> str:
    """A whole number with thousands separators ('12,345'; with `sign`, '+12,345')."""
    return MISSING if is_missing(value) else f"{int(round(value)):{'+' if sign else ''},}"


def weights_short(value: float) -> str:
    """'1.23M weights', '4.5k weights', '12 weights'; empty when missing (a figure's bar note)."""
    if is_missing(value):
        return ""
    if value >= 1e6:
        return f"{value / 1e6:.2f}M weights"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k weights"
    return f"{int(value)} weights"


def pm_column(numbers: pd.DataFrame, prefix: str) -> list[str]:
    """The `<prefix>_mean` and `<prefix>_std` columns as 'mean ± std' cells, followed by the 95% interval
    ' [low, high]' where `numbers` has `<prefix>_ci_low` and `_ci_high`."""
    cells = [mean_pm_std(m, s) for m, s in zip(numbers[f"{prefix}_mean"], numbers[f"{prefix}_std"])]
    if f"{prefix}_ci_low" not in numbers:
        return cells
    return [cell if is_missing(low) or cell == MISSING else f"{cell} [{low:.2f}, {high:.2f}]"
            for cell, low, high in zip(cells, numbers[f"{prefix}_ci_low"], numbers[f"{prefix}_ci_high"])]


def sparsity_range(numbers: pd.DataFrame, methods: list[str]) -> list[str]:
    """Measured sparsity of the methods in a row: one value, or 'low–high' when they differ."""
    values = numbers[[f"{m}_sparsity_pct" for m in methods]]
    cells = []
    for low, high in zip(values.min(axis=1), values.max(axis=1)):
        cells.append(number(low, 1) if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}–{high:.1f}")
    return cells
