"""The report stage on a synthetic results tree: every table and figure, numbers traced back to the
metrics files, the paper column against PAPER.md, and the failures (empty tree, a broken file)."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from deepfake_lth import __version__, paths, stages
from deepfake_lth.config import sparsity_at_level, validate_params
from deepfake_lth.errors import InputError
from deepfake_lth.paths import dense_dir, gradcam_dir, level_dir, level_name, transfer_dir
from deepfake_lth.predictions import write_predictions
from deepfake_lth.report import paper
from deepfake_lth.report.build import build_report
from deepfake_lth.report.document import catalog, description
from deepfake_lth.conditions.perturbations import names as perturbation_names
from deepfake_lth.report.tables.cells import mean_pm_std
from deepfake_lth.report.tables.formats import latex_escape, to_markdown

PAPER_MD = REPO.parent / "shared" / "PAPER.md"
SOURCE, TARGET = "demo_gan", "demo_swap"
MODELS = ["mesonet", "cnn5"]
SEEDS = [0, 1, 2]
PRUNABLE = {"mesonet": 15000, "cnn5": 300000}
TOTAL = {"mesonet": 15689, "cnn5": 301137}


def make_params(tmp_path: Path, **overrides) -> dict:
    raw = {
        "paths": {"raw": str(tmp_path / "raw"), "faces": str(tmp_path / "faces"), "results": str(tmp_path / "results")},
        "datasets": {
            SOURCE: {"adapter": "synthetic", "root": "data/raw/demo_gan", "synthetic": {"domain": "gan"}},
            TARGET: {"adapter": "synthetic", "root": "data/raw/demo_swap", "synthetic": {"domain": "swap"}},
        },
        "models": MODELS,
        "seeds": SEEDS,
        "pruning": {"levels": 7, "controls": {"ticket": "imp_global", "sparsities": [0.6, 0.8]}},
        "transfer": {"pairs": [[SOURCE, TARGET]], "methods": ["imp_global", "oneshot"], "sparsities": [0.6, 0.8]},
        "gradcam": {"models": ["cnn5"], "sparsities": [0.6, 0.8], "images_per_class": 1},
        "report": {"formats": ["png", "pdf"]},
        "robustness": {name: [] for name in perturbation_names()},  # no robustness files here: test_conditions.py
    }
    raw.update(overrides)
    return validate_params(raw)


def write_metrics(folder: Path, *, stage: str, dataset: str, model: str, seed: int, method: str, level: int,
                  accuracy: float, rate: float = 0.2, source: str | None = None, params: dict | None = None) -> dict:
    """A metrics.json exactly as the metrics contract describes it."""
    nominal = sparsity_at_level(level, rate)
    prunable = PRUNABLE[model]
    remaining = int(round(prunable * (1 - nominal))) - seed  # measured: a little off the nominal
    sparsity = 1 - remaining / prunable

    def split(acc: float, n: int) -> dict:
        return {"accuracy": acc, "auc": min(acc + 0.05, 1.0), "eer": 1 - acc, "ap": acc, "loss": 1 - acc, "n": n,
                "video": None}

    write_predictions(folder / "predictions.csv", {"validation": fixture_predictions(dataset, 96, accuracy + 0.01, seed),
                                                   "test": fixture_predictions(dataset, 128, accuracy, seed + level)})
    metrics = {
        "stage": stage, "dataset": dataset, "source_dataset": source, "model": model, "seed": seed,
        "method": method, "level": level, "nominal_sparsity": nominal, "sparsity": sparsity,
        "remaining_weights": remaining, "prunable_weights": prunable, "total_parameters": TOTAL[model],
        "per_layer": {"features.0.0.weight": {"total": prunable, "remaining": remaining, "sparsity": sparsity}},
        "epochs": 4, "best_epoch": 3, "stopped_early": False,
        "splits": {"validation": split(accuracy + 0.01, 96), "test": split(accuracy, 128)},
        "params": params or {},
        "version": __version__,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return metrics


def fixture_predictions(dataset: str, n: int, accuracy: float, seed: int) -> tuple:
    """(labels, p_fake, groups) of `n` faces of one split, half fake, about `accuracy` of them right; the
    faces and groups are the dataset's (pairs of frames on the swap domain), the predictions the run's."""
    labels = np.repeat([0, 1], n // 2)
    groups = [f"{'rf'[y]}{i // (2 if dataset == TARGET else 1):04d}" for i, y in zip(range(n), labels)]
    rng = np.random.default_rng([seed, int(accuracy * 1e4)])
    right = rng.permutation(n) < round(accuracy * n)
    p_fake = np.where(right == (labels == 1), rng.uniform(0.5, 1.0, n), rng.uniform(0.0, 0.499, n))
    return labels, p_fake, np.array(groups, dtype=object)


def accuracy_of(dataset: str, model: str, seed: int, method: str, level: int, transfer: bool = False) -> float:
    """A deterministic, distinct accuracy per run."""
    rng = np.random.default_rng([len(dataset), len(model), seed, len(method), level, int(transfer)])
    return float(np.round(0.9 - 0.02 * level - 0.05 * transfer + rng.uniform(-0.03, 0.03), 4))


def write_results_tree(params: dict, seeds=SEEDS, methods=("imp_global", "imp_local", "oneshot"),
                       controls=("reinit", "random_mask"), transfer=True, gradcam=True) -> None:
    """Dense runs, every level of every method, the controls at 4 and 7, a transfer pair, a Grad-CAM record."""
    training = {"training": params["training"], "image_size": params["faces"]["image_size"],
                "normalization": params["normalization"]}
    for dataset in (SOURCE, TARGET):
        for model in MODELS:
            for seed in seeds:
                write_metrics(dense_dir(params, dataset, model, seed), stage="dense", dataset=dataset, model=model,
                              seed=seed, method="dense", level=0, accuracy=accuracy_of(dataset, model, seed, "dense", 0),
                              params=training)
                for method in methods:
                    for level in range(1, params["pruning"]["levels"] + 1):
                        write_metrics(level_dir(params, dataset, model, seed, method, level), stage="prune",
                                      dataset=dataset, model=model, seed=seed, method=method, level=level,
                                      accuracy=accuracy_of(dataset, model, seed, method, level),
                                      params={**training, "pruning": params["pruning"]})
                for method in controls:
                    for level in (4, 7):
                        write_metrics(level_dir(params, dataset, model, seed, method, level), stage="prune",
                                      dataset=dataset, model=model, seed=seed, method=method, level=level,
                                      accuracy=accuracy_of(dataset, model, seed, method, level) - 0.1)
    if transfer:
        for model in MODELS:
            for seed in seeds:
                for method in ("imp_global", "oneshot"):
                    for level in (4, 7):
                        write_metrics(transfer_dir(params, SOURCE, TARGET, model, seed, method, level),
                                      stage="transfer", dataset=TARGET, source=SOURCE, model=model, seed=seed,
                                      method=method, level=level,
                                      accuracy=accuracy_of(TARGET, model, seed, method, level, transfer=True))
    if gradcam:
        write_gradcam_record(params, SOURCE, "cnn5")


def write_gradcam_record(params: dict, dataset: str, model: str) -> dict:
    """A gradcam.json in the Grad-CAM stage's format, with a grid image beside it."""
    import matplotlib.pyplot as plt

    folder = gradcam_dir(params, dataset, model)
    folder.mkdir(parents=True, exist_ok=True)
    levels = [
        {"level": 0, "method": "dense", "sparsity": 0.0, "nominal_sparsity": 0.0, "mean_map_change_frobenius": 0.0,
         "mean_map_change_rms": 0.0, "mean_spearman": 1.0, "sample_accuracy": 1.0},
        {"level": 4, "method": "imp_global", "sparsity": 0.59, "nominal_sparsity": 0.5904,
         "mean_map_change_frobenius": 7.5, "mean_map_change_rms": 0.12, "mean_spearman": 0.61, "sample_accuracy": 0.5},
        {"level": 7, "method": "imp_global", "sparsity": 0.79, "nominal_sparsity": 0.79,
         "mean_map_change_frobenius": 12.25, "mean_map_change_rms": 0.19, "mean_spearman": None, "sample_accuracy": 0.5},
    ]
    record = {"dataset": dataset, "model": model, "method": "imp_global", "levels": levels,
              "images": [{"index": 0, "label": 0}, {"index": 5, "label": 1}], "target_layers": ["features.4"]}
    (folder / "gradcam.json").write_text(json.dumps(record))
    plt.imsave(folder / "gradcam.png", np.linspace(0, 1, 40 * 60).reshape(40, 60), cmap="jet")
    return record


