"""Print, as JSON, every job Snakemake plans for a target: its rule, wildcards, input and output files
and its benchmark file.

Run as `python snakemake_jobs.py SNAKEFILE WORKDIR TARGET [NAME=VALUE ...]` (a subprocess, since
Snakemake's API keeps process-wide state; NAME=VALUE are global resources, as `--resources` gives
them). It builds the DAG as `snakemake --forceall --dag` does, through Snakemake's own
API, so the jobs are Snakemake's resolution of the rules, not the stage table's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings, StorageSettings


def planned_jobs(snakefile: Path, workdir: Path, target: str, resources: dict[str, int]) -> list[dict]:
    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow_api = api.workflow(
            resource_settings=ResourceSettings(cores=1, resources=resources), config_settings=ConfigSettings(),
            storage_settings=StorageSettings(), snakefile=snakefile, workdir=workdir,
        )
        dag_api = workflow_api.dag(dag_settings=DAGSettings(targets={target}, forceall=True))
        workflow = dag_api.workflow_api._workflow  # the DAG itself has no public accessor
        workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True)
        workflow._build_dag()
        return [
            {"rule": job.rule.name, "wildcards": dict(job.wildcards.items()),
             "input": sorted(str(f) for f in job.input), "output": sorted(str(f) for f in job.output),
             "resources": {k: v for k, v in job.resources.items() if k in ("gpu", "gpu_slots")},
             "benchmark": str(job.benchmark) if job.benchmark else None}
            for job in workflow.dag.jobs
        ]


if __name__ == "__main__":
    snakefile, workdir, target, *resources = sys.argv[1:]
    limits = {name: int(value) for name, value in (r.split("=") for r in resources)}
    print(json.dumps(planned_jobs(Path(snakefile), Path(workdir), target, limits)))
