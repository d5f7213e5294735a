"""One job graph: Snakemake's planned jobs and dvc.yaml's stages are the same jobs with the same files,
for the tiny config under every rewinding point and for the paper's configuration; the workflow lints
clean; and each job's record declares exactly the checkpoints its code reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, TINY_PARAMS
from deepfake_lth import paths, stages
from deepfake_lth.config import control_levels, load_params
from deepfake_lth.dvc_stages import render_dvc_yaml
from deepfake_lth.models.registry import model_spec
from workflow_runner import ENV, dvc, make_dvc_project, planned_jobs, snakemake

PLANNER = REPO / "tests" / "snakemake_jobs.py"
PAPER_PARAMS = REPO / "params.paper.yaml"


def study_folder(tmp_path, params_file, **pruning) -> dict:
    """A work folder holding params.yaml (with `pruning` changes) and an empty folder per raw root."""
    raw = yaml.safe_load(params_file.read_text())
    raw.setdefault("pruning", {}).update(pruning)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    params = load_params(tmp_path / "params.yaml")
    for name, dataset in params["datasets"].items():
        if dataset.get("enabled", True) and dataset["adapter"] != "synthetic":
            (tmp_path / dataset["root"]).mkdir(parents=True)
    return params


def snakemake_jobs(workdir, *resources: str) -> list[dict]:
    """Snakemake's own DAG for results/figures under global `resources` (NAME=VALUE): every job's rule,
    inputs, outputs, gpu resources and benchmark file, as snakemake_jobs.py prints them."""
    result = subprocess.run([sys.executable, str(PLANNER), str(REPO / "Snakefile"), str(workdir), "results/figures",
                             *resources], cwd=workdir, env=ENV, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def snakemake_plan(workdir, jobs: list[dict] | None = None) -> dict[frozenset, tuple[str, frozenset]]:
    """Snakemake's own DAG for results/figures (or `jobs` of it): outputs -> (rule, inputs) of every job."""
    return {frozenset(job["output"]): (job["rule"], frozenset(job["input"]))
            for job in (jobs if jobs is not None else snakemake_jobs(workdir))}


def assert_gpu_resources(jobs: list[dict], whole_gpu: int, slots_given: int | None) -> None:
    """Each torch job (train, prune_*, transfer, gradcam) takes its model's gpu_slots (capped at the slots
    given) and `whole_gpu`; every other job no slot."""
    for job in jobs:
        resources = job["resources"]
        if job["rule"] not in stages.GPU_RULES:
            assert resources.get("gpu_slots", 0) == 0, job
            continue
        slots = model_spec(job["wildcards"]["model"]).gpu_slots
        assert resources["gpu_slots"] == min(slots, slots_given or slots), job
        assert resources.get("gpu", 0) == whole_gpu, job


def dvc_plan(params) -> dict[frozenset, tuple[str, frozenset]]:
    """dvc.yaml's stages: outs and metrics -> (stage name, deps that are not package code)."""
    document = render_dvc_yaml(params)
    return {
        frozenset(stage["outs"] + stage.get("metrics", [])):
            (name, frozenset(d for d in stage["deps"] if not d.startswith(stages.PKG)))
        for name, stage in document["stages"].items()
    }


def assert_same_jobs(snake: dict, dvc: dict) -> None:
    assert set(snake) == set(dvc), "jobs that only one engine plans"
    for outputs, (rule, inputs) in snake.items():
        stage, deps = dvc[outputs]
        assert inputs == deps, f"{rule} / {stage}: Snakemake reads {sorted(inputs ^ deps)} differently"


@pytest.mark.parametrize("rewind", ["init", "iteration", "none"])
def test_snakemake_and_dvc_plan_the_same_jobs_and_edges(tmp_path, rewind):
    params = study_folder(tmp_path, TINY_PARAMS, rewind=rewind)
    jobs = snakemake_jobs(tmp_path)
    snake = snakemake_plan(tmp_path, jobs)
    assert len(snake) == len(stages.study(params)) == 71
    assert_same_jobs(snake, dvc_plan(params))
    assert_gpu_resources(jobs, whole_gpu=1, slots_given=None)  # without gpu_slots: one whole gpu each
    # every rule declares benchmark: each job's file where paths.job_record puts it (no DVC output)
    assert {frozenset(job["output"]): job["benchmark"] for job in jobs} == {
        frozenset(map(str, job.outputs.values())): str(stages.job_record(params, job, "benchmark"))
        for job in stages.study(params)}


