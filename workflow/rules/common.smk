# Validation of params, the stage table, and the lookups every rule makes into it. Every job's
# inputs, command and params digest come from the table (deepfake_lth.stages), and every output
# pattern from the same functions with wildcard names: no path or dependency is written here.
import hashlib
import os
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, update_config

from deepfake_lth import job_kinds, reruns, stages
from deepfake_lth.config import read_params_file, typed_overrides, validate_params
from deepfake_lth.errors import ConfigError
from deepfake_lth.report.document import catalog

min_version("9.0")

# The params files in force (--configfile=FILE replaces params.yaml), as messages name them.
CONFIG_FILES = [
    os.path.relpath(f) if Path(f).resolve().is_relative_to(Path.cwd()) else str(f)
    for f in workflow.overwrite_configfiles or ["params.yaml"]
]
CONFIG_SOURCE = ", ".join(CONFIG_FILES)
# --config KEY=VALUE: top-level keys only (Snakemake's parser refuses a dotted one); a mapping merges into the key's.
COMMAND_LINE = typed_overrides(workflow.config_settings.config)
try:  # the CLI's validation and its one-line message, not Snakemake's dump of the whole schema
    written = {}
    for file in CONFIG_FILES:  # Snakemake's loader keeps the last of two equal keys; ours names them
        update_config(written, read_params_file(file))
    PARAMS = validate_params(written, CONFIG_SOURCE)
    if COMMAND_LINE:  # the files are valid, so what is not is the command line's
        update_config(written, COMMAND_LINE)
        PARAMS = validate_params(written, "--config " + " ".join(f"{k}={v}" for k, v in COMMAND_LINE.items()))
except ConfigError as e:
    raise WorkflowError(str(e)) from None
TABLE = stages.StageTable(PARAMS)
RUN_FILES = Path(".snakemake/deepfake-lth")  # files this workflow writes for its jobs and its report


def write_resolved_params(params):
    """Jobs read the exact config this workflow resolved (including --configfile/--config overrides),
    from a content-addressed file, so concurrent invocations with other configs cannot collide. Its keys
    keep params.yaml's order: the datasets' order is the order of a study's tables and files, and a job
    must write the same bytes whether Snakemake, DVC or the CLI runs it."""
    text = yaml.safe_dump(params, sort_keys=False)
    path = RUN_FILES / f"params-{hashlib.sha256(text.encode()).hexdigest()[:16]}.yaml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return str(path)


PARAMS_FILE = write_resolved_params(PARAMS)
# Finished jobs whose result inputs are gone (a job killed mid-run loses its outputs) run again: see reruns.py.
# Only this invocation's own process counts them, in memory; the Snakefile's onstart keeps them when the run
# executes (never a dry run or a run the lock refuses), before any job starts, so a cluster job's Snakemake reads them.
RERUNS = reruns.RerunCounts(RUN_FILES / reruns.COUNTS_FILE)
if workflow.is_main_process:
    RERUNS.count_lost_inputs(TABLE.jobs, PARAMS["paths"]["results"])


def inputs_of(rule):
    """The named input files of the rule's job for these wildcards (use with unpack)."""

    def inputs(wildcards):
        named = TABLE.job(rule, wildcards).inputs
        return {k: [str(p) for p in v] if isinstance(v, tuple) else str(v) for k, v in named.items()}

    return inputs


def command_of(rule):
    """The job's CLI command, reading the resolved params file. A function of `input` counts as derived
    for Snakemake, so the command is no params trigger: the file's name changes with every params edit,
    and the digest below re-runs exactly the jobs whose keys changed."""
    return lambda wildcards, input: TABLE.job(rule, wildcards).command(PARAMS_FILE)


def digest_of(rule):
    """A digest of exactly the params keys the job reads: Snakemake's params trigger re-runs it when one changes."""
    return lambda wildcards: RERUNS.digest(TABLE.job(rule, wildcards))


def outputs_of(rule):
    """The rule's output patterns (its job kind's), folders marked as directory()."""
    patterns = job_kinds.kind(rule).output_patterns(PARAMS)
    return {k: directory(v) if k in stages.FOLDER_OUTPUTS else v for k, v in patterns.items()}


def log_of(rule):
    return job_kinds.kind(rule).record_pattern(PARAMS, "log")


def benchmark_of(rule):
    """Snakemake's per-job cost record (wall time, max RSS, I/O): Snakemake-only, no DVC output."""
    return job_kinds.kind(rule).record_pattern(PARAMS, "benchmark")


REPORT_OUTPUTS = outputs_of("report")


def in_html_report(folder, caption, patterns):
    """report() on the files of a report folder matching `patterns` (wildcards name and ext): filed by stage,
    dataset and model and labelled by the package's catalog of figures and tables, captioned from workflow/report/."""
    return report(
        folder,
        caption=caption,
        patterns=patterns,
        category=lambda wildcards: catalog.placement(wildcards.name)[0],
        subcategory=lambda wildcards: catalog.placement(wildcards.name)[1],
        labels=lambda wildcards: catalog.labels(wildcards.name, wildcards.ext, REPORT_OUTPUTS["tables"]),
    )


def gpu_slots_of(rule):
    """The job's share of one GPU in slots: its model's registry entry (through its stage-table record)."""
    return lambda wildcards: TABLE.job(rule, wildcards).gpu_slots


def resources_of(kind):
    """Memory and wall time, and for a torch job the GPU: one whole `gpu` (or none when gpu_slots
    are given) and its model's share of the GPU's slots."""
    resources = {"mem_mb": kind.mem_mb, "runtime": kind.runtime}
    if kind.torch:
        resources.update(gpu=WHOLE_GPUS, gpu_slots=gpu_slots_of(kind.rule))
    return resources


# `--resources gpu=1 gpu_slots=N` makes N slots of the one GPU: a torch job then counts by its gpu_slots,
# not as a whole `gpu`, so up to N small-model jobs share the GPU and a large model's take it all.
# Without gpu_slots, each torch job is one whole `gpu`, as before. (SLURM: see its profile.)
WHOLE_GPUS = 0 if "gpu_slots" in workflow.global_resources else 1

JOB_SHELL = "export OMP_NUM_THREADS={threads}; {params.command} > {log:q} 2>&1"  # the command quotes its own paths


wildcard_constraints:
    dataset=r"[A-Za-z0-9_]+",
    tree=r"[A-Za-z0-9_]+",
    part=r"[A-Za-z0-9_]+",
    source=r"[A-Za-z0-9_]+",
    target=r"[A-Za-z0-9_]+",
    model=r"[a-z0-9_]+",
    seed=r"\d+",
    level=r"\d{2}",
