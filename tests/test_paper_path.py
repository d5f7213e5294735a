"""The path a researcher takes: every README shell command run verbatim in a fresh copy of the
repository (dry runs where the real run is long), the paper's params file used as the README says, and
the plan it prints."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import REPO
from deepfake_lth.config import generalization_datasets, read_params_file, transfer_pairs, validate_params
from deepfake_lth.plan import study_plan
from workflow_runner import BIN, job_counts

PAPER = REPO / "params.paper.yaml"
SHELL_BLOCK = re.compile(r"^```(?:bash|sh|shell)\n(.*?)^```", re.S | re.M)
# Commands that need what a fresh clone lacks, each run where it can run: the SLURM command on a real
# cluster (tests/test_cluster.py), the HTML report on the finished tiny study (tests/test_workflow.py).
SKIP_MARKS = ("needs a SLURM account", "after the study has run")
# Commands whose real run is long, and the flag that makes them a dry run.
DRY_RUN = {"make": "-n", "snakemake": "-n"}
# DVC's dry run stops at the first dependency an earlier stage would make (data/raw/demo_gan in a fresh
# clone), so `dvc repro` is checked as `dvc status` here (which reads dvc.yaml, dvc.lock and params the
# same way); tests/test_dvc.py runs `dvc repro` for real on the tiny study.
SUBSTITUTES = {"dvc repro": "dvc status"}
# Without the package's virtual environment on PATH: the README's own `source` line must provide it.
PLAIN_ENV = {**os.environ, "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                                   if p != str(BIN))}
PLAIN_ENV.pop("VIRTUAL_ENV", None)


def readme_commands() -> list[str]:
    """Every command of README.md's shell blocks, in order, continuation lines joined."""
    commands = []
    for block in SHELL_BLOCK.findall((REPO / "README.md").read_text()):
        commands += [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    return commands


def as_test_command(command: str) -> str | None:
    """The command as the test runs it: verbatim, a dry run where the real run is long; None to skip."""
    if any(mark in command for mark in SKIP_MARKS):
        return None
    body, _, comment = command.partition("  #")
    parts = []
    for part in body.split(";"):
        part = SUBSTITUTES.get(part.strip(), part.strip())
        flag = next((f for prefix, f in DRY_RUN.items() if part.startswith(prefix + " ") or part == prefix), None)
        dry = flag is None or any(f in part.split() for f in ("-n", "--dry", "--dry-run"))
        parts.append(part if dry else f"{part} {flag}")
    return "; ".join(parts)


def fresh_copy(tmp_path):
    """The working tree as a new clone holds it (tracked and unignored files), with the installed venv."""
    work = tmp_path / "clone"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, work / name, follow_symlinks=False)
    (work / ".venv").symlink_to(REPO / ".venv")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "clone"]):
        subprocess.run(cmd, cwd=work, check=True, env={**os.environ, **env}, capture_output=True)
    return work


def empty_roots(work, params_file) -> None:
    """An empty folder for each enabled raw-data root: what a dry run needs where data would be."""
    for entry in yaml.safe_load(params_file.read_text())["datasets"].values():
        if entry.get("enabled", True) and entry["adapter"] != "synthetic":
            (work / entry["root"]).mkdir(parents=True, exist_ok=True)


def bash(work, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], cwd=work, env=PLAIN_ENV, capture_output=True, text=True)


def keras_weights_file(path) -> None:
    """The MesoNet authors' Keras weights file the README's import command reads, built as they did."""
    from test_keras_import import keras_meso4, save  # keras is slow to import: only here

    save(keras_meso4(), path, "keras2_save_weights")


def test_every_readme_command_runs_verbatim_in_a_fresh_clone(tmp_path):
    work = fresh_copy(tmp_path)
    empty_roots(work, PAPER)
    commands = readme_commands()
    assert any("params.paper.yaml" in c for c in commands) and any(c.startswith("make test") for c in commands)
    if any("Meso4_DF.h5" in c for c in commands):
        keras_weights_file(work / "Meso4_DF.h5")
    script = ["set -e"]
    for command in commands:
        runnable = as_test_command(command)
        if runnable is not None:
            script += [f"echo '>>> {runnable}'", runnable]
    result = bash(work, "\n".join(script))
    assert result.returncode == 0, f"README command failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert (work / "meso4_df.pt").is_file()


def paper_command() -> str:
    return next(as_test_command(c) for c in readme_commands() if c.startswith("snakemake") and "params.paper.yaml" in c)


def enabled_in(raw: dict) -> list[str]:
    return [name for name, entry in raw["datasets"].items() if entry.get("enabled", True)]


def expected_paper_jobs(raw: dict) -> dict[str, int]:
    """The job counts that follow from params.paper.yaml's own lists (levels 4 and 7 are 0.6 and 0.8) and its
    enabled datasets (the cross-manipulation study's are not)."""
    enabled = enabled_in(raw)
    runs = len(enabled) * len(raw["models"]) * len(raw["seeds"])
    p, t = raw["pruning"], raw["transfer"]
    pairs = [pair for pair in t["pairs"] if set(pair) <= set(enabled)]
    imp = [m for m in p["methods"] if m.startswith("imp_")]
    return {
        "faces": len(enabled), "train": runs, "prune_imp": runs * len(imp) * p["levels"],
        "prune_oneshot": runs * p["levels"] * ("oneshot" in p["methods"]),
        "prune_control": runs * len(p["controls"]["methods"]) * len(p["controls"]["sparsities"]),
        "transfer": len(pairs) * len(raw["models"]) * len(raw["seeds"]) * len(t["methods"]) * len(t["sparsities"]),
        "gradcam": len(enabled) * len(raw["gradcam"]["models"]),
        "conditions": runs,  # robustness.models and the grids left to their defaults: every run, every perturbation
        "deploy": runs,  # deployment.models left to its default: every model
        "report": 1,
    }


