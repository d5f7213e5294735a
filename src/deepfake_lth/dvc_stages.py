"""dvc.yaml rendered from the stage table: the same jobs, files and params keys as the Snakemake workflow.

DVC's templating cannot express "level L depends on level L-1" or "only enabled datasets", so the
stages are rendered by the package and committed; a test checks that the committed dvc.yaml is
current. Regenerate with `deepfake-lth dvc-yaml`.
"""

from __future__ import annotations

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
    """The dvc.yaml document (stages, plots) for these params."""
    check_demo_roots(params)
    table = stages.study(params)
    tables = paths.report_outputs(params)["tables"]
    return {
        "stages": {job.name: dvc_stage(job, params_file, written) for job in table},
        "plots": [{f"{tables}/accuracy_vs_sparsity.csv": {"x": "sparsity", "y": "test_accuracy", "template": "linear"}}],
    }


def _has_key(document: dict, dotted: str) -> bool:
    try:
        lookup(document, dotted)
    except (KeyError, TypeError):
        return False
    return True
