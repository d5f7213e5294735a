"""The report's figures (seaborn style): accuracy against sparsity (the paper's Fig. 2), transfer,
the dense-vs-ticket teaser (Fig. 1) and the Grad-CAM grids (Fig. 3). Each returns a matplotlib Figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

from deepfake_lth.config import level_nearest, sparsity_at_level  # noqa: E402
from deepfake_lth.lottery.methods import LEVEL_METHODS, PRUNING_METHODS, method_label  # noqa: E402
from deepfake_lth.models.registry import model_label  # noqa: E402
from deepfake_lth.report.cells import weights_short  # noqa: E402
from deepfake_lth.report.summary import (  # noqa: E402
    in_domain,
    ordered,
    summarize_over_seeds,
    transferred,
)

_PALETTE = sns.color_palette("colorblind", 8)
METHOD_STYLE = {
    "imp_global": {"color": _PALETTE[0], "marker": "o", "linestyle": "-"},
    "imp_local": {"color": _PALETTE[1], "marker": "s", "linestyle": "-"},
    "oneshot": {"color": _PALETTE[2], "marker": "^", "linestyle": "-"},
    "reinit": {"color": _PALETTE[3], "marker": "X", "linestyle": "--"},
    "random_mask": {"color": _PALETTE[4], "marker": "D", "linestyle": "--"},
}
DENSE_STYLE = {"color": "0.25", "linestyle": ":", "linewidth": 1.5}


def theme():
    """The report's plotting style, as a context manager."""
    return sns.axes_style("whitegrid")


def band_note(frame: pd.DataFrame) -> str:
    """What a figure's bands and error bars are: never "over seeds" when one seed ran."""
    seeds = frame["seed"].nunique()
    if seeds > 1:
        return f"mean over {seeds} seeds; bands: 95% intervals, bootstrap over seeds, then test groups"
    return "one seed; bands: 95% intervals, bootstrap over test groups"


def accuracy_vs_sparsity(frame: pd.DataFrame, params: dict, subtitle: str = "", intervals=None) -> Figure:
    """Fig. 2: one panel per dataset x model; test accuracy against measured sparsity, a mean line and the
    band of its 95% interval per method, the dense baseline as a horizontal line, the controls dashed."""
    rows = in_domain(frame)
    datasets = ordered(rows["dataset"], list(params.get("datasets", {})))
    models = ordered(rows["model"], list(params.get("models", [])))
    with theme():
        fig, axes = _panel_grid(len(datasets), len(models))
        for i, dataset in enumerate(datasets):
            for j, model in enumerate(models):
                ax = axes[i, j]
                panel = rows[(rows["dataset"] == dataset) & (rows["model"] == model)]
                _dense_line(ax, panel, intervals)
                for method in LEVEL_METHODS:
                    _method_curve(ax, panel[panel["method"] == method], method, intervals)
                _decorate(ax, f"{dataset} · {model_label(model)}", i == len(datasets) - 1, j == 0)
        _finish(fig, axes, f"Test accuracy against sparsity ({band_note(rows)})", subtitle)
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
        fig, axes = _panel_grid(len(pairs), len(models))
        for i, (source, target) in enumerate(pairs):
            for j, model in enumerate(models):
                ax = axes[i, j]
                target_runs = own[(own["dataset"] == target) & (own["model"] == model)]
                _dense_line(ax, target_runs, intervals, label="dense, trained on target")
                cells = moved[(moved["source_dataset"] == source) & (moved["dataset"] == target) & (moved["model"] == model)]
                for method in ordered(cells["method"], list(PRUNING_METHODS)):
                    _method_curve(ax, cells[cells["method"] == method], method, intervals,
                                  label=f"{method_label(method)} ticket from source")
                    _method_curve(ax, target_runs[target_runs["method"] == method], method, None,
                                  label=f"{method_label(method)} ticket found on target", thin=True)
                _decorate(ax, f"{source} → {target} · {model_label(model)}", i == len(pairs) - 1, j == 0)
        _finish(fig, axes, f"Transferred tickets: test accuracy on the target against sparsity ({band_note(moved)})",
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
    chosen = rows[((rows["method"] == "dense") | ((rows["method"] == method) & (rows["level"] == level)))]
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
        fig.suptitle(_title(f"Dense vs the {method_label(method)} ticket at level {level} "
                            f"(nominal {100 * sparsity_at_level(level, params['pruning']['rate'], params['pruning']['rate_of']):.0f}% sparse; "
                            f"{band_note(chosen).replace('bands', 'bars')})", subtitle))
    return fig


def _teaser_panel(ax, summary, models, method) -> None:
    width = 0.38
    for offset, (which, color) in zip((-width / 2, width / 2), (("dense", "0.6"), (method, METHOD_STYLE.get(method, {}).get("color", "C0")))):
        for k, model in enumerate(models):
            hit = summary[(summary["model"] == model) & (summary["method"] == which)]
            if hit.empty:
                continue
            row = hit.iloc[0]
            mean = row["test_accuracy_pct_mean"]
            low, high = row.get("test_accuracy_pct_ci_low", np.nan), row.get("test_accuracy_pct_ci_high", np.nan)
            error = None if np.isnan(low) else [[mean - low], [high - mean]]
            label = "dense" if which == "dense" else f"{method_label(which)} ticket"
            ax.bar(k + offset, mean, width, color=color, label=label if k == 0 else None, yerr=error, capsize=3)
            ax.text(k + offset, (mean if np.isnan(high) else high) + 1, f"{mean:.1f}", ha="center", va="bottom", fontsize=8)
            note = weights_short(row["remaining_weights"])
            if which != "dense":
                note += f"\n{row['sparsity_pct_mean']:.0f}% pruned"
            ax.text(k + offset, 2, note, ha="center", va="bottom", fontsize=7, rotation=90, color="white")
    ax.set_xticks(range(len(models)), [model_label(m) for m in models])
    ax.set_ylim(0, 109)
    ax.grid(False, axis="x")
    ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))


