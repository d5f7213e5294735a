"""A user's mistakes around the workflow, on one small run of the tiny study (results under a folder with
a space in its name): every generated command quotes its paths, and dry runs, runs refused by Snakemake's
lock and dry runs of another study change no rerun count, so finished jobs are never planned again."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import TINY_PARAMS
from deepfake_lth import paths
from deepfake_lth.config import load_params
from deepfake_lth.reruns import COUNTS_FILE
from workflow_runner import ENV, planned_jobs, snakemake, snakemake_command

pytestmark = pytest.mark.slow

RESULTS = "my results"  # a space: every log redirect and command must quote it
COUNTS = Path(".snakemake/deepfake-lth") / COUNTS_FILE


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """MesoNet's IMP-Global levels 1 and 2 on demo_gan (and the jobs below them), under `my results/`."""
    workdir = tmp_path_factory.mktemp("spaced")
    params = yaml.safe_load(TINY_PARAMS.read_text())
    params["paths"] = {"results": RESULTS}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    snakemake(workdir, target(workdir))
    return workdir


def level(workdir: Path, number: int) -> Path:
    params = load_params(workdir / "params.yaml")
    return paths.level_dir(params, "demo_gan", "mesonet", 0, "imp_global", number)


def target(workdir: Path) -> str:
    return str(level(workdir, 2) / "metrics.json")


def figures(workdir: Path) -> str:
    """The whole study's target, under its results folder."""
    return str(paths.report_outputs(load_params(workdir / "params.yaml"))["figures"])


def test_a_results_folder_with_a_space_works_and_leaves_no_stray_file(study):
    assert sorted(p.name for p in study.iterdir() if not p.name.startswith(".")) == ["data", RESULTS, "params.yaml"]
    logs = sorted((study / RESULTS / "logs").rglob("*.log"))
    assert len(logs) == 5 and all(log.stat().st_size > 0 for log in logs)  # demo, faces, train, two levels
    assert (study / level(study, 2) / "metrics.json").is_file()
    assert planned_jobs(study, target(study)) == {}


def test_dry_runs_and_refused_runs_change_no_rerun_count(study):
    dense = paths.dense_dir(load_params(study / "params.yaml"), "demo_gan", "mesonet", 0)
    (study / dense / "final.pt").unlink()  # level 1 read it: a lost result, so levels 1 and 2 must run again
    for _ in range(3):
        assert planned_jobs(study, target(study)) == {"train": 1, "prune_imp": 2}
    assert not (study / COUNTS).exists()  # dry runs plan the reruns and keep nothing

    other = yaml.safe_load((study / "params.yaml").read_text())
    other["seeds"] = [0, 1]  # another study in the same folder: its jobs read files never made
    (study / "other.yaml").write_text(yaml.safe_dump(other))
    snakemake(study, "-n", "--configfile=other.yaml", figures(study))
    assert not (study / COUNTS).exists()

    running = subprocess.Popen(snakemake_command(study, "--cores", "1", figures(study)), cwd=study, env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (study / COUNTS).exists() and running.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)  # the counts are kept by onstart, which runs holding the lock
        kept = (study / COUNTS).read_text()
        assert list(json.loads(kept).values()) == [1]  # level 1, which read the lost file, counted once
        refused = snakemake(study, "--cores", "1", target(study), check=False)
        assert running.poll() is None, "the first run ended before the second was refused: no lock was tested"
        assert refused.returncode != 0 and "Directory cannot be locked" in refused.stdout + refused.stderr
        assert (study / COUNTS).read_text() == kept
    finally:
        running.terminate()
        running.wait(timeout=120)
    snakemake(study, target(study))
    assert planned_jobs(study, target(study)) == {}
    for _ in range(2):  # a dry run of the other study changes nothing for this one
        snakemake(study, "-n", "--configfile=other.yaml", figures(study))
        assert planned_jobs(study, target(study)) == {}