def test_the_paper_configuration_plans_the_same_jobs_in_both_engines(tmp_path):
    params = study_folder(tmp_path, PAPER_PARAMS)
    snake = snakemake_plan(tmp_path)
    rules = sorted(rule for rule, _ in snake.values())
    # 2 datasets x 4 models (the paper's v2: with XceptionNet) x 3 seeds: dense, 3 methods x 8 levels,
    # 2 controls x 2 levels; 4 x 3 x 2 x 2 transfer cells; Grad-CAM of ResNet-18 on both datasets; robustness
    # of every run (the registry's default grids); the report.
    assert {rule: rules.count(rule) for rule in set(rules)} == {
        "faces": 2, "train": 24, "prune_imp": 384, "prune_oneshot": 192, "prune_control": 96, "transfer": 48,
        "gradcam": 2, "conditions": 24, "deploy": 24, "report": 1,
    }
    assert_same_jobs(snake, dvc_plan(params))


def test_torch_jobs_share_the_gpu_by_their_models_slots_when_slots_are_given(tmp_path):
    """`--resources gpu=1 gpu_slots=N`: each torch job takes its model's slots (capped at N), no whole gpu."""
    study_folder(tmp_path, TINY_PARAMS)
    raw = yaml.safe_load((tmp_path / "params.yaml").read_text())
    raw["models"], raw["gradcam"]["models"] = ["mesonet", "resnet18"], ["resnet18"]  # a small model, a large one
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    assert {name: model_spec(name).gpu_slots for name in raw["models"]} == {"mesonet": 1, "resnet18": 4}
    jobs = snakemake_jobs(tmp_path, "gpu=1", "gpu_slots=2")
    assert {job["rule"] for job in jobs} >= set(stages.GPU_RULES)
    assert_gpu_resources(jobs, whole_gpu=0, slots_given=2)


def test_random_mask_reads_the_tickets_rewind_point_and_reinit_no_dense_checkpoint():
    """The ticket starts from θk under rewind: iteration, so the control that keeps its start does too."""
    for rewind, start in (("init", "init.pt"), ("iteration", "rewind.pt"), ("none", "init.pt")):
        params = load_params(TINY_PARAMS)
        params["pruning"]["rewind"] = rewind
        random_mask = stages.level_job(params, "demo_gan", "cnn5", 0, "random_mask", 2)
        assert random_mask.inputs["init"].name == start, rewind
        reinit = stages.level_job(params, "demo_gan", "cnn5", 0, "reinit", 2)
        assert set(reinit.inputs) == {"faces", "ticket"}
        imp = stages.level_job(params, "demo_gan", "cnn5", 0, "imp_global", 2)
        expected = {"init": "dense/init.pt", "iteration": "dense/rewind.pt", "none": "imp_global/level_01/final.pt"}
        assert imp.inputs["rewind"].as_posix().endswith(expected[rewind]), rewind


def test_an_undeclared_job_is_a_clear_error():
    table = stages.StageTable(load_params(TINY_PARAMS))
    with pytest.raises(ValueError, match=r"prune_imp \(dataset=demo_gan, level=03.*not a job of the study"):
        table.job("prune_imp", {"dataset": "demo_gan", "model": "cnn5", "seed": "0", "method": "imp_global",
                                "level": "03"})


def test_snakemake_lint_reports_nothing_but_the_environment_advice(tmp_path):
    """The conda/container advice stays: the Snakefile's header explains why (the package is installed
    into the environment Snakemake runs in)."""
    study_folder(tmp_path, TINY_PARAMS)
    result = snakemake(tmp_path, "--lint", check=False)
    lints = [line.strip() for line in (result.stdout + result.stderr).splitlines() if line.strip().startswith("* ")]
    assert lints, "snakemake --lint printed no lint at all (is the parser still matching its output?)"
    assert set(lints) == {"* Specify a conda environment or container for each rule.:"}
    assert "conda" in (REPO / "Snakefile").read_text().split("\nconfigfile:")[0]