def gradcam_grid_image(record: dict, subtitle: str = "") -> Figure:
    """Fig. 3 for one dataset x model: the Grad-CAM stage's grid (gradcam.png beside its gradcam.json)."""
    path = Path(record["path"]).with_name("gradcam.png")
    image = mpimg.imread(path)
    height, width = image.shape[:2]
    fig = plt.figure(figsize=(max(width / 150, 6.0), height / 150 + 0.8), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(image)
    ax.set_axis_off()
    changes = ", ".join(
        f"L{lv['level']} {lv['mean_map_change_frobenius']:.1f}" for lv in record["levels"] if lv["level"]
    )
    title = f"mean change of attention ‖pruned − dense‖_F: {changes}"
    fig.suptitle(_title(title, subtitle), fontsize=10)
    return fig


def _panel_grid(n_rows: int, n_cols: int):
    n_rows, n_cols = max(n_rows, 1), max(n_cols, 1)
    return plt.subplots(n_rows, n_cols, figsize=(3.7 * n_cols, 3.1 * n_rows + 0.9), squeeze=False, layout="constrained")


def _dense_line(ax, runs: pd.DataFrame, intervals, label: str = "dense (0%)") -> None:
    dense = runs[runs["method"] == "dense"]
    if dense.empty:
        return
    summary = summarize_over_seeds(dense, ["dataset"], intervals).iloc[0]
    mean = summary["test_accuracy_pct_mean"]
    ax.axhline(mean, label=label, **DENSE_STYLE)
    low, high = summary.get("test_accuracy_pct_ci_low", np.nan), summary.get("test_accuracy_pct_ci_high", np.nan)
    if np.isfinite(low):
        ax.axhspan(low, high, color=DENSE_STYLE["color"], alpha=0.08)


def _method_curve(ax, runs: pd.DataFrame, method: str, intervals, label: str | None = None,
                  thin: bool = False) -> None:
    """The method's mean accuracy per level against measured sparsity, with the band of its 95% interval
    (none with `intervals` None)."""
    if runs.empty:
        return
    summary = summarize_over_seeds(runs, ["level"], intervals).sort_values("level")
    x, y = summary["sparsity_pct_mean"].to_numpy(), summary["test_accuracy_pct_mean"].to_numpy()
    style = dict(METHOD_STYLE.get(method, {"marker": "o"}))
    if thin:
        style.update(linestyle=":", linewidth=1.0, alpha=0.7, markersize=3)
    else:
        style.update(linewidth=1.8, markersize=5)
    ax.plot(x, y, label=label or method_label(method), **style)
    if intervals is not None:
        low, high = summary["test_accuracy_pct_ci_low"].to_numpy(), summary["test_accuracy_pct_ci_high"].to_numpy()
        if np.isfinite(low).any():
            ax.fill_between(x, low, high, color=style.get("color"), alpha=0.15, linewidth=0)


def _decorate(ax, title: str, bottom: bool, left: bool) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xlim(-2, 100)
    ax.xaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    if bottom:
        ax.set_xlabel("sparsity (measured, % of prunable weights)")
    if left:
        ax.set_ylabel("test accuracy")


def _finish(fig: Figure, axes, title: str, subtitle: str) -> None:
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
    fig.suptitle(_title(title, subtitle))


def _title(title: str, subtitle: str) -> str:
    return f"{title}\n{subtitle}" if subtitle else title


def _ticket_method(rows: pd.DataFrame, params: dict) -> str | None:
    """The ticket shown in the teaser: the controls' ticket when run, else the first IMP or one-shot method."""
    present = set(rows["method"])
    preferred = [params["pruning"]["controls"]["ticket"], *PRUNING_METHODS]
    return next((m for m in preferred if m in present), None)


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

