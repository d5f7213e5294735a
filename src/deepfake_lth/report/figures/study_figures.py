"""The report's figures (seaborn style): accuracy against sparsity (the paper's Fig. 2), transfer,
the dense-vs-ticket teaser (Fig. 1) and the Grad-CAM grids (Fig. 3). Each returns a matplotlib Figure;
plotting.py holds their shared pieces (styles from the method registry, panels, legends, saving)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

from deepfake_lth import methods  # noqa: E402
from deepfake_lth.config import level_nearest, sparsity_at_level  # noqa: E402
from deepfake_lth.models.registry import model_label  # noqa: E402
from deepfake_lth.report.figures.plotting import (  # noqa: E402
    band_note, decorate, dense_line, finish, method_curve, panel_grid, save_figure, theme, with_subtitle,
)
from deepfake_lth.report.summary import in_domain, ordered, summarize_over_seeds, transferred  # noqa: E402
from deepfake_lth.report.tables.cells import weights_short  # noqa: E402

__all__ = ["accuracy_vs_sparsity", "gradcam_grid_image", "save_figure", "teaser", "transfer_accuracy"]


def accuracy_vs_sparsity(frame: pd.DataFrame, params: dict, subtitle: str = "", intervals=None) -> Figure:
    """Fig. 2: one panel per dataset x model; test accuracy against measured sparsity, a mean line and the
    band of its 95% interval per method, the dense baseline as a horizontal line, the controls dashed."""
    rows = in_domain(frame)
    datasets = ordered(rows["dataset"], list(params.get("datasets", {})))
    models = ordered(rows["model"], list(params.get("models", [])))
    with theme():
        fig, axes = panel_grid(len(datasets), len(models))
        for i, dataset in enumerate(datasets):
            for j, model in enumerate(models):
                ax = axes[i, j]
                panel = rows[(rows["dataset"] == dataset) & (rows["model"] == model)]
                dense_line(ax, panel, intervals)
                for method in methods.level_methods():
                    method_curve(ax, panel[panel["method"] == method], method, intervals)
                decorate(ax, f"{dataset} · {model_label(model)}", i == len(datasets) - 1, j == 0)
        finish(fig, axes, f"Test accuracy against sparsity ({band_note(rows)})", subtitle)
    return fig


def transfer_accuracy(frame: pd.DataFrame, params: dict, subtitle: str = "", intervals=None) -> Figure | None:
    """One panel per source -> target pair x model: the transferred tickets' accuracy against measured
    sparsity, the target's own dense run as a line, and the target's own tickets (thin, dotted) for reference."""
    moved = transferred(frame)
    if moved.empty:
        return None
    pairs = list(dict.fromkeys(zip(moved["source_dataset"], moved["dataset"])))
    models = ordered(moved["model"], list(params.get("models", [])))
    own = in_domain(frame)
    with theme():
        fig, axes = panel_grid(len(pairs), len(models))
        for i, (source, target) in enumerate(pairs):
            for j, model in enumerate(models):
                ax = axes[i, j]
                target_runs = own[(own["dataset"] == target) & (own["model"] == model)]
                dense_line(ax, target_runs, intervals, label="dense, trained on target")
                cells = moved[(moved["source_dataset"] == source) & (moved["dataset"] == target) & (moved["model"] == model)]
                for method in ordered(cells["method"], list(methods.pruning_methods())):
                    method_curve(ax, cells[cells["method"] == method], method, intervals,
                                 label=f"{methods.label(method)} ticket from source")
                    method_curve(ax, target_runs[target_runs["method"] == method], method, None,
                                 label=f"{methods.label(method)} ticket found on target", thin=True)
                decorate(ax, f"{source} → {target} · {model_label(model)}", i == len(pairs) - 1, j == 0)
        finish(fig, axes, f"Transferred tickets: test accuracy on the target against sparsity ({band_note(moved)})",
               subtitle)
    return fig


def teaser(frame: pd.DataFrame, params: dict, subtitle: str = "", intervals=None) -> Figure | None:
    """Fig. 1: per dataset, the dense model against its ticket at the level nearest 80% sparsity, per
    model, each bar labelled with its accuracy and the weights it keeps (measured), with its 95% interval."""
    rows = in_domain(frame)
    method = _ticket_method(rows, params)
    if method is None:
        return None
    level = level_nearest(params, 0.8)
    chosen = rows[((rows["method"] == methods.DENSE) | ((rows["method"] == method) & (rows["level"] == level)))]
    summary = summarize_over_seeds(chosen, ["dataset", "model", "method"], intervals)
    datasets = ordered(summary["dataset"], list(params.get("datasets", {})))
    models = ordered(summary["model"], list(params.get("models", [])))
    with theme():
        fig, axes = plt.subplots(1, len(datasets), figsize=(1.9 * len(models) * 2 + 1, 4.2),
                                 squeeze=False, layout="constrained", sharey=True)
        for ax, dataset in zip(axes[0], datasets):
            _teaser_panel(ax, summary[summary["dataset"] == dataset], models, method)
            ax.set_title(dataset)
        axes[0, 0].set_ylabel("test accuracy")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=9)
        nominal = 100 * sparsity_at_level(level, params["pruning"]["rate"], params["pruning"]["rate_of"])
        fig.suptitle(with_subtitle(f"Dense vs the {methods.label(method)} ticket at level {level} (nominal "
                                   f"{nominal:.0f}% sparse; {band_note(chosen).replace('bands', 'bars')})", subtitle))
    return fig


def _teaser_panel(ax, summary, models, method) -> None:
    width = 0.38
    bars = ((methods.DENSE, "0.6"), (method, methods.style(method).get("color", "C0")))
    for offset, (which, color) in zip((-width / 2, width / 2), bars):
        for k, model in enumerate(models):
            hit = summary[(summary["model"] == model) & (summary["method"] == which)]
            if hit.empty:
                continue
            row = hit.iloc[0]
            mean = row["test_accuracy_pct_mean"]
            low, high = row.get("test_accuracy_pct_ci_low", np.nan), row.get("test_accuracy_pct_ci_high", np.nan)
            error = None if np.isnan(low) else [[max(mean - low, 0.0)], [max(high - mean, 0.0)]]  # a percentile interval may miss the mean
            label = methods.label(which) if which == methods.DENSE else f"{methods.label(which)} ticket"
            ax.bar(k + offset, mean, width, color=color, label=label if k == 0 else None, yerr=error, capsize=3)
            ax.text(k + offset, (mean if np.isnan(high) else high) + 1, f"{mean:.1f}", ha="center", va="bottom", fontsize=8)
            note = weights_short(row["remaining_weights"])
            if which != methods.DENSE:
                note += f"\n{row['sparsity_pct_mean']:.0f}% pruned"
            ax.text(k + offset, 2, note, ha="center", va="bottom", fontsize=7, rotation=90, color="white")
    ax.set_xticks(range(len(models)), [model_label(m) for m in models])
    ax.set_ylim(0, 109)
    ax.grid(False, axis="x")
    ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))


def gradcam_grid_image(record: dict, grid: Path, subtitle: str = "") -> Figure:
    """Fig. 3 for one dataset x model: the Grad-CAM stage's grid image `grid`, titled from its `record`."""
    image = mpimg.imread(grid)
    height, width = image.shape[:2]
    fig = plt.figure(figsize=(max(width / 150, 6.0), height / 150 + 0.8), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(image)
    ax.set_axis_off()
    changes = ", ".join(
        f"L{lv['level']} {lv['mean_map_change_frobenius']:.1f}" for lv in record["levels"] if lv["level"]
    )
    title = f"mean change of attention ‖pruned − dense‖_F: {changes}"
    fig.suptitle(with_subtitle(title, subtitle), fontsize=10)
    return fig


def _ticket_method(rows: pd.DataFrame, params: dict) -> str | None:
    """The ticket shown in the teaser: the controls' ticket when run, else the first IMP or one-shot method."""
    present = set(rows["method"])
    preferred = [params["pruning"]["controls"]["ticket"], *methods.pruning_methods()]
    return next((m for m in preferred if m in present), None)
