"""End to end: the whole study through Snakemake (and DVC) on the tiny config, as a user runs it."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

from conftest import TINY_PARAMS
from deepfake_lth import targets
from deepfake_lth.config import load_params
from workflow_runner import dvc, make_dvc_project, planned_jobs, snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The tiny study built once by `snakemake --cores 2 results/figures`."""
    workdir = tmp_path_factory.mktemp("study")
    shutil.copy(TINY_PARAMS, workdir / "params.yaml")
    snakemake(workdir, "results/figures")
    return workdir


@pytest.fixture(scope="module")
def params(study):
    return load_params(study / "params.yaml")


def test_every_target_exists(study, params):
    for path in targets.report_inputs(params):
        assert (study / path).is_file(), path
    assert (study / "results/report.md").is_file()
    assert any((study / "results/tables").glob("*.csv"))
    assert any((study / "results/figures").glob("*.png"))


def test_second_invocation_runs_nothing(study):
    assert planned_jobs(study, "results/figures") == {}


def test_one_level_is_regenerated_alone_and_identically(study):
    level = study / "results/runs/demo_gan/mesonet/seed_0/imp_global/level_02"
    before = json.loads((level / "metrics.json").read_text())
    shutil.rmtree(level)
    target = str(level.relative_to(study) / "metrics.json")
    assert planned_jobs(study, target) == {"prune_imp": 1}
    run = snakemake(study, target)
    assert json.loads((level / "metrics.json").read_text()) == before
    # the run began by printing the plan of the study it belongs to
    assert "deepfake-lth plan of params.yaml: 51 jobs" in run.stdout and "levels: 50% of the remaining" in run.stdout


@pytest.mark.parametrize(
    "folder, rule",
    [
        ("results/runs/demo_swap/cnn5/seed_0/oneshot/level_01", "prune_oneshot"),
        ("results/transfer/demo_gan__to__demo_swap/cnn5/seed_0/imp_global/level_02", "transfer"),
        ("results/runs/demo_gan/cnn5/seed_0/random_mask/level_02", "prune_control"),
    ],
)
def test_one_point_plans_exactly_one_job(study, folder, rule):
    (study / folder / "metrics.json").unlink()
    assert planned_jobs(study, f"{folder}/metrics.json") == {rule: 1}
    snakemake(study, f"{folder}/metrics.json")


def test_unrelated_param_change_reruns_only_dependent_jobs(study):
    snakemake(study, "results/figures")  # bring up to date after the regenerations above
    params = yaml.safe_load((study / "params.yaml").read_text())
    params["gradcam"]["images_per_class"] = 1
    (study / "params.yaml").write_text(yaml.safe_dump(params))
    try:
        assert planned_jobs(study, "results/figures") == {"gradcam": 2, "report": 1}
    finally:
        shutil.copy(TINY_PARAMS, study / "params.yaml")


def _metrics(study, pattern):
    return [json.loads(p.read_text()) for p in sorted(study.glob(pattern))]


def test_accuracy_table_equals_the_metrics_files(study):
    table = pd.read_csv(study / "results/tables/table1_accuracy_vs_sparsity.csv")
    assert len(table) > 0
    for row in table.itertuples():
        level = "dense" if row.method == "dense" else f"{row.method}/level_{row.level:02d}"
        runs = _metrics(study, f"results/runs/{row.dataset}/{row.model}/seed_*/{level}/metrics.json")
        assert runs, row
        expected = 100 * sum(r["splits"]["test"]["accuracy"] for r in runs) / len(runs)
        assert row.test_accuracy_pct_mean == pytest.approx(expected, abs=1e-9)
        expected_sparsity = 100 * sum(r["sparsity"] for r in runs) / len(runs)
        assert row.sparsity_pct_mean == pytest.approx(expected_sparsity, abs=1e-9)


def test_every_metrics_file_is_in_the_accuracy_table(study, params):
    table = pd.read_csv(study / "results/tables/table1_accuracy_vs_sparsity.csv")
    rows = {(r.dataset, r.model, r.method, int(r.level)) for r in table.itertuples()}
    for path in targets.dense_metrics(params) + targets.level_metrics(params) + targets.control_metrics(params):
        m = json.loads((study / path).read_text())
        assert (m["dataset"], m["model"], m["method"], m["level"]) in rows, path


# Last in the file: DVC takes over the study Snakemake built (the tests above leave it complete).
HANDOFF_STAGES = [
    "demo-demo_gan", "faces-demo_gan", "train-demo_gan-mesonet-s0", "prune-demo_gan-cnn5-s0-imp_global-02",
    "prune-demo_swap-cnn5-s0-random_mask-02", "transfer-demo_gan-demo_swap-cnn5-s0-oneshot-02",
    "gradcam-demo_swap-cnn5", "report",
]


@pytest.fixture(scope="module")
def locked(study):
    """The Snakemake-built study as a DVC project whose dvc.lock records it (what `make dvc-lock` does)."""
    snakemake(study, "results/figures")
    make_dvc_project(study, TINY_PARAMS)
    dvc(study, "commit", "--force", "--quiet")
    return study


def dvc_status(workdir) -> dict:
    return json.loads(dvc(workdir, "status", "--json").stdout)


def test_dvc_repro_after_snakemake_and_dvc_lock_runs_nothing(locked):
    assert dvc_status(locked) == {}
    assert "Running stage" not in dvc(locked, "repro").stdout


@pytest.mark.parametrize("stage", HANDOFF_STAGES)
def test_a_stage_rerun_by_dvc_writes_what_snakemake_wrote(locked, stage):
    """Same bytes from either engine (folders included: Snakemake's timestamp marker is not hashed),
    so nothing below the re-run stage goes stale."""
    output = dvc(locked, "repro", "--force", "--single-item", stage).stdout
    assert f"Running stage '{stage}'" in output
    assert dvc_status(locked) == {}
