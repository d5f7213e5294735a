"""DVC as the versioning layer, end to end on the tiny study, as a user runs it.

One git + DVC project is built once per module (`dvc repro`, the real CLI for every stage) and then
checked: the second `dvc repro` runs nothing, `dvc metrics show` and `dvc plots show` read the
results, a re-run level writes the same bytes, `dvc push` / `git clone` / `dvc pull` restore the
results tree in a second clone where nothing is stale, and `dvc exp run -S` sweeps a parameter,
re-running only the stages that read it.

The tiny config is used with one model (cnn5, the Grad-CAM model) instead of two: DVC runs stages one
at a time and each costs a Python start with torch, so both models would double the build (107 s on an
idle 2-core machine with one); one model keeps every kind of stage (demo, faces, train, IMP global and
local, channel, one-shot, both controls, transfer both ways, Grad-CAM, conditions, deployment,
report) in 41 stages. The Snakemake tests (test_workflow.py) cover the full tiny config.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, TINY_PARAMS
from deepfake_lth import paths, targets
from deepfake_lth.config import load_params
from deepfake_lth.paths import dense_dir, level_dir
from workflow_runner import dvc, dvc_stage_address, dvc_stage_names, planned_jobs, run, snakemake

pytestmark = pytest.mark.slow

MODELS = ["cnn5"]
SWEEP = "gradcam.images_per_class=1"
RAN = re.compile(r"^Running stage '([^']+)'", re.MULTILINE)
ACCURACY_CSV = "results/tables/accuracy_vs_sparsity.csv"


@dataclass
class Project:
    """A git repository holding a DVC project of the tiny study, its default remote, and its params."""

    workdir: Path
    remote: Path
    params: dict
    first_repro: str  # the output of the `dvc repro` that built it


def git(workdir: Path, *args: str) -> str:
    return run(["git", *args], cwd=workdir).stdout


def stages_ran(output: str) -> set[str]:
    """The stages a `dvc repro` / `dvc exp run` executed, from its output."""
    return set(RAN.findall(output))


def dvc_status(workdir: Path) -> dict:
    """`dvc status` as JSON: {} when every stage and output is up to date."""
    return json.loads(dvc(workdir, "status", "--json").stdout)


def make_git_dvc_project(workdir: Path, params: dict) -> None:
    """A git repository with a DVC project: the package sources (the stages' code dependencies),
    params.yaml, the rendered dvc.yaml, and the repository's own DVC config (its default remote is
    the directory `dvc-remote/` beside the project, ignored by git and DVC)."""
    run(["git", "init", "-q"], cwd=workdir)
    git(workdir, "config", "user.name", "deepfake-lth tests")
    git(workdir, "config", "user.email", "tests@deepfake-lth.invalid")
    git(workdir, "config", "commit.gpgsign", "false")
    # copytree follows links, so the schema (a link into workflow/schemas) arrives as a file.
    shutil.copytree(REPO / "src", workdir / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc(workdir, "init", "-q")
    shutil.copy(REPO / ".dvc" / "config", workdir / ".dvc" / "config")
    shutil.copy(REPO / ".dvcignore", workdir / ".dvcignore")
    (workdir / ".gitignore").write_text("/dvc-remote/\n")
    dvc(workdir, "config", "core.analytics", "false")  # no network here; nothing to report
    run(["deepfake-lth", "dvc-yaml"], cwd=workdir)
    git(workdir, "add", "-A")
    git(workdir, "commit", "-q", "-m", "tiny study")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    """The tiny study built by `dvc repro` in a fresh git + DVC project."""
    workdir = tmp_path_factory.mktemp("dvc") / "study"
    workdir.mkdir()
    params = yaml.safe_load(TINY_PARAMS.read_text())
    params["models"] = MODELS
    make_git_dvc_project(workdir, params)
    output = dvc(workdir, "repro").stdout
    return Project(workdir, workdir / "dvc-remote", load_params(workdir / "params.yaml"), output)


@pytest.fixture(scope="module")
def clone(project, tmp_path_factory) -> Path:
    """A second clone of the project, its results pulled from the first one's remote."""
    git(project.workdir, "add", "-A")  # dvc.lock and the .gitignore files DVC wrote beside outputs
    git(project.workdir, "commit", "-q", "-m", "results of dvc repro")
    dvc(project.workdir, "push")
    second = tmp_path_factory.mktemp("dvc-clone") / "study"
    run(["git", "clone", "-q", str(project.workdir), str(second)], cwd=second.parent)
    # The committed remote is relative (<clone>/dvc-remote): point this clone at the first one's.
    dvc(second, "remote", "modify", "--local", "local", "url", str(project.remote))
    dvc(second, "pull")
    return second