@pytest.mark.slow
def test_a_changed_rewind_point_reruns_random_mask_in_both_engines(tmp_path):
    """Under rewind: iteration the ticket and its random_mask control start from θk (rewind.pt): a new
    rewind.pt makes both engines re-run random_mask (not reinit, which reads no dense checkpoint)."""
    raw = yaml.safe_load(TINY_PARAMS.read_text())
    raw["datasets"]["demo_swap"]["enabled"] = False
    raw.update(models=["mesonet"], gradcam={"models": []})
    raw["training"]["rewind_iteration"] = 1
    raw["pruning"].update(methods=["imp_global"], rewind="iteration")
    params_file = tmp_path / "mini.yaml"
    params_file.write_text(yaml.safe_dump(raw))
    (tmp_path / "params.yaml").write_text(params_file.read_text())
    snakemake(tmp_path, "results/figures")
    make_dvc_project(tmp_path, params_file)
    dvc(tmp_path, "commit", "--force", "--quiet")

    dense = tmp_path / "results/runs/demo_gan/mesonet/seed_0/dense"
    (dense / "rewind.pt").write_bytes((dense / "init.pt").read_bytes())  # another θk, newer than its readers
    status = json.loads(dvc(tmp_path, "status", "--json").stdout)
    readers = {name.rpartition(":")[2] for name, entries in status.items()  # "<dvc.yaml>:<stage>" under pipelines/
               if any("results/runs/demo_gan/mesonet/seed_0/dense/rewind.pt" in entry.get("changed deps", {})
                      for entry in entries)}
    assert readers == {f"prune-demo_gan-mesonet-s0-{m}" for m in ("imp_global-01", "imp_global-02", "random_mask-02")}

    # The ticket's levels newer than the new rewind.pt: Snakemake's dry run leaves random_mask (for its
    # own input rewind.pt), the conditions and deploy jobs that read it and the report; reinit reads no dense
    # checkpoint, so it stays up to date.
    # (a job's benchmark file counts among its outputs for Snakemake's mtime check)
    for level in ("level_01", "level_02"):
        for path in (tmp_path / f"results/runs/demo_gan/mesonet/seed_0/imp_global/{level}").iterdir():
            os.utime(path)
        os.utime(tmp_path / f"results/benchmarks/prune_imp/demo_gan/mesonet/0/imp_global/{level[-2:]}.tsv")
    assert planned_jobs(tmp_path, "results/figures") == {"prune_control": 1, "conditions": 1, "deploy": 1, "report": 1}
    dry_run = snakemake(tmp_path, "-n", "results/figures").stdout
    assert "Control random_mask" in dry_run and "Control reinit" not in dry_run
    assert "Updated input files: results/runs/demo_gan/mesonet/seed_0/dense/rewind.pt" in dry_run


def test_pruning_at_initialisation_runs_at_the_control_levels_in_both_engines(tmp_path):
    """SNIP, GraSP and SynFlow: one prune_oneshot job per run and control level, the same in both engines,
    reading only the faces (θ0 comes from the seed), their masks read by the report."""
    params = study_folder(tmp_path, TINY_PARAMS, methods=["imp_global", "imp_local", "oneshot", "snip", "grasp", "synflow"])
    jobs = snakemake_jobs(tmp_path)
    assert_same_jobs(snakemake_plan(tmp_path, jobs), dvc_plan(params))
    at_init = [job for job in jobs if job["wildcards"].get("method") in ("snip", "grasp", "synflow")]
    runs = 2 * len(params["models"]) * len(params["seeds"])
    assert len(at_init) == 3 * runs * len(control_levels(params)) and {job["rule"] for job in at_init} == {"prune_oneshot"}
    assert {int(job["wildcards"]["level"]) for job in at_init} == set(control_levels(params))
    assert all(job["input"] == [str(paths.face_store_dir(params, job["wildcards"]["dataset"]))] for job in at_init)
    report = next(job for job in jobs if job["rule"] == "report")
    masks = {str(paths.level_outputs(params, job["wildcards"]["dataset"], job["wildcards"]["model"],
                                     job["wildcards"]["seed"], job["wildcards"]["method"],
                                     int(job["wildcards"]["level"]))["mask"]) for job in at_init}
    assert masks <= set(report["input"])