def read_all_metrics(params: dict) -> list[dict]:
    results = Path(params["paths"]["results"])
    return [json.loads(p.read_text()) for p in sorted(results.glob("**/metrics.json"))]


def pick(metrics: list[dict], **where) -> list[dict]:
    return [m for m in metrics if all(m.get(k) == v for k, v in where.items())]


def mean_std_pct(runs: list[dict]) -> tuple[float, float]:
    values = np.array([m["splits"]["test"]["accuracy"] for m in runs]) * 100
    return values.mean(), (values.std(ddof=1) if len(values) > 1 else np.nan)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("report")
    params = make_params(tmp_path)
    write_results_tree(params)
    written = build_report(params)
    return params, Path(params["paths"]["results"]), written


def test_every_table_and_figure_is_written(built):
    params, results, written = built
    tables = [
        "table1_accuracy_vs_sparsity", "table2_imp_vs_oneshot", "table3_controls",
        f"table4_transfer_{SOURCE}__to__{TARGET}", "table5_paper_comparison", "table6_parameters", "table7_gradcam",
    ]
    for name in tables:
        for ext in ("csv", "md", "tex"):
            assert (results / "tables" / f"{name}.{ext}").stat().st_size > 0, f"{name}.{ext}"
    assert (results / "tables" / "accuracy_vs_sparsity.csv").is_file()
    for name in ("fig1_teaser", "fig2_accuracy_vs_sparsity", "fig_transfer", "fig3_gradcam", f"fig3_gradcam_{SOURCE}_cnn5"):
        for ext in ("png", "pdf"):
            assert (results / "figures" / f"{name}.{ext}").stat().st_size > 1000, f"{name}.{ext}"
    assert not [p for p in results.rglob("*.tmp")], "temporary files left behind"
    assert written["report"] == str(results / "report.md")