def test_the_readme_paper_command_plans_the_paper_study_and_nothing_else(tmp_path):
    work = fresh_copy(tmp_path)
    empty_roots(work, PAPER)
    result = bash(work, f"source .venv/bin/activate; {paper_command()}")
    assert result.returncode == 0, result.stderr[-4000:]
    raw = yaml.safe_load(PAPER.read_text())
    assert set(enabled_in(raw)) == {"openforensic_kaggle", "ffpp_kaggle"}
    assert job_counts(result.stdout) == expected_paper_jobs(raw) == {
        "faces": 2, "train": 24, "prune_imp": 384, "prune_oneshot": 192, "prune_control": 96, "transfer": 48,
        "gradcam": 2, "conditions": 24, "deploy": 24, "report": 1,
    }
    assert "demo_" not in result.stdout  # no demo dataset, no demo_data job


def run_cli(work, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "deepfake-lth"), *args], cwd=work, capture_output=True, text=True)


def test_plan_shows_the_paper_study(tmp_path):
    work = fresh_copy(tmp_path)
    result = run_cli(work, "--params", "params.paper.yaml", "plan")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "797 jobs" in out and "seeds: 0, 1, 2 (3 runs per dataset and model)" in out
    assert re.search(r"openforensic_kaggle\s+yes\s+imagefolder\s+\S+\s+MISSING", out)
    assert re.search(r"ffpp_kaggle\s+yes\s+imagefolder", out) and "demo_gan" not in out
    assert re.search(r"resnet18\s+ResNet-18\s+11,177,025", out) and "models at 128 px" in out
    assert re.search(r"^\s+4\s+59\.0%\s+controls, transfer, Grad-CAM, robustness, generalization, deployment$", out, re.M)
    for rule, n in expected_paper_jobs(yaml.safe_load(PAPER.read_text())).items():
        assert re.search(rf"^\s+{rule}\s+{n}\b", out, re.M), rule
    assert "warning: dataset 'ffpp_kaggle': root data/raw/1000-videos-split/1000_videos not found" in out


def test_plan_shows_the_cost_of_the_papers_optional_cross_manipulation_study():
    raw = read_params_file(PAPER)
    views = [name for name, entry in raw["datasets"].items() if entry.get("view_of") == "faceforensics"]
    assert len(views) == 4 and all(raw["datasets"][name]["enabled"] is False for name in views)
    assert "face_part" not in study_plan(validate_params(raw), "params.paper.yaml")  # disabled by default
    for name in views:
        raw["datasets"][name]["enabled"] = True
    params = validate_params(raw)
    out = study_plan(params, "params.paper.yaml")
    assert re.search(r"^\s+face_part\s+5\s", out, re.M)  # the originals and four methods, once for four views
    assert re.search(r"^\s+faceforensics\s+original, Deepfakes, Face2Face, FaceSwap, NeuralTextures$", out, re.M)
    assert len(transfer_pairs(params)) == 13  # Table I's pair and each method's tickets on the three others
    assert generalization_datasets(params) == ["openforensic_kaggle", "ffpp_kaggle", *views]
    assert all(re.search(rf"^\s+{name}\s+trained and evaluated", out, re.M) for name in views)


def test_plan_of_the_demo_counts_training_work(tmp_path):
    work = fresh_copy(tmp_path)
    out = run_cli(work, "plan").stdout
    assert "327 jobs" in out and re.search(r"demo_gan\s+yes\s+synthetic.*generated by demo_data\s+192 \(generated\)", out)
    # 12 dense runs (2 datasets x 3 models x 2 seeds), each at most 192 training faces x 6 epochs
    assert re.search(r"^\s+train\s+12\s+13,824$", out, re.M)
    assert re.search(r"openforensic_kaggle\s+no\s+imagefolder", out) and "warning" not in out


def test_validate_warns_of_an_enabled_dataset_without_root(tmp_path):
    work = fresh_copy(tmp_path)
    result = run_cli(work, "--params", "params.paper.yaml", "validate")
    assert result.returncode == 0 and "params.paper.yaml: valid" in result.stdout
    assert "dataset 'openforensic_kaggle' is enabled but its root data/raw/deepfake-and-real-images/Dataset " \
           "does not exist" in result.stderr
    empty_roots(work, PAPER)
    assert "does not exist" not in run_cli(work, "--params", "params.paper.yaml", "validate").stderr


@pytest.mark.parametrize("command, expected", [
    ("snakemake --cores 8 results/figures  # x", "snakemake --cores 8 results/figures -n"),
    ("make demo", "make demo -n"),
    ("dvc repro", "dvc status"),
    ("dvc metrics show; dvc plots show", "dvc metrics show; dvc plots show"),
    ("snakemake -n results/x", "snakemake -n results/x"),
    ("SBATCH_ACCOUNT=a snakemake --profile p t  # needs a SLURM account", None),
    ("snakemake --report r.html t  # after the study has run: x", None),
    ("make report  # runs the next line", "make report -n"),
])
def test_readme_commands_become_dry_runs_where_long(command, expected):
    assert as_test_command(command) == expected
