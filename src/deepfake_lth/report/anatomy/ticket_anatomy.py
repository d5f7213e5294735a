"""The anatomy of a ticket: where each method puts its sparsity, layer by layer (from metrics.json's
per_layer counts, no new job), and how much two tickets overlap (report/anatomy/overlap.py), as a table, one
heatmap per model and one sentence each for report.md."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from deepfake_lth import methods
from deepfake_lth.models.registry import model_label
from deepfake_lth.report.anatomy.mask_pairs import DATASETS, overlap_pairs
from deepfake_lth.report.anatomy.overlap import ALL_LAYERS, COLUMNS, overlap_frame
from deepfake_lth.report.document.catalog import (
    LAYER_FIGURE, OVERLAP_FIGURE, OVERLAP_TABLE, per_model_caption, per_model_figure,
)
from deepfake_lth.report.figures.plotting import finish, panel_grid, theme
from deepfake_lth.report.tables.formats import Table



@dataclass(frozen=True)
class Anatomy:
    kept: pd.DataFrame  # layer_kept
    overlap: pd.DataFrame  # overlap.overlap_frame of the study's pairs

    @classmethod
    def of(cls, frame: pd.DataFrame, params: dict) -> "Anatomy":
        return cls(layer_kept(frame), overlap_frame(overlap_pairs(params)))

    def tables(self) -> list[Table]:
        return [overlap_table(self.overlap)] if not self.overlap.empty else []

    def figures(self, models: list[str], subtitle: str) -> list[tuple[str, str, Callable]]:
        """(name, caption, draw) of each model's layer-profile and overlap figures."""
        drawn = []
        for model in models:
            drawn.append((per_model_figure(LAYER_FIGURE, model), per_model_caption(LAYER_FIGURE, model),
                          lambda m=model: layer_sparsity_figure(self.kept, m, subtitle)))
            drawn.append((per_model_figure(OVERLAP_FIGURE, model), per_model_caption(OVERLAP_FIGURE, model),
                          lambda m=model: overlap_heatmap(self.overlap, m, subtitle)))
        return drawn

    def section(self) -> str:
        """report.md's paragraph: where global IMP prunes, and whether the datasets' tickets overlap."""
        sentences = [s for s in (global_imp_sentence(self.kept), datasets_sentence(self.overlap)) if s]
        if not sentences:
            return ""
        return "\n".join(["## The anatomy of a ticket", "", " ".join(sentences),
                          f"Per layer and pair: `tables/{OVERLAP_TABLE}.csv`.", ""])