def test_accuracy_table_equals_the_metrics_files(built):
    params, results, _ = built
    metrics = read_all_metrics(params)
    table = pd.read_csv(results / "tables" / "table1_accuracy_vs_sparsity.csv")
    in_domain = [m for m in metrics if m["stage"] != "transfer"]
    groups = {(m["dataset"], m["model"], m["method"], m["level"]) for m in in_domain}
    assert len(table) == len(groups)
    for row in table.itertuples():
        runs = pick(in_domain, dataset=row.dataset, model=row.model, method=row.method, level=row.level)
        mean, std = mean_std_pct(runs)
        assert row.n_seeds == len(SEEDS)
        assert row.test_accuracy_pct_mean == pytest.approx(mean, abs=1e-9)
        assert row.test_accuracy_pct_std == pytest.approx(std, abs=1e-9)
        assert row.sparsity_pct_mean == pytest.approx(100 * np.mean([m["sparsity"] for m in runs]), abs=1e-9)
        assert row.test_auc_mean == pytest.approx(np.mean([m["splits"]["test"]["auc"] for m in runs]), abs=1e-12)
    first = table.iloc[0]
    assert (first.dataset, first.model, first.method, first.level) == (SOURCE, "mesonet", "dense", 0)
    markdown = (results / "tables" / "table1_accuracy_vs_sparsity.md").read_text()
    mean, std = mean_std_pct(pick(in_domain, dataset=SOURCE, model="cnn5", method="oneshot", level=3))
    assert f"{mean:.2f} ± {std:.2f}" in markdown


