"""Generalization in the report: the trained-on x tested-on matrices of accuracy and AUC, their heatmaps and
the claim "tickets generalize as well as the dense model", from synthetic runs with a generalization.csv
beside each (the conditions stage's file, written with its own writer)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepfake_lth import metrics
from deepfake_lth.conditions.generalization_file import write_generalization
from deepfake_lth.paths import dense_dir, level_dir
from deepfake_lth.predictions import read_predictions
from deepfake_lth.report.build import draw_figures
from deepfake_lth.report.collect import collect_metrics
from deepfake_lth.report.document import catalog
from deepfake_lth.report.document.report_md import generalization_section
from deepfake_lth.report.roles import dataset_roles
from deepfake_lth.report.statistics.claims import FAILS, GENERALIZES, HOLDS, NOT_TESTABLE, claims_frame
from deepfake_lth.report.statistics.claims_summary import claims_summary
from deepfake_lth.report.statistics.generalization import Generalization, generalization_comparisons
from deepfake_lth.report.statistics.intervals import add_run_intervals, study_intervals
from deepfake_lth.report.summary import in_domain
from deepfake_lth.report.tables.formats import write_table
from deepfake_lth.report.tables.generalization_table import generalization_table

sys.path.insert(0, str(Path(__file__).parent))
from test_report import SOURCE, TARGET, fixture_predictions, make_params, write_metrics  # noqa: E402

UNSEEN = "demo_unseen"  # evaluate-only: its test faces are scored, no run trains on it
TRAINED = (SOURCE, TARGET)
TESTED = (SOURCE, TARGET, UNSEEN)
MODEL, TICKET, SEEDS, LEVELS = "cnn5", "imp_global", (0, 1), (4, 7)  # LEVELS: the controls' (60%, 80%)
N_FACES = 128
CSV_COLUMNS = ["trained_on", "tested_on", "model", "seed", "method", "level", "accuracy", "ci_low", "ci_high",
               "auc", "auc_ci_low", "auc_ci_high"]


def faces_of(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and groups of a dataset's test faces, as test_report's predictions have them."""
    labels, _, groups = fixture_predictions(dataset, N_FACES, 0.9, 0)
    return labels, groups


def separated(labels: np.ndarray, separation: float, rng: np.random.Generator) -> np.ndarray:
    """Fake probabilities that rank fakes above reals the better the larger `separation` (0: at chance)."""
    return np.clip(0.5 + separation * (2 * labels - 1) + rng.normal(0, 0.15, len(labels)), 0.0, 1.0)