def stage_names(workdir: Path) -> set[str]:
    return dvc_stage_names(workdir)


def in_domain_metrics(params: dict) -> list[Path]:
    return targets.dense_metrics(params) + targets.level_metrics(params) + targets.control_metrics(params)


def test_repro_builds_the_whole_study(project):
    assert stages_ran(project.first_repro) == stage_names(project.workdir)
    for path in targets.report_inputs(project.params):
        assert (project.workdir / path).is_file(), path
    assert (project.workdir / "results/report.md").is_file()
    assert any((project.workdir / "results/tables").glob("*.md"))
    assert any((project.workdir / "results/figures").glob("*.png"))


def _same_number(table_value, metrics_value) -> bool:
    if metrics_value is None:
        return math.isnan(table_value)
    return table_value == pytest.approx(metrics_value, rel=1e-12, abs=1e-12)


def test_accuracy_table_holds_the_numbers_of_the_metrics_files(project):
    table = pd.read_csv(project.workdir / ACCURACY_CSV)
    assert len(table) == len(in_domain_metrics(project.params))
    for row in table.itertuples():
        if row.method == "dense":
            folder = dense_dir(project.params, row.dataset, row.model, row.seed)
        else:
            folder = level_dir(project.params, row.dataset, row.model, row.seed, row.method, row.level)
        metrics = json.loads((project.workdir / folder / "metrics.json").read_text())
        test = metrics["splits"]["test"]
        assert _same_number(row.test_accuracy, test["accuracy"]), folder
        assert _same_number(row.test_auc, test["auc"]), folder
        assert _same_number(row.sparsity, metrics["sparsity"]), folder
        assert _same_number(row.remaining_weights, metrics["remaining_weights"]), folder


def test_second_repro_runs_nothing(project):
    output = dvc(project.workdir, "repro").stdout
    assert stages_ran(output) == set()
    assert dvc_status(project.workdir) == {}


def test_metrics_show_lists_every_level(project):
    shown = json.loads(dvc(project.workdir, "metrics", "show", "--json").stdout)
    files = next(iter(shown.values()))["data"]  # the workspace
    for path in in_domain_metrics(project.params) + targets.transfer_metrics(project.params):
        written = json.loads((project.workdir / path).read_text())
        assert files[str(path)]["data"]["splits"]["test"]["accuracy"] == written["splits"]["test"]["accuracy"]
        assert files[str(path)]["data"]["level"] == written["level"]


def test_plots_show_renders_accuracy_against_sparsity(project, tmp_path):
    plots = json.loads(dvc(project.workdir, "plots", "show", "--json").stdout)["data"]
    (plot,) = plots[ACCURACY_CSV]
    spec = plot["content"]
    assert spec["encoding"]["x"]["field"] == "sparsity"
    assert spec["layer"][0]["encoding"]["y"]["field"] == "test_accuracy"
    table = pd.read_csv(project.workdir / ACCURACY_CSV)
    points = sorted((float(v["sparsity"]), float(v["test_accuracy"])) for v in spec["data"]["values"])
    assert points == sorted(zip(table["sparsity"], table["test_accuracy"]))
    # The HTML page a user opens.
    dvc(project.workdir, "plots", "show", "--out", str(tmp_path / "plots"))
    assert "accuracy_vs_sparsity" in (tmp_path / "plots" / "index.html").read_text()


def test_push_then_pull_restores_the_results_in_another_clone(project, clone):
    assert any(project.remote.rglob("*")), "dvc push left the remote empty"
    restored = sorted(p.relative_to(clone) for p in (clone / "results").rglob("*") if p.is_file())
    built = sorted(p.relative_to(project.workdir) for p in (project.workdir / "results").rglob("*")
                   if p.is_file() and p.name != ".gitignore")
    assert [p for p in restored if p.name != ".gitignore"] == built
    for path in in_domain_metrics(project.params) + targets.transfer_metrics(project.params):
        assert (clone / path).read_bytes() == (project.workdir / path).read_bytes(), path
    assert dvc_status(clone) == {}
    assert stages_ran(dvc(clone, "repro").stdout) == set()