def test_comparison_tables_equal_the_metrics_files(built):
    params, results, _ = built
    metrics = read_all_metrics(params)
    own = [m for m in metrics if m["stage"] != "transfer"]
    imp = pd.read_csv(results / "tables" / "table2_imp_vs_oneshot.csv")
    row = imp[(imp.dataset == TARGET) & (imp.model == "cnn5") & (imp.level == 5)].iloc[0]
    global_mean, _ = mean_std_pct(pick(own, dataset=TARGET, model="cnn5", method="imp_global", level=5))
    oneshot_mean, _ = mean_std_pct(pick(own, dataset=TARGET, model="cnn5", method="oneshot", level=5))
    assert row.imp_global_minus_oneshot_pct == pytest.approx(global_mean - oneshot_mean, abs=1e-9)

    controls = pd.read_csv(results / "tables" / "table3_controls.csv")
    assert sorted(set(controls.level)) == [4, 7]
    row = controls[(controls.dataset == SOURCE) & (controls.model == "mesonet") & (controls.level == 7)].iloc[0]
    ticket, _ = mean_std_pct(pick(own, dataset=SOURCE, model="mesonet", method="imp_global", level=7))
    reinit, _ = mean_std_pct(pick(own, dataset=SOURCE, model="mesonet", method="reinit", level=7))
    assert row.reinit_minus_ticket_pct == pytest.approx(reinit - ticket, abs=1e-9)

    transfer = pd.read_csv(results / "tables" / f"table4_transfer_{SOURCE}__to__{TARGET}.csv").set_index("model")
    assert list(transfer.index) == MODELS
    moved = [m for m in metrics if m["stage"] == "transfer"]
    for model in MODELS:
        dense, _ = mean_std_pct(pick(own, dataset=TARGET, model=model, method="dense"))
        cell, _ = mean_std_pct(pick(moved, model=model, method="oneshot", level=7))
        assert transfer.loc[model, "dense_test_accuracy_pct_mean"] == pytest.approx(dense, abs=1e-9)
        assert transfer.loc[model, f"oneshot_{level_name(7)}_test_accuracy_pct_mean"] == pytest.approx(cell, abs=1e-9)

    counts = pd.read_csv(results / "tables" / "table6_parameters.csv")
    row = counts[(counts.dataset == SOURCE) & (counts.model == "cnn5") & (counts.method == "imp_local") & (counts.level == 2)].iloc[0]
    runs = pick(own, dataset=SOURCE, model="cnn5", method="imp_local", level=2)
    assert row.remaining_weights == pytest.approx(np.mean([m["remaining_weights"] for m in runs]))
    assert row.prunable_weights == PRUNABLE["cnn5"] and row.total_parameters == TOTAL["cnn5"]

    runs_csv = pd.read_csv(results / "tables" / "accuracy_vs_sparsity.csv")
    assert len(runs_csv) == len(own)
    assert sorted(runs_csv.test_accuracy) == sorted(m["splits"]["test"]["accuracy"] for m in own)

    gradcam = pd.read_csv(results / "tables" / "table7_gradcam.csv")
    assert list(gradcam.mean_map_change_frobenius) == [0.0, 7.5, 12.25]


def test_paper_column_holds_the_papers_numbers_beside_ours(built):
    params, results, _ = built
    metrics = read_all_metrics(params)
    table = pd.read_csv(results / "tables" / "table5_paper_comparison.csv")
    transfer = table[table.setting.str.startswith("transfer")]
    for model, row in paper.TABLE_I.items():
        if model not in MODELS:
            continue
        ours = transfer[transfer.model == model]
        for column, value in row.items():
            method, sparsity = paper.TABLE_I_COLUMNS[column]
            level = 0 if method == "dense" else {0.6: 4, 0.8: 7}[sparsity]
            hit = ours[(ours.paper == value) & (ours.level == level)]
            assert len(hit) == 1, (model, column)
            if method == "dense":
                runs = pick(metrics, stage="dense", dataset=TARGET, model=model)
            else:
                runs = pick(metrics, stage="transfer", model=model, level=level,
                            method="imp_global" if method == "imp" else method)
            mean, _ = mean_std_pct(runs)
            assert hit.iloc[0].ours_mean == pytest.approx(mean, abs=1e-9)
            assert hit.iloc[0].difference == pytest.approx(mean - value, abs=1e-9)
    in_domain = table[table.setting.str.startswith("in-domain (OpenForensic")]
    cnn5 = in_domain[(in_domain.model == "cnn5") & (in_domain.method == "imp_global")].iloc[0]
    assert cnn5.paper == 90.88 and cnn5.dataset == SOURCE and cnn5.level == 7
    assert "xception" not in set(table.model)
    report = (results / "report.md").read_text()
    assert f"`{SOURCE}` plays OpenForensic" in report


