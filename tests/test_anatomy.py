"""The anatomy of a ticket: the Jaccard index and its chance value, and on the tiny report study the
mask-overlap table, the layer-profile and overlap figures, and report.md's sentences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from deepfake_lth import paths
from deepfake_lth.io import save_tensors
from deepfake_lth.report.anatomy.mask_pairs import DATASETS, METHODS, overlap_pairs
from deepfake_lth.report.anatomy.overlap import ALL_LAYERS, COLUMNS, chance_jaccard, jaccard
from deepfake_lth.report.build import build_report
from deepfake_lth.report.document import catalog
from test_report import MODELS, PRUNABLE, SOURCE, TARGET, make_params, write_results_tree


def test_jaccard_of_a_mask_with_itself_is_one_and_of_disjoint_masks_zero():
    rng = np.random.default_rng(0)
    mask = rng.random(1000) < 0.3
    assert jaccard(mask, mask) == 1.0 and jaccard(mask, ~mask) == 0.0


@pytest.mark.parametrize("n, kept_a, kept_b", [(500, 120, 300), (64, 5, 60), (2000, 400, 400)])
def test_the_chance_overlap_matches_a_monte_carlo_estimate(n, kept_a, kept_b):
    rng = np.random.default_rng(1)
    draws = []
    for _ in range(20000):
        a, b = np.zeros(n, bool), np.zeros(n, bool)
        a[rng.choice(n, kept_a, replace=False)] = True
        b[rng.choice(n, kept_b, replace=False)] = True
        draws.append(jaccard(a, b))
    assert abs(np.mean(draws) - chance_jaccard(n, kept_a, kept_b)) < 4 * np.std(draws) / np.sqrt(len(draws))


def write_masks(params: dict) -> None:
    """A mask per ticket at the controls' levels, with the per-layer sparsity its metrics state: the two
    datasets' IMP-Global tickets identical (Jaccard 1), every other mask its own random draw."""
    for pair in overlap_pairs(params):
        for path in (pair.mask_a, pair.mask_b):
            if path.is_file():
                continue
            _, dataset, model, seed_folder, method, level_folder = path.parts[-7:-1]
            key = [len(method), len(model), int(seed_folder.removeprefix("seed_")), int(level_folder[-2:])]
            if method != "imp_global":
                key.append(len(dataset) + 100 * (dataset == SOURCE))  # its own draw per dataset
            generator = torch.Generator().manual_seed(int(np.random.SeedSequence(key).generate_state(1)[0]))
            keep = torch.rand(PRUNABLE[model], generator=generator) >= pair.sparsity
            save_tensors(path, {"features.0.0.weight": keep})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    params = make_params(tmp_path_factory.mktemp("anatomy"))
    write_results_tree(params)
    write_masks(params)
    build_report(params)
    return params, Path(params["paths"]["results"])


def test_the_overlap_table_holds_every_pair_per_layer_and_overall(built):
    params, results = built
    table = pd.read_csv(results / "tables" / f"{catalog.OVERLAP_TABLE}.csv")
    assert list(table.columns) == COLUMNS
    pairs = overlap_pairs(params)
    assert len(table) == 2 * len(pairs)  # one prunable layer, then all
    assert {pair.kind for pair in pairs} >= {DATASETS, METHODS, "seeds"}
    same = table[table["a"].str.startswith(f"imp_global {SOURCE}") & table["b"].str.startswith(f"imp_global {TARGET}")]
    assert len(same) and (same["jaccard"] == 1.0).all()
    others = table[~table.index.isin(same.index)]
    assert ((others["jaccard"] - others["jaccard_chance"]).abs() < 0.05).all()  # independent draws: chance
    assert set(table["layer"]) == {"features.0.0.weight", ALL_LAYERS}


def test_the_layer_profile_and_overlap_figures_and_the_report_sentences(built):
    params, results = built
    for model in MODELS:
        for figure in (catalog.LAYER_FIGURE, catalog.OVERLAP_FIGURE):
            name = catalog.per_model_figure(figure, model)
            assert (results / "figures" / f"{name}.png").stat().st_size > 1000, name
            assert catalog.placement(name)[0] == catalog.ANATOMY
    report = (results / "report.md").read_text()
    section = report.split("## The anatomy of a ticket", 1)[1].split("\n## ", 1)[0]
    assert "Global IMP ranks all layers together" in section
    table = pd.read_csv(results / "tables" / f"{catalog.OVERLAP_TABLE}.csv")
    across = table[table["a"].str.contains(f" {SOURCE} ") & table["b"].str.contains(f" {TARGET} ")
                   & (table["layer"] == ALL_LAYERS)]
    above = int((across["jaccard"] > across["jaccard_chance"]).sum())
    assert f"share more kept weights than chance in {above} of {len(across)} pairs" in section
