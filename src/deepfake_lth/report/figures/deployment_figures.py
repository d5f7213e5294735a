"""The deployment figure of one model: test accuracy against batch-1 latency (left) and against the size on
disk of the sparse format compressed (right), one row of panels per dataset, at one runtime and thread count
(catalog.DEPLOYMENT_TIMING). One point per method and level, the mean over seeds with its 95% interval as error
bars, a method's levels joined in its registered style; the dense run a large star. The dark steps are the
Pareto front: the points that no other point beats on both accuracy and cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from deepfake_lth import methods
from deepfake_lth.models.registry import model_label
from deepfake_lth.report.figures.plotting import DENSE_STYLE, band_note, finish, panel_grid, theme
from deepfake_lth.report.summary import ordered

KB = 1e3
COSTS = (("latency_ms_b1", 1.0, "latency, batch 1 (ms)"),
         ("bytes_compressed", KB, "size on disk, sparse format compressed (KB)"))
DENSE_POINT = {"color": DENSE_STYLE["color"], "marker": "*", "markersize": 14, "linestyle": "none"}
FRONT = {"color": "black", "linewidth": 0.8, "alpha": 0.5, "zorder": 0}  # apart from any method's grey


def deployment_figure(timed: pd.DataFrame, model: str, datasets: list[str], timing: tuple[str, int],
                      subtitle: str = "", band: str = "") -> Figure | None:
    """`timed`: Deployment.pooled at one `timing` (runtime, threads); `datasets` the params order; `band` says
    what the error bars are (error_bar_note)."""
    rows = timed[timed["model"] == model] if not timed.empty else timed
    if rows.empty or not rows["accuracy"].notna().any():
        return None
    shown = ordered(rows["dataset"], datasets)
    with theme():
        fig, axes = panel_grid(len(shown), len(COSTS))
        for i, dataset in enumerate(shown):
            panel = rows[rows["dataset"] == dataset]
            for j, (column, unit, label) in enumerate(COSTS):
                ax = axes[i, j]
                _front(ax, panel[column].to_numpy() / unit, 100 * panel["accuracy"].to_numpy())
                for method in (m for m in methods.order() if m in set(panel["method"])):
                    _points(ax, panel[panel["method"] == method].sort_values("level"), column, unit, method)
                ax.set_title(f"{dataset}", fontsize=10)
                ax.set_xlabel(label if i == len(shown) - 1 else "")
                ax.set_ylabel("test accuracy (%)" if j == 0 else "")
        runtime, threads = timing
        finish(fig, axes, f"Deployment of {model_label(model)}: test accuracy against cost ({runtime}, {threads} "
               f"thread{'' if threads == 1 else 's'})\n({band})", subtitle)
    return fig


def error_bar_note(per_seed: pd.DataFrame) -> str:
    """plotting.band_note for this figure's points, whose intervals are error bars."""
    return band_note(per_seed).replace("bands:", "error bars:")


def _points(ax, runs: pd.DataFrame, column: str, unit: float, method: str) -> None:
    """The method's mean per level with its interval as error bars; the dense run as a star."""
    x, y = runs[column].to_numpy() / unit, 100 * runs["accuracy"].to_numpy()
    error = np.abs(np.vstack([y - 100 * runs["ci_low"].to_numpy(), 100 * runs["ci_high"].to_numpy() - y]))
    error = np.nan_to_num(error)  # a run without predictions.csv: no interval, no bar
    style = DENSE_POINT if method == methods.DENSE else {**methods.style(method), "markersize": 5, "linewidth": 1.2}
    ax.errorbar(x, y, yerr=error, label=methods.label(method), capsize=2, elinewidth=0.8, **style)


def _front(ax, cost: np.ndarray, accuracy: np.ndarray) -> None:
    """The Pareto front as steps: each point more accurate than every cheaper one."""
    best, front = -np.inf, []
    for c, a in sorted(zip(cost, accuracy), key=lambda p: (p[0], -p[1])):
        if np.isfinite(c) and np.isfinite(a) and a > best:
            front.append((c, a))
            best = a
    if len(front) > 1:
        ax.step(*zip(*front), where="post", label="Pareto front", **FRONT)