@pytest.mark.skipif(not PAPER_MD.is_file(), reason=f"{PAPER_MD} not found")
def test_paper_data_matches_paper_md():
    text = PAPER_MD.read_text()
    names = {"MesoNet": "mesonet", "CNN-5": "cnn5", "ResNet-18": "resnet18"}
    rows = re.findall(r"^\| (MesoNet|CNN-5|ResNet-18) \|((?: [\d.]+ \|){5})$", text, flags=re.M)
    assert len(rows) == 3
    for name, cells in rows:
        values = [float(v) for v in cells.strip(" |").split("|")]
        assert values == list(paper.TABLE_I[names[name]].values()), name
    sentence = re.search(r"In-domain, OpenForensic, IMP-Global at 80% sparsity.*?\n\n", text, flags=re.S).group(0)
    numbers = {n.model: n.value for n in paper.PAPER_NUMBERS
               if n.setting == "in_domain" and n.role == paper.OPENFORENSIC and n.quantity == "test_accuracy_pct"
               and n.method == "imp_global"}
    dense = {n.model: n.value for n in paper.PAPER_NUMBERS
             if n.setting == "in_domain" and n.role == paper.OPENFORENSIC and n.method == "dense"}
    for name, ticket, base in re.findall(r"(MesoNet|CNN-5|ResNet-18|XceptionNet) ([\d.]+) \(([\d.]+)", sentence):
        model = paper.MODEL_NAMES[name]
        assert numbers[model] == float(ticket) and dense[model] == float(base), name
    for item in paper.KNOWN_CONTRADICTIONS:
        assert item.split(" ")[1] in text


def test_report_md_states_data_assumptions_and_contradictions(built):
    params, results, _ = built
    report = (results / "report.md").read_text()
    assert "**Demo data.**" in report and "not** the paper's numbers" in report
    for phrase in ("20% per level of the remaining weights", "reset to their initial values θ0",
                   "the output layer is not pruned", "global scope", "Seeds: 0, 1, 2", "128×128 px",
                   "early stopping after 10 epochs", "levels 4, 7", "demo_gan → demo_swap"):
        assert phrase in report, phrase
    assert "Table I gives 74.5" in report
    for link in re.findall(r"\]\(((?:tables|figures)/[^)]+)\)", report):
        assert (results / link).is_file(), link
    assert "Warning: results from other settings" not in report


def test_every_table_has_an_html_page_and_every_file_a_place_in_the_html_report(built):
    """The HTML report shows each table as written for report.md, and files every figure and table by stage."""
    params, results, _ = built
    csvs = sorted((results / "tables").glob("*.csv"))
    for csv in csvs:
        page = csv.with_suffix(".html").read_text()
        assert page.startswith("<!DOCTYPE html>") and "<script" not in page and page.count("<tr>") > 1, csv.name
    comparison = (results / "tables" / "table5_paper_comparison.md").read_text()
    page = (results / "tables" / "table5_paper_comparison.html").read_text()
    first_row = comparison.splitlines()[4].strip("| ").split(" | ")  # title, blank, header, rule, first row
    assert all(html.escape(cell) in page for cell in first_row), first_row
    names = [p.stem for p in csvs] + [p.stem for p in (results / "figures").glob("*.png")]
    for name in names:
        category, subcategory = catalog.placement(name)
        assert category in catalog.CATEGORIES and category != catalog.STUDY and subcategory, name
        assert catalog.title(name, results / "tables") != name, name
    assert catalog.placement(f"fig3_gradcam_{SOURCE}_cnn5") == (catalog.GRADCAM, f"{SOURCE} · CNN-5")
    assert catalog.placement(f"table4_transfer_{SOURCE}__to__{TARGET}") == (catalog.TRANSFER, f"{SOURCE} → {TARGET}")
    assert catalog.title("table5_paper_comparison", results / "tables").startswith("The paper's numbers beside ours")


