"""The robustness figure of one dataset: test accuracy against severity, one panel per model and control
sparsity (rows) and perturbation (columns); one line per method, the dense run dashed, each with the band
of its 95% interval. Severity 0 is the reference: the clean faces the perturbation is scored on (every
test face; for an attack, its adversarial subset)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from deepfake_lth import methods
from deepfake_lth.conditions.perturbations import names, perturbation
from deepfake_lth.models.registry import model_label
from deepfake_lth.report.figures.plotting import finish, panel_grid, theme
from deepfake_lth.report.statistics.robustness import REFERENCE
from deepfake_lth.report.summary import ordered

DENSE_LINE = {"color": "0.25", "linestyle": "--", "marker": "o", "linewidth": 1.6, "markersize": 4}


def robustness_figure(pooled: pd.DataFrame, dataset: str, params: dict, subtitle: str = "",
                      band: str = "") -> Figure | None:
    """`pooled` (report.statistics.robustness.pooled_rows) of `dataset`; `band` says what the bands are."""
    rows = pooled[pooled["dataset"] == dataset] if not pooled.empty else pooled
    if rows.empty:
        return None
    models = ordered(rows["model"], list(params["models"]))
    levels = sorted(set(rows["level"]) - {0})
    panels = [(model, level) for model in models for level in levels]
    columns = [name for name in names() if name in set(rows["perturbation"])]
    with theme():
        fig, axes = panel_grid(len(panels), len(columns))
        for i, (model, level) in enumerate(panels):
            for j, name in enumerate(columns):
                ax = axes[i, j]
                panel = rows[(rows["model"] == model) & (rows["perturbation"] == name)]
                grid = _x_positions(name, panel["severity"].unique())
                _line(ax, panel[panel["method"] == methods.DENSE], grid, "dense", DENSE_LINE)
                for method in methods.level_methods():
                    style = {**methods.style(method), "linewidth": 1.4, "markersize": 4}
                    _line(ax, panel[(panel["method"] == method) & (panel["level"] == level)], grid,
                          methods.label(method), style)
                sparsity = 100 * rows[(rows["model"] == model) & (rows["level"] == level)]["sparsity"].mean()
                ax.set_title(f"{model_label(model)} · L{level} ({sparsity:.0f}%) · {perturbation(name).label}",
                             fontsize=9)
                ax.set_xticks(range(len(grid)), [("clean" if s == REFERENCE else f"{s:g}") for s in grid])
                ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
                if i == len(panels) - 1:
                    ax.set_xlabel(perturbation(name).unit)
                if j == 0:
                    ax.set_ylabel("test accuracy")
        finish(fig, axes, f"Robustness on {dataset}: accuracy against severity ({band})", subtitle)
    return fig


def _x_positions(name: str, severities) -> list[float]:
    """The severities on the x axis: the reference, then mildest to strongest."""
    return [REFERENCE, *perturbation(name).ordered([s for s in severities if s != REFERENCE])]


def _line(ax, runs: pd.DataFrame, grid: list[float], label: str, style: dict) -> None:
    if runs.empty:
        return
    runs = runs.set_index("severity").reindex(grid)
    x = np.arange(len(grid))
    ax.plot(x, 100 * runs["accuracy"].to_numpy(), label=label, **style)
    low, high = 100 * runs["ci_low"].to_numpy(), 100 * runs["ci_high"].to_numpy()
    if np.isfinite(low).any():
        ax.fill_between(x, low, high, color=style.get("color"), alpha=0.12, linewidth=0)
