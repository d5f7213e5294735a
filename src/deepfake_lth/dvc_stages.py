"""dvc.yaml rendered from the stage table: the same jobs, files and params keys as the Snakemake workflow.

DVC's templating cannot express "level L depends on level L-1" or "only enabled datasets", so the
stages are rendered by the package and committed; a test checks that the committed files are current.
Regenerate with `deepfake-lth dvc-yaml`.

The stages are split over several dvc.yaml files (paths.dvc_file): the root one holds the data, faces and
report stages and the plots, and each setting's stages are in a dvc.yaml of their own under pipelines/,
with its own dvc.lock. DVC loads and rewrites the whole lock file of a stage after running it, so one
lock for the study made its bookkeeping grow with the study (16 s a stage on the demo). Every stage runs
in the project's root (`wdir`), so its command and paths read as in the root file.
"""

from __future__ import annotations

import os
from pathlib import Path

from deepfake_lth import paths, stages
from deepfake_lth.config import check_demo_roots, lookup
from deepfake_lth.stages import Job


def dvc_stage(job: Job, params_file: str, written: dict | None) -> dict:
    """One job as a DVC stage: its command, its inputs then its code as deps, params, outs and metrics.

    `written` is the params file as written (before defaults are filled in): DVC refuses a stage
    whose params key is absent from the file, so keys left to their schema default are not listed
    (they cannot change without an edit that adds them, after which dvc.yaml is rendered again).
    """
    stage = {"cmd": job.command(params_file), "deps": [str(p) for p in job.input_files()] + job.code_paths()}
    keys = [key for key in job.params_keys if written is None or _has_key(written, key)]
    if keys:
        stage["params"] = keys
    stage["outs"] = [str(path) for name, path in job.outputs.items() if name not in stages.METRICS_OUTPUTS]
    metrics = [str(path) for name, path in job.outputs.items() if name in stages.METRICS_OUTPUTS]
    if metrics:
        stage["metrics"] = metrics
    return stage


def render_dvc_yaml(params: dict, params_file: str = "params.yaml", written: dict | None = None) -> dict:
    """Every stage of the study in one document (stages, plots), as if in one dvc.yaml: what the split
    files hold together (render_dvc_files)."""
    check_demo_roots(params)
    return {"stages": {job.name: dvc_stage(job, params_file, written) for job in stages.study(params)},
            "plots": _plots(params)}


def render_dvc_files(params: dict, params_file: str = "params.yaml", written: dict | None = None) -> dict[Path, dict]:
    """dvc.yaml path (relative to the project's root) -> its document: the root file first, with the plots,
    then one file per setting (paths.dvc_file), each of their stages run in the root (`wdir`)."""
    check_demo_roots(params)
    files: dict[Path, dict] = {Path(paths.DVC_FILE): {"stages": {}, "plots": _plots(params)}}
    for job in stages.study(params):
        path = paths.dvc_file(job.wildcards)
        stage = dvc_stage(job, params_file, written)
        if path.parent != Path("."):
            stage = {"wdir": os.path.relpath(".", path.parent), **stage}
        files.setdefault(path, {"stages": {}})["stages"][job.name] = stage
    return files


HEADER = (
    "# Generated from params.yaml by `deepfake-lth dvc-yaml`: do not edit by hand, regenerate.\n"
    "# The same jobs, files and params keys as the Snakemake workflow: both are views of the stage table\n"
    "# (src/deepfake_lth/stages.py).\n"
)


def write_dvc_files(files: dict[Path, dict], root_file: Path) -> list[Path]:
    """Write each of `files` (render_dvc_files) relative to `root_file`'s folder, and remove every dvc.yaml
    under its pipelines/ that the study no longer declares (with its dvc.lock); return the removed files."""
    import yaml

    from deepfake_lth.io import atomic_path

    project = root_file.parent
    targets = {project / path if path != Path(paths.DVC_FILE) else root_file: document for path, document in files.items()}
    stale = [path for path in sorted((project / paths.PIPELINES).rglob(paths.DVC_FILE)) if path not in targets]
    for path, document in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(HEADER + yaml.safe_dump(document, sort_keys=False, width=120))
    for path in stale:
        path.unlink()
        path.with_name("dvc.lock").unlink(missing_ok=True)
        for folder in path.parents:
            if folder == project or any(folder.iterdir()):
                break
            folder.rmdir()
    return stale


def _plots(params: dict) -> list[dict]:
    tables = paths.report_outputs(params)["tables"]
    return [{f"{tables}/accuracy_vs_sparsity.csv": {"x": "sparsity", "y": "test_accuracy", "template": "linear"}}]


def _has_key(document: dict, dotted: str) -> bool:
    try:
        lookup(document, dotted)
    except (KeyError, TypeError):
        return False
    return True