def test_the_description_page_is_report_md_without_its_tables_and_figures_plus_the_costs(built):
    params, results, _ = built
    report = (results / "report.md").read_text()
    text = description.description_markdown(report)
    assert "## Assumptions in force" in text and "## The paper's numbers beside ours" in text
    assert "**Demo data.**" in text and "## What the paper claims" in text
    assert description.TABLES_HEADING not in text and description.FIGURES_HEADING not in text and "![" not in text
    assert all(section in report for section in text.split("\n## "))  # report.md's sections, verbatim

    jobs = stages.study(params)
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    trains = [job for job in jobs if job.rule == "train"]
    written = [stages.job_record(params, job, "benchmark") for job in (*trains[:2], jobs[-1])]
    undeclared = written[0].with_name("99.tsv")  # a benchmark of a job the study does not declare
    for path, (wall, rss) in zip([*written, undeclared], [(2.5, 100.0), (4.0, 300.5), (1.0, "NA"), (99.0, 999.0)]):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + f"{wall}\t0:00:01\t{rss}\t1\t1\t1\t7\t1\t50\t1.5\n")
    try:
        rows = {row["rule"]: row for row in description.cost_rows(params, jobs)}
        assert list(rows) == list(dict.fromkeys(job.rule for job in jobs))  # every rule, upstream first
        assert rows["train"]["jobs"] == len(trains) and rows["train"]["benchmarked"] == 2
        assert rows["train"]["wall time, s (all jobs)"] == "6.5" and rows["train"]["longest job, s"] == "4.0"
        assert rows["train"]["peak RSS, MB"] == "300.5" and rows["train"]["read, MB"] == "14.0"
        assert rows["report"]["peak RSS, MB"] == "–" and rows["prune_imp"]["benchmarked"] == 0
        page = description.workflow_description(params, jobs, "Intro\n=====\n")
        assert page.startswith("Intro") and ".. raw:: html" in page and "{% raw %}" in page
        assert "<h2>Assumptions in force (params.yaml)</h2>" in page and "<td>train</td>" in page
        assert "<table>" in page and "Tables</h2>" not in page
    finally:
        shutil.rmtree(paths.benchmarks_dir(params))


def test_stale_results_are_flagged(tmp_path):
    params = make_params(tmp_path, seeds=[0])
    write_results_tree(params, seeds=[0], methods=("imp_global",), controls=(), transfer=False, gradcam=False)
    changed = make_params(tmp_path, seeds=[0], training={"learning_rate": 0.5})
    build_report(changed)
    report = (Path(params["paths"]["results"]) / "report.md").read_text()
    assert "Warning: results from other settings" in report and "'learning_rate': 0.5" in report


def test_a_subset_builds_one_seed_no_transfer(tmp_path):
    params = make_params(tmp_path, seeds=[0], transfer={"pairs": []}, report={"formats": ["png"]})
    write_results_tree(params, seeds=[0], methods=("imp_global",), controls=(), transfer=False, gradcam=False)
    build_report(params)
    results = Path(params["paths"]["results"])
    tables = sorted(p.name for p in (results / "tables").glob("*.csv"))
    assert tables == ["accuracy_vs_sparsity.csv", "claims.csv", "claims_summary.csv", "comparisons.csv",
                      "table1_accuracy_vs_sparsity.csv",
                      "table2_imp_vs_oneshot.csv", "table5_paper_comparison.csv", "table6_parameters.csv"]
    figures = sorted(p.name for p in (results / "figures").iterdir())
    layer_profiles = sorted(f"fig_layer_sparsity_{model}.png" for model in MODELS)  # no mask.pt: no overlap figure
    assert figures == ["fig1_teaser.png", "fig2_accuracy_vs_sparsity.png", *layer_profiles]
    table = pd.read_csv(results / "tables" / "table1_accuracy_vs_sparsity.csv")
    assert table.test_accuracy_pct_std.isna().all() and (table.n_seeds == 1).all()
    comparison = pd.read_csv(results / "tables" / "table5_paper_comparison.csv")
    transfer = comparison[comparison.setting.str.startswith("transfer")]
    assert transfer[transfer.method != "dense"].ours_mean.isna().all()
    assert transfer[transfer.method == "dense"].ours_mean.notna().all()  # Table I's dense: the FF++ role's own run
    report = (results / "report.md").read_text()
    assert "no transfer pair is configured" in report and "No Grad-CAM records" in report


