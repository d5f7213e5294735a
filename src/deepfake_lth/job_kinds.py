"""The job-kind registry: one entry per kind of job, carrying everything the engines ask of it.

An entry names its Snakemake rule, its wildcards (in the order of its output and record paths), its
output files (a paths.py function), the params keys every job of the kind reads, the module its CLI
command runs (its code dependencies are that module's imports, see code_deps.py), its resources and
whether it runs torch (then it takes the GPU resources). The Snakemake rules are generated from these
entries (workflow/rules/jobs.smk) and dvc.yaml from the stage table built with them.

Torch-free on purpose: the Snakefile imports it while parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from deepfake_lth import methods, paths
from deepfake_lth.config import conditions_files, scored_runs, synthetic_datasets

# The params keys each kind of job depends on; an unrelated change (gradcam, report, device) re-runs nothing.
TRAINING_KEYS = ("training", "normalization", "faces.image_size", "torch_threads")
PRUNING_KEYS = TRAINING_KEYS + (
    "pruning.rate", "pruning.rate_of", "pruning.rewind", "pruning.prune_output_layer", "pruning.oneshot_scope",
)
GRADCAM_KEYS = ("gradcam", "normalization", "seeds", "faces.image_size", "pruning.rate", "pruning.rate_of",
                "pruning.levels", "torch_threads")
# The conditions stage reads the runs at the controls' levels, and scores them as their runs evaluated them.
CONDITIONS_KEYS = ("robustness", "generalization", "normalization", "faces.image_size", "torch_threads", "training.batch_size",
                   "training.precision", "training.channels_last", "training.compile", "pruning.methods",
                   "pruning.controls", "pruning.rate", "pruning.rate_of", "pruning.levels")
# The deploy stage measures the runs the conditions stage scores, in fp32 on the CPU.
DEPLOY_KEYS = ("deployment", "faces.image_size", "pruning.methods", "pruning.controls", "pruning.rate",
               "pruning.rate_of", "pruning.levels", "pruning.prune_output_layer")
REPORT_KEYS = ("report", "statistics", "datasets", "transfer", "pruning", "training", "seeds", "models", "robustness",
               "generalization", "deployment")
ALL_CORES = 1024  # a job's threads: Snakemake caps them at --cores, so the job runs with nothing beside it
LEVEL_WILDCARDS = ("dataset", "model", "seed", "method", "level")


@dataclass(frozen=True)
class JobKind:
    rule: str
    message: str  # Snakemake's message, with {wildcards.*}
    wildcards: tuple[str, ...]
    outputs: Callable[..., dict]  # (params, *wildcard values) -> {name: Path}
    entry: str  # the module its CLI subcommand runs
    params_keys: tuple[str, ...] = ()  # read by every job of the kind (a job adds its dataset's entry)
    torch: bool = False  # runs torch: takes the GPU resources and params torch_threads threads
    threads: int = 1  # CPU threads of a job that does not run torch
    mem_mb: int = 4000
    runtime: int = 720  # minutes
    # Wildcard constraints beyond the common ones: params -> {wildcard: regex}
    constraints: Callable[[dict], dict] = lambda params: {}
    snakemake_only: bool = False  # no DVC stage (its output records Snakemake's own benchmarks)

    def output_patterns(self, params: dict) -> dict[str, str]:
        """Its named outputs with wildcards in place of values, e.g. results/runs/{dataset}/..."""
        return {name: str(path) for name, path in self.outputs(params, *self._wildcard_names()).items()}

    def record_pattern(self, params: dict, record: str) -> str:
        """Its log or benchmark file (paths.job_record) with wildcards in place of values."""
        return str(paths.job_record(params, record, self.rule, self._wildcard_names()))

    def _wildcard_names(self) -> list[str]:
        return [f"{{{w}}}" for w in self.wildcards]


def _one_of(names) -> str:
    return "|".join(names) or "^$"  # no name: a pattern nothing matches


def _methods_of(rule: str) -> Callable[[dict], dict]:
    return lambda params: {"method": _one_of(methods.rule_methods(rule))}


def _generated_datasets(params: dict) -> dict:
    return {"dataset": _one_of(synthetic_datasets(params))}


_LEVEL = dict(wildcards=LEVEL_WILDCARDS, outputs=paths.level_outputs, entry="deepfake_lth.lottery.runner",
              params_keys=PRUNING_KEYS, torch=True)
KINDS: dict[str, JobKind] = {kind.rule: kind for kind in (  # upstream first
    JobKind("demo_data", "Generating the synthetic demo dataset {wildcards.dataset}", ("dataset",),
            paths.demo_outputs, "deepfake_lth.data.demo", mem_mb=1000, runtime=10, constraints=_generated_datasets),
    JobKind("face_part", "Extracting the {wildcards.part} faces of the tree {wildcards.tree}", ("tree", "part"),
            paths.face_part_outputs, "deepfake_lth.data.extract", ("faces",), threads=2, runtime=240),
    JobKind("faces", "Extracting faces of {wildcards.dataset}", ("dataset",), paths.faces_outputs,
            "deepfake_lth.data.extract", ("faces",), threads=2, runtime=240),
    JobKind("train", "Training dense {wildcards.model} on {wildcards.dataset} (seed {wildcards.seed})",
            ("dataset", "model", "seed"), paths.dense_outputs, "deepfake_lth.training.run", TRAINING_KEYS, torch=True),
    JobKind("prune_imp", "IMP {wildcards.method} level {wildcards.level}: {wildcards.model} on {wildcards.dataset} "
            "(seed {wildcards.seed})", constraints=_methods_of("prune_imp"), **_LEVEL),
    JobKind("prune_oneshot", "One-shot {wildcards.method} to level {wildcards.level}: {wildcards.model} on "
            "{wildcards.dataset} (seed {wildcards.seed})", constraints=_methods_of("prune_oneshot"), **_LEVEL),
    JobKind("prune_control", "Control {wildcards.method} at level {wildcards.level}: {wildcards.model} on "
            "{wildcards.dataset} (seed {wildcards.seed})", constraints=_methods_of("prune_control"), **_LEVEL),
    JobKind("transfer", "Transfer {wildcards.method} level {wildcards.level} of {wildcards.model}: "
            "{wildcards.source} -> {wildcards.target}", ("source", "target", "model", "seed", "method", "level"),
            paths.transfer_outputs, "deepfake_lth.transfer", PRUNING_KEYS, torch=True,
            constraints=lambda params: {"method": _one_of(methods.pruning_methods())}),
    JobKind("gradcam", "Grad-CAM of {wildcards.model} on {wildcards.dataset}", ("dataset", "model"),
            paths.gradcam_outputs, "deepfake_lth.explain.gradcam", GRADCAM_KEYS, torch=True, runtime=60),
    JobKind("conditions", "Scoring {wildcards.model} (seed {wildcards.seed}) of {wildcards.dataset} under "
            "perturbations and on other datasets", ("dataset", "model", "seed"),
            lambda params, *setting: paths.conditions_outputs(params, *setting, scored_runs(params),
                                                              conditions_files(params)),
            "deepfake_lth.conditions.scoring", CONDITIONS_KEYS, torch=True),
    JobKind("deploy", "Measuring what {wildcards.model} (seed {wildcards.seed}) of {wildcards.dataset} and its "
            "tickets cost when deployed", ("dataset", "model", "seed"), paths.deployment_outputs,
            "deepfake_lth.deployment.deploy", DEPLOY_KEYS, threads=ALL_CORES, runtime=120),
    JobKind("report", "Building the tables, figures and report", (), paths.report_outputs,
            "deepfake_lth.report.build", REPORT_KEYS, mem_mb=2000, runtime=30),
    JobKind("report_page", "Writing the HTML report's description page", (), paths.report_page_outputs,
            "deepfake_lth.report.document.description", ("report",), mem_mb=1000, runtime=10, snakemake_only=True),
)}
TORCH_RULES = tuple(rule for rule, kind in KINDS.items() if kind.torch)


def kind(rule: str) -> JobKind:
    return KINDS[rule]