def write_scores(folder: Path, dataset: str, off_diagonal: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """generalization.csv beside the run in `folder`, trained on `dataset`: its own test rows on the diagonal,
    `off_diagonal` (tested_on -> p_fake) elsewhere."""
    own = read_predictions(folder / "predictions.csv")["test"]
    scored = [(dataset, own.index, own.group, own.label, own.p_fake)]
    for tested, p_fake in off_diagonal.items():
        labels, groups = faces_of(tested)
        scored.append((tested, np.arange(N_FACES), groups, labels, p_fake))
    write_generalization(folder / "generalization.csv", scored)
    return off_diagonal


def write_study(tmp_path: Path, ticket: str, unseen_separation: float = 0.25) -> dict:
    """Dense runs and IMP tickets at the controls' levels on two datasets, each scored on every dataset of
    TESTED. The dense model ranks unseen faces well (on UNSEEN as `unseen_separation` says); the ticket
    scores them as the dense model plus tiny noise (`ticket` "alike") or at random ("worse")."""
    params = make_params(tmp_path, seeds=list(SEEDS), models=[MODEL], report={"formats": ["png"]})
    for dataset in TRAINED:
        for seed in SEEDS:
            rng = np.random.default_rng([seed, len(dataset)])
            folder = dense_dir(params, dataset, MODEL, seed)
            write_metrics(folder, stage="dense", dataset=dataset, model=MODEL, seed=seed, method="dense", level=0,
                          accuracy=0.88)
            dense = write_scores(folder, dataset, {
                tested: separated(faces_of(tested)[0], unseen_separation if tested == UNSEEN else 0.25, rng)
                for tested in TESTED if tested != dataset})
            for level in LEVELS:
                folder = level_dir(params, dataset, MODEL, seed, TICKET, level)
                write_metrics(folder, stage="prune", dataset=dataset, model=MODEL, seed=seed, method=TICKET,
                              level=level, accuracy=0.86)
                write_scores(folder, dataset, {
                    tested: (np.clip(p + rng.normal(0, 1e-4, len(p)), 0, 1) if ticket == "alike"
                             else rng.uniform(0, 1, len(p))) for tested, p in dense.items()})
    return params


def report_parts(params: dict, scored_beside=lambda metrics: metrics.with_name("generalization.csv")) -> dict:
    """What build_report makes of the study's files, up to the tables: frame, intervals, generalization, claims.
    `scored_beside` maps a metrics.json to its generalization file (None: it has none)."""
    results = Path(params["paths"]["results"])
    files = sorted(results.glob("**/metrics.json"))
    frame = collect_metrics(files, results)
    intervals = study_intervals(frame, {p: p.with_name("predictions.csv") for p in files}, params["statistics"])
    frame = add_run_intervals(frame, intervals)
    scored = {p: beside for p in files if (beside := scored_beside(p)) is not None}
    generalization = Generalization.of(intervals, in_domain(frame), scored)
    roles = dataset_roles(params, list(TRAINED))
    claims = claims_frame(generalization_comparisons(generalization.pooled), frame, params, roles, intervals)
    return {"frame": frame, "intervals": intervals, "generalization": generalization, "roles": roles,
            "claims": claims[claims["key"] == GENERALIZES] if not claims.empty else claims,
            "summary": claims_summary(claims, params["statistics"]["margin"])}


@pytest.fixture(scope="module")
def alike(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("alike")
    params = write_study(tmp_path, "alike")
    return params, report_parts(params)


def test_the_diagonal_is_the_runs_own_test_scores_with_its_own_draws(alike):
    params, parts = alike
    per_seed, intervals = parts["generalization"].per_seed, parts["intervals"]
    diagonal = per_seed[per_seed["trained_on"] == per_seed["tested_on"]]
    assert len(diagonal) == len(TRAINED) * len(SEEDS) * (1 + len(LEVELS))
    for row in diagonal.itertuples():
        folder = (dense_dir(params, row.trained_on, MODEL, row.seed) if row.method == "dense"
                  else level_dir(params, row.trained_on, MODEL, row.seed, row.method, row.level))
        test = read_predictions(folder / "predictions.csv")["test"]
        assert row.accuracy == pytest.approx(metrics.accuracy(test.label, test.p_fake), abs=1e-12)
        assert row.auc == pytest.approx(metrics.roc_auc(test.label, test.p_fake), abs=1e-12)
        own = str(folder / "metrics.json")  # the in-domain interval of Table 1: the same faces, the same draws
        assert (row.ci_low, row.ci_high) == pytest.approx(intervals.run(own, "accuracy"), abs=1e-12)
        assert row.n_faces == N_FACES


def test_the_csv_has_a_row_per_scoring_and_the_matrix_a_row_per_trained_and_a_column_per_tested(alike, tmp_path):
    params, parts = alike
    table = generalization_table(parts["generalization"], params)
    write_table(table, tmp_path)
    written = pd.read_csv(tmp_path / "generalization.csv")
    assert list(written.columns[:len(CSV_COLUMNS)]) == CSV_COLUMNS
    assert len(written) == len(TRAINED) * len(TESTED) * len(SEEDS) * (1 + len(LEVELS))
    assert set(written["tested_on"]) == set(TESTED) and set(written["trained_on"]) == set(TRAINED)
    assert written["accuracy"].between(0, 1).all()  # fractions, as metrics.json and the robustness CSV
    assert written["accuracy"].tolist() == table.numbers["accuracy"].tolist()  # full precision
    shown = table.display
    assert [c for c in shown.columns if c.startswith("tested on ")] == [f"tested on {d}" for d in TESTED]
    for (method, level), matrix in shown.groupby(["method", "level"], sort=False):
        assert list(dict.fromkeys(matrix["trained on"])) == list(TRAINED)  # the evaluate-only one is no row
        assert list(matrix["metric"]) == ["accuracy %", "AUC"] * len(TRAINED)
    assert {(m, lv) for m, lv in zip(shown["method"], shown["level"])} == {("dense", 0), ("IMP-Global", 4),
                                                                          ("IMP-Global", 7)}
    markdown = (tmp_path / "generalization.md").read_text()
    assert f"tested on {UNSEEN}" in markdown and "[" in markdown  # cells carry their intervals
    assert catalog.placement("generalization") == (catalog.GENERALIZATION, catalog.EVERYTHING)


def test_a_ticket_scoring_like_the_dense_model_generalizes(alike):
    _, parts = alike
    claims, summary = parts["claims"], parts["summary"]
    off_diagonal = {(d, t) for d in TRAINED for t in TESTED if d != t}
    assert set(zip(claims["source_dataset"], claims["dataset"])) == off_diagonal
    assert len(claims) == len(off_diagonal) * 2  # at 60% and 80%
    assert (claims["verdict"] == HOLDS).all(), claims[["dataset", "verdict", "note"]]
    assert claims["delta_pct"].abs().max() < 0.1  # AUC × 100: the noise is far below a point
    pooled = summary[summary["key"] == GENERALIZES]
    assert list(pooled["sparsity_pct"]) == [60.0, 80.0] and (pooled["verdict"] == HOLDS).all()
    assert (pooled["n_settings"] == len(off_diagonal)).all()


def test_a_ticket_much_worse_on_unseen_datasets_fails(tmp_path):
    params = write_study(tmp_path, "worse")
    parts = report_parts(params)
    claims = parts["claims"]
    assert len(claims) == 2 * len(TRAINED) * (len(TESTED) - 1)
    assert (claims["verdict"] == FAILS).all(), claims[["dataset", "verdict", "note"]]
    assert (claims["delta_pct"] < -20).all()
    per_seed = parts["generalization"].per_seed.set_index(["trained_on", "tested_on", "method", "level", "seed"])
    for claim in claims.itertuples():  # Δ is AUC × 100, the ticket's minus the dense model's on the same faces
        ticket = per_seed.loc[(claim.source_dataset, claim.dataset, TICKET, claim.level), "auc"].mean()
        dense = per_seed.loc[(claim.source_dataset, claim.dataset, "dense", 0), "auc"].mean()
        assert claim.delta_pct == pytest.approx(100 * (ticket - dense))
    assert (parts["summary"].set_index("key").loc[[GENERALIZES], "verdict"] == FAILS).all()


def test_where_the_dense_model_ranks_an_unseen_dataset_at_chance_the_claim_is_not_testable(tmp_path):
    params = write_study(tmp_path, "alike", unseen_separation=0.0)
    claims = report_parts(params)["claims"]
    on_unseen = claims[claims["dataset"] == UNSEEN]
    assert (on_unseen["verdict"] == NOT_TESTABLE).all() and on_unseen["note"].str.contains("at chance").all()
    assert (claims[claims["dataset"] != UNSEEN]["verdict"] == HOLDS).all()


def test_the_heatmap_of_each_model_is_drawn_and_filed(alike, tmp_path):
    params, parts = alike
    figures = draw_figures(parts["frame"], [], params, parts["roles"], tmp_path, parts["intervals"],
                           generalization=parts["generalization"])
    name = catalog.generalization_figure_name(MODEL)
    assert name in figures and figures[name]["caption"] == catalog.generalization_caption(MODEL)
    for fmt in params["report"]["formats"]:
        assert (tmp_path / f"{name}.{fmt}").stat().st_size > 0
    assert catalog.placement(name) == (catalog.GENERALIZATION, "CNN-5")
    assert catalog.title(name, tmp_path) == catalog.generalization_caption(MODEL)


def test_report_md_says_what_was_scored_and_how_to_read_the_diagonal(alike):
    params, parts = alike
    section = generalization_section(parts["generalization"], params)
    assert section.startswith("## Generalization")
    assert f"{UNSEEN} is scored on only" in section and "diagonal" in section
    assert "tables/generalization.md" in section and "AUC × 100" in section
    assert f"margin of {params['statistics']['margin']:g} point" in section


def test_without_generalization_files_nothing_of_it_appears(alike, tmp_path):
    params, _ = alike
    parts = report_parts(params, scored_beside=lambda metrics: None)
    generalization = parts["generalization"]
    assert generalization.per_seed.empty and generalization.models() == []
    assert generalization_table(generalization, params) is None
    assert generalization_section(generalization, params) == ""
    assert generalization_comparisons(generalization.pooled).empty and parts["claims"].empty
    assert GENERALIZES not in set(parts["summary"]["key"])
    figures = draw_figures(parts["frame"], [], params, parts["roles"], tmp_path, parts["intervals"],
                           generalization=generalization)
    assert not any(name.startswith(catalog.GENERALIZATION_FIGURE) for name in figures)


def test_a_run_scored_on_its_own_dataset_alone_is_left_out(alike, tmp_path):
    """A model outside generalization.models gets its own dataset's rows only: they repeat predictions.csv."""
    params, _ = alike

    def diagonal_only(metrics: Path) -> Path:
        rows = pd.read_csv(metrics.with_name("generalization.csv"), dtype={"group": str})
        copy = tmp_path / f"{'_'.join(metrics.relative_to(params['paths']['results']).parent.parts)}.csv"
        rows[rows["tested_on"] == next(d for d in TRAINED if d in metrics.parts)].to_csv(copy, index=False)
        return copy

    generalization = report_parts(params, scored_beside=diagonal_only)["generalization"]
    assert generalization.per_seed.empty and generalization_table(generalization, params) is None