# Downstream first: forcing a job leaves every job above it older than its own outputs, so each
# forced run is exactly one job.
SNAKEMAKE_REDOES = [
    "results/report.md", "results/gradcam/demo_gan/cnn5/gradcam.json",
    "results/transfer/demo_swap__to__demo_gan/cnn5/seed_0/imp_global/level_02/metrics.json",
    "results/runs/demo_swap/cnn5/seed_0/reinit/level_02/metrics.json",
    "results/runs/demo_gan/cnn5/seed_0/imp_local/level_02/metrics.json",
    "results/runs/demo_gan/cnn5/seed_0/dense/metrics.json", "data/faces/demo_gan", "data/raw/demo_gan",
]


@pytest.fixture(scope="module")
def snakemake_beside(project) -> Path:
    """The DVC-built project, also driven by the Snakefile (its own files kept out of git)."""
    with open(project.workdir / ".git" / "info" / "exclude", "a") as exclude:
        exclude.write("/.snakemake/\n" + "".join(f"/{project.params['paths']['results']}/{folder}/\n"
                                                 for folder, _ in paths.JOB_RECORDS.values()))  # logs, benchmarks
    return project.workdir


def test_snakemake_finds_nothing_to_do_after_dvc_repro(snakemake_beside):
    assert planned_jobs(snakemake_beside, "results/figures") == {}


@pytest.mark.parametrize("target", SNAKEMAKE_REDOES)
def test_a_job_rerun_by_snakemake_writes_what_dvc_wrote(snakemake_beside, target):
    """Forcing one job through Snakemake rewrites its outputs byte for byte (Snakemake's timestamp marker
    in folders is not hashed), so DVC still finds every stage up to date."""
    result = snakemake(snakemake_beside, "--force", target)
    assert "1 of 1 steps (100%) done" in result.stdout + result.stderr
    assert dvc_status(snakemake_beside) == {}


def test_experiment_sweep_reruns_only_gradcam_and_report(project):
    workdir = project.workdir
    try:
        output = dvc(workdir, "exp", "run", "-S", SWEEP).stdout
        gradcam = {name for name in stage_names(workdir) if name.rpartition(":")[2].startswith("gradcam-")}
        assert gradcam and stages_ran(output) == gradcam | {"report"}
        for path in targets.gradcam_outputs(project.params):
            assert len(json.loads((workdir / path).read_text())["images"]) == 2  # one real, one fake face
        experiments = json.loads(dvc(workdir, "exp", "show", "--json").stdout)
        swept = [
            rev["data"]["params"]["params.yaml"]["data"]["gradcam"]["images_per_class"]
            for commit in experiments
            for experiment in commit.get("experiments") or []
            for rev in experiment["revs"]
        ]
        assert swept == [1]
    finally:  # back to the committed baseline for any test that runs after this one
        git(workdir, "checkout", "--", "params.yaml", "dvc.lock", "pipelines")
        dvc(workdir, "checkout", "--force")


def test_a_model_edit_makes_exactly_the_stages_of_that_model_stale(project):
    """Code deps derived from imports: an edit of models/cnn5.py changes the deps of exactly the stages
    that build CNN-5 (train, prune, transfer, Grad-CAM); an edit of models/mesonet.py, a model this
    study does not build, changes none."""
    workdir = project.workdir
    for model, expected in (("cnn5", {name for name in stage_names(workdir) if "-cnn5" in name}), ("mesonet", set())):
        source = workdir / "src" / "deepfake_lth" / "models" / f"{model}.py"
        original = source.read_text()
        try:
            source.write_text(original + "\n# an edit\n")
            assert set(dvc_status(workdir)) == expected, model
        finally:
            source.write_text(original)
    assert dvc_status(workdir) == {}


def test_rerun_level_writes_the_same_bytes_so_nothing_downstream_is_stale(project):
    """Checkpoints are byte-stable: forcing one level again leaves every dependant up to date.
    Last in the file: when it fails, the stale dependants it leaves cannot fail the other tests."""
    stage = dvc_stage_address(project.workdir, f"prune-demo_gan-{MODELS[0]}-s0-imp_global-01")
    output = dvc(project.workdir, "repro", "--force", "--single-item", stage).stdout
    assert stages_ran(output) == {stage}
    assert dvc_status(project.workdir) == {}
