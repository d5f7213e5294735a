"""The stage table: every job of the declared study, built once from the resolved params.

One record per job: the rule that runs it, its CLI command, its named input and output files, the
params keys it depends on and the package code it runs. Everything else is a view of this table:
Snakemake's input and params functions look jobs up in it (rules' output patterns are the same
output functions called with wildcard names), `dvc.yaml` is rendered from it, each job's code
reads its input paths from its own record, and the report reads exactly the files it declares.

Torch-free on purpose: the Snakefile imports it while parsing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from deepfake_lth import paths
from deepfake_lth.config import (
    ConfigError, control_levels, dataset_params, enabled_datasets, gradcam_levels, lookup, pruning_levels, runs,
    synthetic_datasets, transfer_levels, transfer_pairs,
)
from deepfake_lth.lottery.methods import CONTROL_METHODS, IMP_METHODS
from deepfake_lth.models.registry import model_spec

PKG = "src/deepfake_lth"
# The package code each rule runs: in DVC an edit re-runs that kind of stage and nothing else.
CODE = {
    "demo_data": ("data/demo.py", "data/render.py"),
    "faces": ("data",),
    "train": ("training", "models", "metrics.py", "data/face_store.py"),
    "prune": ("training", "models", "metrics.py", "lottery"),
    "transfer": ("transfer.py", "training", "models", "lottery"),
    "gradcam": ("explain",),
    "report": ("report",),
}
# The params keys each kind of job depends on; an unrelated change (gradcam, report, device) re-runs nothing.
# A run also depends on `model_weights.<its model>` when params name a weights file for it (weights_keys).
TRAINING_KEYS = ("training", "normalization", "faces.image_size", "torch_threads")
PRUNING_KEYS = TRAINING_KEYS + (
    "pruning.rate", "pruning.rate_of", "pruning.rewind", "pruning.prune_output_layer", "pruning.oneshot_scope",
)
GRADCAM_KEYS = ("gradcam", "normalization", "seeds", "faces.image_size", "pruning.rate", "pruning.rate_of",
                "pruning.levels", "torch_threads")
REPORT_KEYS = ("report", "statistics", "datasets", "transfer", "pruning", "training", "seeds", "models")
GPU_RULES = ("train", "prune_imp", "prune_oneshot", "prune_control", "transfer", "gradcam")  # the torch jobs


@dataclass(frozen=True)
class Job:
    rule: str  # the Snakemake rule that runs it
    name: str  # its DVC stage name
    wildcards: dict  # the rule's wildcard values (strings), which identify the job within its rule
    args: tuple[str, ...]  # the CLI subcommand and its flags
    inputs: dict  # name -> Path, or a tuple of Paths
    outputs: dict  # name -> Path
    params_keys: tuple[str, ...]
    code: tuple[str, ...]
    digest: str = field(default="", compare=False)  # of the params_keys' values: Snakemake's params trigger

    def command(self, params_file: str | Path) -> str:
        return " ".join(["deepfake-lth", "--params", str(params_file), *self.args])

    def input_files(self) -> list[Path]:
        """Every input once, in order (with rewind `none` the trained weights are also the rewind point)."""
        files = []
        for value in self.inputs.values():
            files.extend(path for path in (value if isinstance(value, tuple) else [value]) if path not in files)
        return files

    def code_paths(self) -> list[str]:
        return [f"{PKG}/{module}" for module in self.code]

    @property
    def gpu_slots(self) -> int:
        """Its share of one GPU (Snakemake resource gpu_slots): its model's registry entry; 0 off the GPU."""
        return model_spec(self.wildcards["model"]).gpu_slots if self.rule in GPU_RULES else 0


def weights_keys(params: dict, model: str) -> list[str]:
    """`model_weights.<model>` when params name a starting weights file for the model: changing one
    model's file re-runs that model's jobs only (absent, DVC could not list it)."""
    return [f"model_weights.{model}"] if model in params.get("model_weights", {}) else []


def params_digest(params: dict, keys) -> str:
    """A short hash of the named (dotted) params keys: changing one re-runs exactly the jobs that read it."""
    picked = {key: lookup(params, key) for key in keys}
    return hashlib.sha256(json.dumps(picked, sort_keys=True).encode()).hexdigest()[:12]


def _job(params, rule, name, wildcards, args, inputs, outputs, keys, code=None) -> Job:
    return Job(rule, name, {k: str(v) for k, v in wildcards.items()}, tuple(str(a) for a in args), inputs, outputs,
               tuple(keys), CODE[code or rule], digest=params_digest(params, keys))


LEVEL_WILDCARDS = ("dataset", "model", "seed", "method", "level")
# Each rule's output function and the wildcards it is called with: Snakemake's output patterns.
OUTPUTS = {
    "demo_data": (paths.demo_outputs, ("dataset",)),
    "faces": (paths.faces_outputs, ("dataset",)),
    "train": (paths.dense_outputs, ("dataset", "model", "seed")),
    "prune_imp": (paths.level_outputs, LEVEL_WILDCARDS),
    "prune_oneshot": (paths.level_outputs, LEVEL_WILDCARDS),
    "prune_control": (paths.level_outputs, LEVEL_WILDCARDS),
    "transfer": (paths.transfer_outputs, ("source", "target", "model", "seed", "method", "level")),
    "gradcam": (paths.gradcam_outputs, ("dataset", "model")),
    "report": (paths.report_outputs, ()),
}
FOLDER_OUTPUTS = frozenset({"root", "store", "tables", "figures"})  # output names that are folders
METRICS_OUTPUTS = frozenset({"metrics"})  # output names that are DVC metrics