def test_rebuild_replaces_the_folders(built, tmp_path):
    params = make_params(tmp_path, seeds=[0])
    write_results_tree(params, seeds=[0], methods=("imp_global",), controls=(), transfer=False, gradcam=False)
    results = Path(params["paths"]["results"])
    (results / "figures").mkdir(parents=True)
    (results / "figures" / "stale.png").write_bytes(b"old")
    build_report(params)
    assert not (results / "figures" / "stale.png").exists()


def test_no_metrics_is_a_clear_error(tmp_path):
    params = make_params(tmp_path)
    with pytest.raises(InputError, match="no metrics.json"):
        build_report(params)
    assert not (Path(params["paths"]["results"]) / "figures").exists()


def test_a_broken_metrics_file_is_named(tmp_path):
    params = make_params(tmp_path, seeds=[0])
    folder = dense_dir(params, SOURCE, "cnn5", 0)
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"stage": "dense", "dataset": SOURCE}))
    with pytest.raises(InputError, match=r"dense/metrics.json: metrics file lacks model"):
        build_report(params)


def test_formatting_helpers():
    assert mean_pm_std(91.414, 0.3249) == "91.41 ± 0.32"
    assert mean_pm_std(91.414, float("nan")) == "91.41"
    assert mean_pm_std(float("nan"), 1.0) == "–"
    assert latex_escape("a_b 5% ± 1") == r"a\_b 5\% $\pm$ 1"
    markdown = to_markdown(pd.DataFrame({"name": ["x|y"], "value": ["1.50"]}))
    assert markdown.splitlines() == ["| name | value |", "| --- | ---: |", "| x\\|y | 1.50 |"]


def test_results_the_study_does_not_declare_are_named_as_ignored_and_read_by_nothing(tmp_path):
    """A dataset, a seed and a level the study no longer declares, left on disk: the tables and the
    figures (their data and their pixels) are exactly those of the declared study alone."""
    params = make_params(tmp_path, seeds=[0], report={"formats": ["png"]})
    write_results_tree(params, seeds=[0], methods=("imp_global",), controls=(), transfer=False, gradcam=False)
    build_report(params)
    results = Path(params["paths"]["results"])

    def outputs():
        return {p.relative_to(results): p.read_bytes() for folder in ("tables", "figures")
                for p in sorted((results / folder).iterdir())}

    declared_only = outputs()
    ghosts = [dense_dir(params, "ghost_set", "cnn5", 0), dense_dir(params, SOURCE, "cnn5", 7),
              level_dir(params, SOURCE, "cnn5", 0, "imp_global", 9)]
    for folder, (dataset, seed, method, level) in zip(ghosts, [("ghost_set", 0, "dense", 0), (SOURCE, 7, "dense", 0),
                                                              (SOURCE, 0, "imp_global", 9)]):
        write_metrics(folder, stage="dense" if level == 0 else "prune", dataset=dataset, model="cnn5", seed=seed,
                      method=method, level=level, accuracy=0.123456)
    build_report(params)
    assert outputs() == declared_only
    report = (results / "report.md").read_text()
    ignored = report.split("## Ignored results")[1].split("\n## ")[0]
    assert "3 result files" in ignored
    for folder in ghosts:
        assert f"`{folder.relative_to(results).as_posix()}`" in ignored
    assert "ghost_set" not in report.replace(ignored, "")
