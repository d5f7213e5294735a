"""Run the real Snakemake and DVC command lines on a study folder (used by the end-to-end tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
        )
    return result


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """The repository's Snakefile run in `workdir` (which holds params.yaml and receives data/ and results/)."""
    return [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--cores", "2", *args]


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(snakemake_command(workdir, *args), cwd=workdir, check=check)


def planned_jobs(workdir: Path, *targets: str) -> dict[str, int]:
    """Job counts per rule of a dry run ({} when nothing is to be done)."""
    return job_counts(snakemake(workdir, "-n", *targets).stdout)


def job_counts(output: str) -> dict[str, int]:
    """Job counts per rule from the job-stats table of Snakemake's output."""
    counts, in_table = {}, False
    for line in output.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
        elif in_table and len(parts) == 2 and parts[1].isdigit():
            if parts[0] == "total":
                break
            counts[parts[0]] = int(parts[1])
    return counts


def make_dvc_project(workdir: Path, params_file: Path) -> None:
    """A DVC project in `workdir`: the package sources (stage code dependencies), params.yaml, dvc.yaml
    and the repository's .dvcignore, as in a clone."""
    shutil.copytree(REPO / "src", workdir / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(params_file, workdir / "params.yaml")
    run([str(BIN / "dvc"), "init", "--no-scm", "-q"], cwd=workdir)
    shutil.copy(REPO / ".dvcignore", workdir / ".dvcignore")
    run([str(BIN / "deepfake-lth"), "dvc-yaml"], cwd=workdir)


def dvc_stage_names(workdir: Path) -> set[str]:
    """Every stage of the project as DVC's commands and outputs name it: its name in the root dvc.yaml,
    "<file>:<name>" in one under pipelines/."""
    files = [Path("dvc.yaml"), *sorted(p.relative_to(workdir) for p in (workdir / "pipelines").rglob("dvc.yaml"))]
    return {name if path == Path("dvc.yaml") else f"{path}:{name}"
            for path in files for name in yaml.safe_load((workdir / path).read_text())["stages"]}


def dvc_stage_address(workdir: Path, name: str) -> str:
    """How DVC names the stage `name` (dvc_stage_names)."""
    (address,) = [a for a in dvc_stage_names(workdir) if a.rpartition(":")[2] == name]
    return address


def dvc(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([str(BIN / "dvc"), *args], cwd=workdir, check=check)