def output_patterns(params: dict, rule: str) -> dict[str, str]:
    """The rule's named outputs with wildcards in place of values, e.g. results/runs/{dataset}/..."""
    function, wildcards = OUTPUTS[rule]
    return {name: str(path) for name, path in function(params, *[f"{{{w}}}" for w in wildcards]).items()}


def record_pattern(params: dict, rule: str, kind: str) -> str:
    """The rule's log or benchmark file (paths.job_record) with wildcards in place of values."""
    return str(paths.job_record(params, kind, rule, [f"{{{w}}}" for w in OUTPUTS[rule][1]]))


def job_record(params: dict, job: "Job", kind: str) -> Path:
    """The log or benchmark file Snakemake writes for `job`."""
    return paths.job_record(params, kind, job.rule, [job.wildcards[w] for w in OUTPUTS[job.rule][1]])


# --------------------------------------------------------------------------------------------- jobs
def demo_job(params, dataset) -> Job:
    return _job(params, "demo_data", f"demo-{dataset}", {"dataset": dataset}, ["demo", "--dataset", dataset], {},
                paths.demo_outputs(params, dataset), [f"datasets.{dataset}"])


def check_demo_roots(params) -> None:
    """The engines run the demo job into paths.raw/<name>: a synthetic dataset's root must be there."""
    for dataset in synthetic_datasets(params):
        root = paths.demo_outputs(params, dataset)["root"]
        if Path(params["datasets"][dataset]["root"]) != root:
            raise ConfigError(f"params: key 'datasets.{dataset}.root': a synthetic dataset is generated into "
                              f"'{root}' (paths.raw/<name>), not '{params['datasets'][dataset]['root']}'")


def faces_job(params, dataset) -> Job:
    return _job(params, "faces", f"faces-{dataset}", {"dataset": dataset}, ["faces", "--dataset", dataset],
                {"raw": Path(params["datasets"][dataset]["root"])}, paths.faces_outputs(params, dataset),
                [f"datasets.{dataset}", "faces"])


def _run(dataset, model, seed) -> dict:
    return {"dataset": dataset, "model": model, "seed": seed}


def _check_run(params, *datasets) -> None:
    for dataset in datasets:
        dataset_params(params, dataset)  # a ConfigError naming an unknown dataset


def train_job(params, dataset, model, seed) -> Job:
    _check_run(params, dataset)
    return _job(params, "train", f"train-{dataset}-{model}-s{seed}", _run(dataset, model, seed),
                ["train", "--dataset", dataset, "--model", model, "--seed", seed],
                {"faces": paths.face_store_dir(params, dataset)}, paths.dense_outputs(params, dataset, model, seed),
                [f"datasets.{dataset}", *TRAINING_KEYS, *weights_keys(params, model)])


def rewind_input(params, dataset, model, seed, trained: Path) -> Path:
    """The checkpoint a ticket's surviving weights restart from (pruning.rewind): the dense run's θ0
    (init) or θk (iteration), or with `none` the trained weights its mask was made from."""
    dense = paths.dense_outputs(params, dataset, model, seed)
    return {"init": dense["init"], "iteration": dense["rewind"], "none": trained}[params["pruning"]["rewind"]]


def level_job(params, dataset, model, seed, method, level) -> Job:
    """IMP level L reads level L-1 of the same method (level 1: the dense run); one-shot the dense run;
    a control the ticket's mask at level L (and random_mask the ticket's initialisation)."""
    _check_run(params, dataset)
    faces = paths.face_store_dir(params, dataset)
    dense = paths.dense_outputs(params, dataset, model, seed)
    keys = [f"datasets.{dataset}", *PRUNING_KEYS, *weights_keys(params, model)]
    if method in CONTROL_METHODS:
        rule = "prune_control"
        ticket = params["pruning"]["controls"]["ticket"]
        inputs = {"faces": faces, "ticket": paths.level_outputs(params, dataset, model, seed, ticket, level)["mask"]}
        if method == "random_mask":  # the ticket's own initialisation (θ0, or θk when rewinding to k)
            inputs["init"] = dense["rewind"] if params["pruning"]["rewind"] == "iteration" else dense["init"]
        keys.append("pruning.controls.ticket")
    else:
        rule = "prune_imp" if method in IMP_METHODS else "prune_oneshot"
        if method in IMP_METHODS and level > 1:
            previous = paths.level_outputs(params, dataset, model, seed, method, level - 1)
            inputs = {"faces": faces, "weights": previous["final"], "mask": previous["mask"]}
        else:
            inputs = {"faces": faces, "weights": dense["final"]}
        inputs["rewind"] = rewind_input(params, dataset, model, seed, inputs["weights"])
    wildcards = {**_run(dataset, model, seed), "method": method, "level": f"{level:02d}"}
    return _job(params, rule, f"prune-{dataset}-{model}-s{seed}-{method}-{level:02d}", wildcards,
                ["prune", "--dataset", dataset, "--model", model, "--seed", seed, "--method", method, "--level", level],
                inputs, paths.level_outputs(params, dataset, model, seed, method, level), keys, code="prune")


