"""The generalization figure of one model: heatmaps of AUC, trained on (rows) against tested on (columns),
of the dense model beside the controls' ticket at each control level, and their difference (ticket − dense,
in points, a diverging map centred at 0). Each cell is annotated with its value; the in-domain diagonal is
outlined. The intervals are in the generalization table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from deepfake_lth import methods  # noqa: E402
from deepfake_lth.models.registry import model_label  # noqa: E402
from deepfake_lth.report.figures.plotting import finish, theme  # noqa: E402
from deepfake_lth.report.summary import ordered  # noqa: E402

AUC_MAP, DIFFERENCE_MAP = "viridis", "RdBu"  # the difference: red where the ticket is worse, blue where better
LEAST_SPAN = 1.0  # points: the difference map spans at least ±1, so that noise does not look saturated


def generalization_figure(pooled: pd.DataFrame, model: str, ticket: str, datasets: list[str],
                          subtitle: str = "") -> Figure | None:
    """`pooled` (report.statistics.generalization.pooled_rows) of `model`; `ticket` the method shown beside
    the dense model (pruning.controls.ticket), one row of panels per level it was scored at; `datasets` the
    params order of the datasets."""
    if pooled.empty:
        return None
    rows = pooled[pooled["model"] == model]
    tickets, dense = rows[rows["method"] == ticket], rows[rows["method"] == methods.DENSE]
    if tickets.empty or dense.empty:
        return None
    trained, tested = ordered(rows["trained_on"], datasets), ordered(rows["tested_on"], datasets)
    lowest = pd.concat([dense, tickets])["auc"].min()  # both AUC maps on one scale, 0.5 and up at least
    auc_range = {"vmin": min(0.5, float(lowest)) if np.isfinite(lowest) else 0.5, "vmax": 1.0}
    levels = sorted(set(tickets["level"]))
    with theme():
        fig, axes = _panels(len(levels), max(3.2, 0.75 * len(tested) + 1.8), 0.6 * len(trained) + 1.6)
        for row_axes, level in zip(axes, levels):
            at_level = tickets[tickets["level"] == level]
            _heatmap(row_axes[0], _matrix(dense, trained, tested, "auc"), trained, tested, "dense: AUC", ".2f",
                     cmap=AUC_MAP, **auc_range)
            _heatmap(row_axes[1], _matrix(at_level, trained, tested, "auc"), trained, tested,
                     f"{methods.label(ticket)} L{level} ({100 * at_level['sparsity'].mean():.0f}%): AUC", ".2f",
                     cmap=AUC_MAP, **auc_range)
            _difference(row_axes[2], _matrix(at_level, trained, tested, "vs_dense"), trained, tested)
        finish(fig, axes, _title(model, ticket, int(rows["n_seeds"].max())), subtitle)
    return fig


def _title(model: str, ticket: str, seeds: int) -> str:
    over = f"means over {seeds} seeds" if seeds > 1 else "one seed"
    return (f"Generalization of {model_label(model)}: AUC trained on (rows) × tested on (columns), the dense model "
            f"beside its {methods.label(ticket)} ticket\n({over}; outlined: in-domain; the 95% intervals are in "
            "tables/generalization)")


def _difference(ax, points: np.ndarray, trained: list[str], tested: list[str]) -> None:
    """ticket − dense in points, on a diverging map centred at 0 and symmetric about it."""
    span = max(LEAST_SPAN, float(np.nanmax(np.abs(points))) if np.isfinite(points).any() else 0.0)
    _heatmap(ax, points, trained, tested, "ticket − dense: AUC (points)", "+.1f", cmap=DIFFERENCE_MAP, center=0.0,
             vmin=-span, vmax=span)


def _panels(n_rows: int, width: float, height: float):
    return plt.subplots(n_rows, 3, figsize=(3 * width, n_rows * height + 0.9), squeeze=False, layout="constrained")


def _matrix(rows: pd.DataFrame, trained: list[str], tested: list[str], column: str) -> np.ndarray:
    """trained x tested values of `column` (NaN where not scored); `vs_dense` as ticket − dense in points."""
    values = (rows[column] if column != "vs_dense" else
              rows[column].map(lambda paired: np.nan if paired is None else 100 * paired.delta))
    cells = dict(zip(zip(rows["trained_on"], rows["tested_on"]), values.to_numpy(dtype=float)))
    return np.array([[cells.get((t, s), np.nan) for s in tested] for t in trained], dtype=float)


def _heatmap(ax, values: np.ndarray, trained: list[str], tested: list[str], title: str, fmt: str, **colors) -> None:
    sns.heatmap(values, ax=ax, annot=True, fmt=fmt, annot_kws={"fontsize": 8}, xticklabels=tested,
                yticklabels=trained, linewidths=0.5, linecolor="white", cbar_kws={"shrink": 0.8}, **colors)
    for i, dataset in enumerate(trained):
        if dataset in tested:
            ax.add_patch(Rectangle((tested.index(dataset), i), 1, 1, fill=False, edgecolor="black", linewidth=1.5))
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("tested on")
    ax.set_ylabel("trained on" if ax.get_subplotspec().is_first_col() else "")
    ax.tick_params(axis="x", labelrotation=30)
    ax.tick_params(axis="y", labelrotation=0)
