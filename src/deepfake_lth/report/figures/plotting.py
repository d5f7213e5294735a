"""The figures' shared pieces: the theme, each method's line as the method registry styles it, panel
grids, the dense baseline, mean curves with their bands, one legend per figure, and saving."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

from deepfake_lth import methods  # noqa: E402
from deepfake_lth.report.summary import summarize_over_seeds  # noqa: E402

DENSE_STYLE = {"color": "0.25", "linestyle": ":", "linewidth": 1.5}  # the dense baseline, a horizontal line


def theme():
    """The report's plotting style, as a context manager."""
    return sns.axes_style("whitegrid")


def band_note(frame: pd.DataFrame) -> str:
    """What a figure's bands and error bars are: never "over seeds" when one seed ran."""
    seeds = frame["seed"].nunique()
    if seeds > 1:
        return f"mean over {seeds} seeds; bands: 95% intervals, bootstrap over seeds, then test groups"
    return "one seed; bands: 95% intervals, bootstrap over test groups"


def panel_grid(n_rows: int, n_cols: int):
    n_rows, n_cols = max(n_rows, 1), max(n_cols, 1)
    return plt.subplots(n_rows, n_cols, figsize=(3.7 * n_cols, 3.1 * n_rows + 0.9), squeeze=False, layout="constrained")


def dense_line(ax, runs: pd.DataFrame, intervals, label: str = "dense (0%)") -> None:
    dense = runs[runs["method"] == methods.DENSE]
    if dense.empty:
        return
    summary = summarize_over_seeds(dense, ["dataset"], intervals).iloc[0]
    mean = summary["test_accuracy_pct_mean"]
    ax.axhline(mean, label=label, **DENSE_STYLE)
    low, high = summary.get("test_accuracy_pct_ci_low", np.nan), summary.get("test_accuracy_pct_ci_high", np.nan)
    if np.isfinite(low):
        ax.axhspan(low, high, color=DENSE_STYLE["color"], alpha=0.08)


def method_curve(ax, runs: pd.DataFrame, method: str, intervals, label: str | None = None,
                 thin: bool = False) -> None:
    """The method's mean accuracy per level against measured sparsity, in the method's registered style, with
    the band of its 95% interval (none with `intervals` None)."""
    if runs.empty:
        return
    summary = summarize_over_seeds(runs, ["level"], intervals).sort_values("level")
    x, y = summary["sparsity_pct_mean"].to_numpy(), summary["test_accuracy_pct_mean"].to_numpy()
    style = methods.style(method) or {"marker": "o"}
    if thin:
        style.update(linestyle=":", linewidth=1.0, alpha=0.7, markersize=3)
    else:
        style.update(linewidth=1.8, markersize=5)
    ax.plot(x, y, label=label or methods.label(method), **style)
    if intervals is not None:
        low, high = summary["test_accuracy_pct_ci_low"].to_numpy(), summary["test_accuracy_pct_ci_high"].to_numpy()
        if np.isfinite(low).any():
            ax.fill_between(x, low, high, color=style.get("color"), alpha=0.15, linewidth=0)


def decorate(ax, title: str, bottom: bool, left: bool) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xlim(-2, 100)
    ax.xaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    if bottom:
        ax.set_xlabel("sparsity (measured, % of prunable weights)")
    if left:
        ax.set_ylabel("test accuracy")


def finish(fig: Figure, axes, title: str, subtitle: str) -> None:
    """One legend for the whole figure (each label once, in the order first drawn) and the title."""
    handles, labels = {}, []
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in handles:
                handles[label] = handle
                labels.append(label)
    if handles:
        widest = max(len(lb) for lb in labels) * 5.5 + 40  # points per legend entry at font size 9
        columns = max(1, min(len(labels), int(fig.get_figwidth() * 72 // widest)))
        fig.legend([handles[lb] for lb in labels], labels, loc="outside lower center", ncol=columns, fontsize=9)
    fig.suptitle(with_subtitle(title, subtitle))


def with_subtitle(title: str, subtitle: str) -> str:
    return f"{title}\n{subtitle}" if subtitle else title


def reproducible_metadata(fmt: str) -> dict:
    """Figure metadata without a creation date, so the same results give byte-identical files."""
    return {"pdf": {"CreationDate": None}, "svg": {"Date": None}}.get(fmt, {})


def save_figure(fig: Figure, directory: Path, name: str, formats: list[str]) -> list[Path]:
    """`<directory>/<name>.<fmt>` for every format; closes the figure."""
    paths = []
    try:
        for fmt in formats:
            path = Path(directory) / f"{name}.{fmt}"
            fig.savefig(path, format=fmt, dpi=150, bbox_inches="tight", metadata=reproducible_metadata(fmt))
            paths.append(path)
    finally:
        plt.close(fig)
    return paths
