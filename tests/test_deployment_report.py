"""Deployment in the report: the deployment table (one row per run, runtime and thread count, each with its
run's test accuracy and interval), the Pareto figure per model, report.md's account of what each method saves,
and the claim "IMP beats channel pruning at equal sparsity", from synthetic runs with a deployment.csv per
setting (the deploy stage's file, written with its own writer)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from deepfake_lth import paths, stages
from deepfake_lth.config import scored_runs
from deepfake_lth.deployment.deployment_file import (
    COLUMNS as FILE_COLUMNS, RUNTIMES, read_deployment, write_deployment,
)
from deepfake_lth.errors import InputError
from deepfake_lth.paths import level_dir
from deepfake_lth.report.build import build_report
from deepfake_lth.report.collect import collect_metrics, sort_report_inputs
from deepfake_lth.report.document import catalog
from deepfake_lth.report.document.report_md import deployment_section
from deepfake_lth.report.roles import dataset_roles
from deepfake_lth.report.statistics.claims import NOT_TESTABLE, claims_frame
from deepfake_lth.report.statistics.comparisons import IMP_VS_STRUCTURED, comparisons_frame, imp_methods
from deepfake_lth.report.statistics.deployment import Deployment
from deepfake_lth.report.statistics.intervals import add_run_intervals, study_intervals
from deepfake_lth.report.summary import in_domain
from deepfake_lth.report.tables.deployment_table import deployment_table
from test_report import SOURCE, TARGET, accuracy_of, make_params, write_metrics, write_results_tree

MODEL, SEEDS, THREADS = "cnn5", (0, 1), (1, 4)
METHODS = ("imp_global", "oneshot", "channel")
DENSE_MS, DENSE_BYTES, PARAMETERS, MACS = 2.0, 1_204_548, 301_137, 48_000_000
FIRST = ["dataset", "model", "seed", "method", "level", "total_parameters", "nonzero_parameters", "macs",
         "effective_macs", "bytes_dense", "bytes_sparse", "bytes_compressed", "latency_ms_b1", "latency_ms_b32",
         "latency_iqr_ms_b1", "runtime", "accuracy", "ci_low", "ci_high"]
REST = ["threads", "mask_sparsity", "effective_sparsity", "architecture", "latency_iqr_ms_b32"]
IDENTITY = ["dataset", "model", "seed", "method", "level"]


def study_params(tmp_path: Path, methods=METHODS) -> dict:
    return make_params(tmp_path, seeds=list(SEEDS), models=[MODEL], report={"formats": ["png"]},
                       pruning={"levels": 7, "methods": list(methods),
                                "controls": {"ticket": "imp_global", "sparsities": [0.6, 0.8]}},
                       transfer={"pairs": []}, gradcam={"models": [], "sparsities": [0.6, 0.8]})


def measured_row(dataset: str, seed: int, method: str, level: int, runtime: str, threads: int) -> dict:
    """A deployment row as the deploy stage measures it: a channel ticket timed shrunk (fewer MACs, bytes and
    milliseconds the sparser it is), every other run with the dense network's very timings (deploy.py times
    each distinct network once)."""
    sparsity = 1 - 0.8 ** level
    shrunk = method == "channel"
    kept = 1 - sparsity
    timed = DENSE_MS * (1 + 0.1 * seed) * (1 + threads) / (2 * threads) * (1.5 if runtime == "torch" else 1.0)
    latency = timed * (kept if shrunk else 1.0)
    nonzero = round(PARAMETERS * kept)
    return {"dataset": dataset, "model": MODEL, "seed": seed, "method": method, "level": level,
            "architecture": f"{method} level {level}" if shrunk else "dense", "mask_sparsity": sparsity,
            "effective_sparsity": sparsity,
            "total_parameters": nonzero if shrunk else PARAMETERS, "nonzero_parameters": nonzero,
            "macs": round(MACS * kept) if shrunk else MACS, "effective_macs": round(MACS * kept),
            "bytes_dense": round(DENSE_BYTES * kept) if shrunk else DENSE_BYTES,
            "bytes_sparse": round(8 * nonzero) + 4096, "bytes_compressed": round(7 * nonzero) + 4096,
            "runtime": runtime, "threads": threads, "latency_ms_b1": latency, "latency_iqr_ms_b1": 0.02 * latency,
            "latency_ms_b32": 20 * latency, "latency_iqr_ms_b32": 0.3 * latency}


def declared_deployment(params: dict) -> tuple[Path, ...]:
    return tuple(paths.deployment_outputs(params, d, MODEL, s)["deployment"] for d in (SOURCE, TARGET) for s in SEEDS)


def write_study(params: dict) -> None:
    """The runs of test_report's tree, channel tickets 25 points worse than IMP's, and a deployment.csv per
    setting with every scored run x runtime x thread count."""
    write_results_tree(params, seeds=SEEDS, methods=params["pruning"]["methods"], transfer=False, gradcam=False)
    for dataset in (SOURCE, TARGET):
        for seed in SEEDS:
            for level in range(1, params["pruning"]["levels"] + 1):
                write_metrics(level_dir(params, dataset, MODEL, seed, "channel", level), stage="prune",
                              dataset=dataset, model=MODEL, seed=seed, method="channel", level=level,
                              accuracy=accuracy_of(dataset, MODEL, seed, "channel", level) - 0.25)
            write_deployment(paths.deployment_outputs(params, dataset, MODEL, seed)["deployment"],
                             [measured_row(dataset, seed, method, level, runtime, threads)
                              for method, level in scored_runs(params) for runtime in RUNTIMES for threads in THREADS])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    params = study_params(tmp_path_factory.mktemp("deployment"))
    write_study(params)
    assert stages.study(params)[-1].inputs["deployment"] == declared_deployment(params)
    build_report(params)
    return params, Path(params["paths"]["results"])


def measured(params: dict) -> pd.DataFrame:
    return pd.concat([read_deployment(p) for p in declared_deployment(params)], ignore_index=True)


def test_the_csv_has_a_row_per_run_runtime_and_thread_count_with_its_accuracy_and_interval(built):
    params, results = built
    table = pd.read_csv(results / "tables" / "deployment.csv")
    assert list(table.columns) == FIRST + REST
    assert set(FIRST + REST) == {*FILE_COLUMNS, "accuracy", "ci_low", "ci_high"}  # every column of deployment.csv
    assert len(table) == 2 * len(SEEDS) * len(scored_runs(params)) * len(RUNTIMES) * len(THREADS)
    keys = IDENTITY + ["runtime", "threads"]
    assert not table.duplicated(keys).any()
    source = measured(params).set_index(keys)
    for column in FILE_COLUMNS:  # deployment.csv's numbers unchanged
        if column not in keys:
            assert table.set_index(keys)[column].reindex(source.index).tolist() == source[column].tolist(), column
    runs = pd.read_csv(results / "tables" / f"{catalog.RUNS_TABLE}.csv")  # the report's own per-run intervals
    joined = table.merge(runs, on=IDENTITY, how="left", validate="many_to_one")
    assert joined["test_accuracy"].notna().all() and joined["ci_low"].notna().all()
    assert joined["accuracy"].tolist() == joined["test_accuracy"].tolist()  # fractions at full precision
    assert joined["ci_low"].tolist() == joined["test_accuracy_ci_low"].tolist()
    assert joined["ci_high"].tolist() == joined["test_accuracy_ci_high"].tolist()
    assert (joined["ci_low"] <= joined["accuracy"]).all() and (joined["accuracy"] <= joined["ci_high"]).all()


def test_the_markdown_shows_readable_cells_and_ratios_to_dense(built):
    params, results = built
    markdown = (results / "tables" / "deployment.md").read_text()
    assert "KB dense / sparse / compressed" in markdown and "latency × dense (batch 1 / 32)" in markdown
    assert "channel (L1)" in markdown and "IMP-Global" in markdown
    dense_kb = f"{DENSE_BYTES / 1e3:.1f}"
    assert dense_kb in markdown and "Δ accuracy vs dense" in markdown
    for ext in ("tex", "html"):
        assert (results / "tables" / f"deployment.{ext}").stat().st_size > 0
    assert catalog.placement("deployment") == (catalog.DEPLOYMENT, catalog.EVERYTHING)


def test_the_pareto_figure_of_each_model_is_drawn_and_filed(built):
    params, results = built
    name = catalog.deployment_figure_name(MODEL)
    assert (results / "figures" / f"{name}.png").stat().st_size > 1000
    report = (results / "report.md").read_text()
    assert f"**{catalog.deployment_caption(MODEL)}**" in report and "1 thread" in catalog.deployment_caption(MODEL)
    assert catalog.placement(name) == (catalog.DEPLOYMENT, "CNN-5")
    assert catalog.title(name, results / "tables") == catalog.deployment_caption(MODEL)


def test_report_md_says_what_each_method_saves_from_the_measured_numbers(built):
    params, results = built
    report = (results / "report.md").read_text()
    assert "## Deployment (beyond the paper)" in report
    section = report.split("## Deployment (beyond the paper)")[1].split("\n## ")[0]
    rows = measured(params)
    runtime, threads = catalog.DEPLOYMENT_TIMING
    timed = rows[(rows["runtime"] == runtime) & (rows["threads"] == threads)]

    def ratio(method: str, level: int, column: str, over: str | None = None) -> str:
        run = timed[(timed["method"] == method) & (timed["level"] == level)][column].mean()
        dense = timed[timed["method"] == "dense"][over or column].mean()
        return f"{run / dense:.2f}"

    for method, label in (("imp_global", "IMP-Global"), ("channel", "channel (L1)")):
        for level in (4, 7):
            line = next(x for x in section.splitlines() if x.startswith(f"- **{label}**, L{level} "))
            assert f"latency {ratio(method, level, 'latency_ms_b1')}× (every timing: " in line
            assert f"{ratio(method, level, 'bytes_sparse', 'bytes_dense')}× in the sparse format" in line
            assert ("timed shrunk" in line) == (method == "channel") and "Δ accuracy" in line
    assert ratio("imp_global", 4, "latency_ms_b1") == "1.00"  # an unstructured ticket: the dense network's time
    assert ratio("channel", 7, "latency_ms_b1") == f"{0.8 ** 7:.2f}"
    assert "over the 2 settings" in section
    in_short = next(x for x in section.splitlines() if x.startswith("In short, at level 7"))
    assert "an unstructured ticket runs as fast as the dense model and no faster (latency 1.00×" in in_short
    assert f"Channel (L1) pruning removes whole channels: its network runs in {ratio('channel', 7, 'latency_ms_b1')}×" \
        in in_short


def test_the_claim_imp_beats_channel_pruning_is_tested_and_pooled(built):
    params, results = built
    comparisons = pd.read_csv(results / "tables" / "comparisons.csv")
    structured = comparisons[comparisons["comparison"] == IMP_VS_STRUCTURED]
    assert set(structured["a_method"]) == {"imp_global"} and set(structured["b_method"]) == {"channel"}
    assert len(structured) == 2 * params["pruning"]["levels"]  # two datasets, every level
    claims = pd.read_csv(results / "tables" / "claims.csv", keep_default_na=False)
    rows = claims[claims["key"] == "imp_beats_channel"]
    assert len(rows) == 2 * 2  # two sparsities, two datasets
    assert rows["claim"].str.startswith("IMP beats channel (L1) pruning at equal sparsity").all()
    assert rows["claim"].str.contains("beyond the paper").all()
    assert (rows["verdict"] != NOT_TESTABLE).all() and (rows["delta_pct"].astype(float) > 5).all()
    summary = pd.read_csv(results / "tables" / "claims_summary.csv")
    pooled = summary[summary["key"] == "imp_beats_channel"]
    assert list(pooled["sparsity_pct"]) == [60.0, 80.0] and (pooled["n_settings"] == 2).all()
    assert "IMP beats channel (L1) pruning" in (results / "tables" / "claims_summary.md").read_text()
    assert imp_methods() == ("imp_global", "imp_local")  # channel is not of the IMP family


def test_without_channel_pruning_the_study_has_no_such_claim(built, tmp_path):
    params, results = built
    frame = collect_metrics(sorted(results.glob("runs/**/metrics.json")), results)
    intervals = study_intervals(frame, {Path(p): Path(p).with_name("predictions.csv") for p in frame["path"]},
                                params["statistics"])
    without = study_params(tmp_path, methods=("imp_global", "oneshot"))
    comparisons = comparisons_frame(frame, without, intervals)
    claims = claims_frame(comparisons, frame, without, dataset_roles(without, [SOURCE, TARGET]), intervals)
    assert "imp_beats_channel" not in set(claims["key"])


def test_without_deployment_files_nothing_of_it_appears(built):
    params, results = built
    frame = collect_metrics(sorted(results.glob("runs/**/metrics.json")), results)
    intervals = study_intervals(frame, {Path(p): Path(p).with_name("predictions.csv") for p in frame["path"]},
                                params["statistics"])
    deployment = Deployment.of(intervals, in_domain(add_run_intervals(frame, intervals)), [])
    assert deployment.models() == [] and deployment_table(deployment, params) is None
    assert deployment_section(deployment) == ""


def test_declared_deployment_files_not_made_are_listed_as_missing(built):
    params, _ = built
    declared = declared_deployment(params)
    absent = declared[0].with_name("absent.csv")
    job = SimpleNamespace(inputs={"metrics": (), "predictions": (), "gradcam": (), "masks": (), "robustness": (),
                                  "generalization": (), "deployment": (*declared, absent)})
    inputs = sort_report_inputs(job, [])
    assert inputs.deployment == list(declared) and inputs.missing == [absent]


@pytest.mark.parametrize("content, problem", [
    ("dataset,model\ndemo_gan,cnn5\n", "its columns are dataset, model"),
    (",".join(FILE_COLUMNS) + "\n" + ",".join(["x"] * len(FILE_COLUMNS)) + "\n", "line 2"),
])
def test_read_deployment_refuses_a_bad_file_naming_it(tmp_path, content, problem):
    path = tmp_path / "deployment.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=problem) as error:
        read_deployment(path)
    assert str(path) in str(error.value)