def transfer_job(params, source, target, model, seed, method, level) -> Job:
    """The source's ticket (its mask and rewind point) retrained on the target's faces."""
    _check_run(params, source, target)
    ticket = paths.level_outputs(params, source, model, seed, method, level)
    inputs = {"faces": paths.face_store_dir(params, target), "mask": ticket["mask"],
              "rewind": rewind_input(params, source, model, seed, ticket["final"])}
    wildcards = {"source": source, "target": target, "model": model, "seed": seed, "method": method,
                 "level": f"{level:02d}"}
    return _job(params, "transfer", f"transfer-{source}-{target}-{model}-s{seed}-{method}-{level:02d}", wildcards,
                ["transfer", "--source", source, "--target", target, "--model", model, "--seed", seed,
                 "--method", method, "--level", level],
                inputs, paths.transfer_outputs(params, source, target, model, seed, method, level),
                [f"datasets.{source}", f"datasets.{target}", *PRUNING_KEYS, *weights_keys(params, model)])


def gradcam_job(params, dataset, model) -> Job:
    """The first seed's dense run and its gradcam.method levels nearest gradcam.sparsities, in that order."""
    _check_run(params, dataset)
    seed, method = params["seeds"][0], params["gradcam"]["method"]
    explained = [paths.dense_outputs(params, dataset, model, seed)]
    explained += [paths.level_outputs(params, dataset, model, seed, method, level) for level in gradcam_levels(params)]
    inputs = {"faces": paths.face_store_dir(params, dataset), "checkpoints": tuple(r["final"] for r in explained),
              "metrics": tuple(r["metrics"] for r in explained)}
    return _job(params, "gradcam", f"gradcam-{dataset}-{model}", {"dataset": dataset, "model": model},
                ["gradcam", "--dataset", dataset, "--model", model], inputs, paths.gradcam_outputs(params, dataset, model),
                GRADCAM_KEYS)


def report_job(params, jobs: list[Job]) -> Job:
    """Reads every metrics file with the predictions beside it (same order) and every Grad-CAM record
    (with its grid image) of `jobs`."""
    runs = [job.outputs for job in jobs if "metrics" in job.outputs]
    gradcam = [job.outputs for job in jobs if job.rule == "gradcam"]
    inputs = {"metrics": tuple(o["metrics"] for o in runs), "predictions": tuple(o["predictions"] for o in runs),
              "gradcam": tuple(o["record"] for o in gradcam), "gradcam_grids": tuple(o["png"] for o in gradcam)}
    return _job(params, "report", "report", {}, ["report"], inputs, paths.report_outputs(params), REPORT_KEYS)


# ------------------------------------------------------------------------------------ the declared study
def study(params: dict) -> list[Job]:
    """Every job of the study params declares, upstream first; the report last."""
    jobs = []
    synthetic = synthetic_datasets(params)
    for dataset in enabled_datasets(params):
        jobs += [demo_job(params, dataset)] if dataset in synthetic else []
        jobs.append(faces_job(params, dataset))
    for run in runs(params):
        jobs.append(train_job(params, *run))
        jobs += [level_job(params, *run, m, L) for m in params["pruning"]["methods"] for L in pruning_levels(params)]
        ticket_controls = params["pruning"]["controls"]["methods"]
        jobs += [level_job(params, *run, m, L) for m in ticket_controls for L in control_levels(params)]
    for source, target in transfer_pairs(params):
        for model in params["models"]:
            for seed in params["seeds"]:
                jobs += [transfer_job(params, source, target, model, seed, m, L)
                         for m in params["transfer"]["methods"] for L in transfer_levels(params)]
    jobs += [gradcam_job(params, d, m) for d in enabled_datasets(params) for m in params["gradcam"]["models"]
             if m in params["models"]]
    return jobs + [report_job(params, jobs)]


class StageTable:
    """The declared study's jobs, indexed by rule and wildcards: what Snakemake's lookups ask."""

    def __init__(self, params: dict):
        check_demo_roots(params)
        self.jobs = study(params)
        self._by_rule = {(job.rule, tuple(sorted(job.wildcards.items()))): job for job in self.jobs}

    def job(self, rule: str, wildcards) -> Job:
        key = (rule, tuple(sorted((k, str(v)) for k, v in dict(wildcards).items())))
        if key not in self._by_rule:
            described = ", ".join(f"{k}={v}" for k, v in key[1])
            raise ConfigError(f"{rule} ({described}) is not a job of the study params.yaml declares "
                              "(check its datasets, models, seeds, methods and levels)")
        return self._by_rule[key]