def layer_kept(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per in-domain pruned run and prunable layer: dataset, model, method, level, seed, layer,
    its position, size and fraction kept (its metrics.json per_layer, as collect.py read it)."""
    rows = []
    for run in frame[frame["stage"] == "prune"].itertuples():
        for position, (layer, counts) in enumerate(run.per_layer.items()):
            rows.append({"dataset": run.dataset, "model": run.model, "method": run.method, "level": run.level,
                         "seed": run.seed, "sparsity": run.nominal_sparsity, "layer": layer, "position": position,
                         "total": counts["total"], "kept": counts["remaining"] / counts["total"]})
    return pd.DataFrame(rows)


def layer_sparsity_figure(kept: pd.DataFrame, model: str, subtitle: str) -> Figure | None:
    """Fraction kept per prunable layer (x: the layers in model order), one panel per dataset and level,
    one line per method (mean over seeds)."""
    if kept.empty or (rows := kept[kept["model"] == model]).empty:
        return None
    datasets, levels = list(dict.fromkeys(rows["dataset"])), sorted(rows["level"].unique())
    with theme():
        fig, axes = panel_grid(len(datasets), len(levels))
        for i, dataset in enumerate(datasets):
            for j, level in enumerate(levels):
                ax, cell = axes[i][j], rows[(rows["dataset"] == dataset) & (rows["level"] == level)]
                for method in methods.names(lambda m: m.prunes):  # a control copies its ticket's profile
                    line = cell[cell["method"] == method].groupby("position")["kept"].mean()
                    if not line.empty:
                        ax.plot(line.index + 1, line.values, label=methods.label(method), **methods.style(method))
                nominal = cell["sparsity"].iloc[0] if not cell.empty else float("nan")
                ax.set_title(f"{dataset}, level {level} ({nominal:.0%} sparse)", fontsize=9)
                ax.set_ylim(0, 1.02)
                ax.set_xlabel("prunable layer (model order)" if i == len(datasets) - 1 else "")
                ax.set_ylabel("fraction kept" if j == 0 else "")
        finish(fig, axes, f"{model_label(model)}: where each method prunes, layer by layer "
                          "(one seed's counts, or their mean)", subtitle)
    return fig


def global_imp_sentence(kept: pd.DataFrame) -> str:
    """Where global IMP concentrates its pruning, per model, at its sparsest level: the kept fraction of
    its largest and its smallest prunable layer."""
    imp = methods.names(lambda m: m.iterative and m.scope == "global")
    parts = []
    if kept.empty:
        return ""
    for model, rows in kept[kept["method"].isin(imp)].groupby("model", sort=False):
        last = rows[rows["level"] == rows["level"].max()].groupby("layer").agg(total=("total", "first"),
                                                                                kept=("kept", "mean"))
        largest, smallest = last["total"].idxmax(), last["total"].idxmin()
        parts.append(f"{model_label(model)} at {rows['sparsity'].max():.0%} keeps {last.loc[largest, 'kept']:.0%} "
                     f"of its largest layer ({largest}, {int(last.loc[largest, 'total']):,} weights) and "
                     f"{last.loc[smallest, 'kept']:.0%} of its smallest ({smallest}, {int(last.loc[smallest, 'total']):,})")
    if not parts:
        return ""
    return ("Global IMP ranks all layers together, so it prunes the large layers hardest: " + "; ".join(parts) + ".")


def overlap_table(overlap: pd.DataFrame) -> Table:
    numbers = overlap[COLUMNS].reset_index(drop=True)
    display = numbers.assign(sparsity=(100 * numbers["sparsity"]).map("{:.1f}%".format),
                             jaccard=numbers["jaccard"].map("{:.3f}".format),
                             jaccard_chance=numbers["jaccard_chance"].map("{:.3f}".format))
    return Table(OVERLAP_TABLE, "Mask overlap: Jaccard index of kept weights, per layer and overall, against "
                 "two random masks of the same per-layer sparsity (chance)", numbers, display)


def overlap_heatmap(overlap: pd.DataFrame, model: str, subtitle: str) -> Figure | None:
    """Per control sparsity, the Jaccard index of each pair (rows) per layer and overall (columns)."""
    import seaborn as sns

    rows = overlap[overlap["a"].str.contains(f" {model} ", regex=False)]
    if rows.empty:
        return None
    sparsities = sorted(rows["sparsity"].unique())
    with theme():
        fig, axes = panel_grid(1, len(sparsities))
        for ax, sparsity in zip(axes[0], sparsities):
            cell = rows[rows["sparsity"] == sparsity].assign(pair=lambda f: _pair_label(f, model))
            grid = cell.pivot_table(index="pair", columns="layer", values="jaccard", sort=False)
            layers = [c for c in grid.columns if c != ALL_LAYERS] + [ALL_LAYERS]
            grid = grid[layers].rename(columns={c: str(i + 1) for i, c in enumerate(layers[:-1])})
            sns.heatmap(grid, ax=ax, vmin=0, vmax=1, cmap="viridis", cbar=ax is axes[0][-1],
                        cbar_kws={"label": "Jaccard index of kept weights"})
            ax.set_title(f"{sparsity:.0%} sparse (chance overall: "
                         f"{cell[cell['layer'] == ALL_LAYERS]['jaccard_chance'].mean():.2f})", fontsize=9)
            ax.set_xlabel("prunable layer (model order), then all")
            ax.set_ylabel("")
        fig.set_size_inches(4.5 + 3.5 * len(sparsities), 1.2 + 0.28 * grid.shape[0])
        finish(fig, axes, f"{model_label(model)}: how many kept weights two tickets share", subtitle)
    return fig


def _pair_label(cell: pd.DataFrame, model: str) -> pd.Series:
    return cell["a"].str.replace(f" {model} ", " ", regex=False) + " | " + cell["b"].str.replace(f" {model} ", " ",
                                                                                              regex=False)


def datasets_sentence(overlap: pd.DataFrame) -> str:
    """Whether the two datasets' tickets share more weights than chance, with the numbers."""
    both = overlap[(overlap["kind"] == DATASETS) & (overlap["layer"] == ALL_LAYERS)]
    if both.empty:
        return ""
    ratio = both["jaccard"] / both["jaccard_chance"]
    above = int((both["jaccard"] > both["jaccard_chance"]).sum())
    return (f"Tickets of one model found on the two datasets share more kept weights than chance in {above} of "
            f"{len(both)} pairs (Jaccard {both['jaccard'].min():.2f}–{both['jaccard'].max():.2f} against "
            f"{both['jaccard_chance'].min():.2f}–{both['jaccard_chance'].max():.2f} by chance; "
            f"{np.median(ratio):.1f}× chance at the median). Both start from the same θ0 (same seed) and rewind "
            "to it, so part of that overlap is the initialisation's: chance here is the overlap of random masks, "
            "not of two independently initialised tickets.")
