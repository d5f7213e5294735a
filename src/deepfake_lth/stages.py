"""The stage table: every job of the declared study, built once from the resolved params.

One record per job: its kind (job_kinds.py: rule, outputs, code, resources), its CLI command, its
named input and output files and the params keys it reads. Everything else is a view of this table:
Snakemake's input and params functions look jobs up in it, `dvc.yaml` is rendered from it, each job's
code reads its input paths from its own record, and the report reads exactly the files it declares.

Torch-free on purpose: the Snakefile imports it while parsing.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from deepfake_lth import code_deps, methods, paths
from deepfake_lth.adapters import adapter_spec
from deepfake_lth.conditions.perturbations import configured
from deepfake_lth.config import (
    VIEW_KEYS, check_demo_roots, conditions_models, control_levels, dataset_params, deployment_models, enabled_datasets,
    generalization_datasets, generalization_models, gradcam_levels, gradcam_models, lookup, pruning_levels,
    robustness_models, runs, scored_runs, study_datasets, synthetic_datasets, transfer_levels, transfer_pairs,
    tree_of, tree_parts,
)
from deepfake_lth.data.manipulations import dataset_parts, is_tree
from deepfake_lth.errors import ConfigError
from deepfake_lth.job_kinds import KINDS, TORCH_RULES, JobKind
from deepfake_lth.models.registry import model_spec
from deepfake_lth.report.anatomy.mask_pairs import overlap_masks

FOLDER_OUTPUTS = frozenset({"root", "store", "tables", "figures"})  # output names that are folders
METRICS_OUTPUTS = frozenset({"metrics"})  # output names that are DVC metrics
GPU_RULES = TORCH_RULES
PKG = code_deps.PACKAGE_DIR  # where the code deps of every stage lie


@dataclass(frozen=True)
class Job:
    rule: str  # the Snakemake rule that runs it (its kind in job_kinds.KINDS)
    name: str  # its DVC stage name
    wildcards: dict  # the rule's wildcard values (strings), which identify the job within its rule
    args: tuple[str, ...]  # the CLI subcommand and its flags
    inputs: dict  # name -> Path, or a tuple of Paths
    outputs: dict  # name -> Path
    params_keys: tuple[str, ...]
    resolved: tuple[str, ...] = ()  # modules the registries import for it (its model, adapter, method)
    digest: str = field(default="", compare=False)  # of the params_keys' values: Snakemake's params trigger

    @property
    def kind(self) -> JobKind:
        return KINDS[self.rule]

    def command(self, params_file: str | Path) -> str:
        return shlex.join(["deepfake-lth", "--params", str(params_file), *self.args])

    def input_files(self) -> list[Path]:
        """Every input once, in order (with rewind `none` the trained weights are also the rewind point)."""
        files = []
        for value in self.inputs.values():
            files.extend(path for path in (value if isinstance(value, tuple) else [value]) if path not in files)
        return files

    def code_paths(self) -> list[str]:
        """The source files it runs: its kind's entry module and what it imports (code_deps.py)."""
        return list(code_deps.job_code(self.kind.entry, self.resolved))

    @property
    def gpu_slots(self) -> int:
        """Its share of one GPU (Snakemake resource gpu_slots): its model's registry entry; 0 off the GPU."""
        return model_spec(self.wildcards["model"]).gpu_slots if self.kind.torch else 0


def weights_keys(params: dict, model: str) -> list[str]:
    """`model_weights.<model>` when params name a starting weights file for the model: changing one
    model's file re-runs that model's jobs only (absent, DVC could not list it)."""
    return [f"model_weights.{model}"] if model in params.get("model_weights", {}) else []


def params_digest(params: dict, keys) -> str:
    """A short hash of the named (dotted) params keys: changing one re-runs exactly the jobs that read it."""
    picked = {key: lookup(params, key) for key in keys}
    return hashlib.sha256(json.dumps(picked, sort_keys=True).encode()).hexdigest()[:12]


def _job(params, rule, name, wildcards, args, inputs, datasets=(), extra_keys=(), resolved=()) -> Job:
    """A job of kind `rule`: its outputs and params keys from the kind (after the `datasets`' entries)."""
    kind = KINDS[rule]
    wildcards = {k: str(v) for k, v in wildcards.items()}
    outputs = kind.outputs(params, *[wildcards[w] for w in kind.wildcards])
    keys = tuple(dict.fromkeys([*(f"datasets.{d}" for d in datasets), *kind.params_keys, *extra_keys]))
    return Job(rule, name, wildcards, tuple(str(a) for a in args), inputs, outputs, keys, tuple(resolved),
               digest=params_digest(params, keys))


def output_patterns(params: dict, rule: str) -> dict[str, str]:
    return KINDS[rule].output_patterns(params)


def job_record(params: dict, job: "Job", kind: str) -> Path:
    """The log or benchmark file Snakemake writes for `job`."""
    return paths.job_record(params, kind, job.rule, [job.wildcards[w] for w in KINDS[job.rule].wildcards])


# --------------------------------------------------------------------------------------------- jobs
def demo_job(params, dataset) -> Job:
    return _job(params, "demo_data", f"demo-{dataset}", {"dataset": dataset}, ["demo", "--dataset", dataset], {},
                [dataset])


def face_part_job(params, tree, part) -> Job:
    """One part of an FF++-layout tree (its originals, or a method), read as the tree's entry says: every
    key of it but what a view sets, so adding a view or a method re-extracts nothing already extracted."""
    entry = params["datasets"][tree]
    keys = [f"datasets.{tree}.{key}" for key in entry if key not in VIEW_KEYS]
    adapter = adapter_spec(entry["adapter"])
    return _job(params, "face_part", f"faces-{tree}-{part}", {"tree": tree, "part": part},
                ["face-part", "--tree", tree, "--part", part], {"raw": Path(entry["root"])}, extra_keys=keys,
                resolved=[adapter.module])


def faces_job(params, dataset) -> Job:
    """A dataset's face store: extracted from its raw data, or for a dataset of an FF++-layout tree drawn
    from the tree's parts it reads (originals, its methods)."""
    entry = params["datasets"][dataset]
    if is_tree(entry):
        tree = tree_of(params, dataset)
        inputs = {"parts": tuple(paths.face_part_dir(params, tree, part) for part in dataset_parts(entry))}
    else:
        inputs = {"raw": Path(entry["root"])}
    return _job(params, "faces", f"faces-{dataset}", {"dataset": dataset}, ["faces", "--dataset", dataset],
                inputs, [dataset], resolved=[adapter_spec(entry["adapter"]).module])


def _check_run(params, *datasets) -> None:
    for dataset in datasets:
        dataset_params(params, dataset)  # a ConfigError naming an unknown dataset


def train_job(params, dataset, model, seed) -> Job:
    _check_run(params, dataset)
    return _job(params, "train", f"train-{dataset}-{model}-s{seed}", {"dataset": dataset, "model": model, "seed": seed},
                ["train", "--dataset", dataset, "--model", model, "--seed", seed],
                {"faces": paths.face_store_dir(params, dataset)}, [dataset], weights_keys(params, model),
                [model_spec(model).module])


def rewind_input(params, dataset, model, seed, trained: Path) -> Path:
    """The checkpoint a ticket's surviving weights restart from (pruning.rewind): the dense run's θ0
    (init) or θk (iteration), or with `none` the trained weights its mask was made from."""
    dense = paths.dense_outputs(params, dataset, model, seed)
    return {"init": dense["init"], "iteration": dense["rewind"], "none": trained}[params["pruning"]["rewind"]]


def level_inputs(params, dataset, model, seed, method: methods.Method, level: int) -> dict:
    """The files a level of `method` reads (method.reads, resolved): IMP level L the trained weights and
    mask of level L-1 (level 1: the dense run), one-shot the dense run, a control the ticket's mask at
    level L (random mask also the ticket's initialisation); a pruned ticket also its rewind point."""
    dense = paths.dense_outputs(params, dataset, model, seed)
    inputs = {"faces": paths.face_store_dir(params, dataset)}
    for word in method.reads:
        if word == methods.PREVIOUS and level > 1:
            previous = paths.level_outputs(params, dataset, model, seed, method.name, level - 1)
            inputs.update(weights=previous["final"], mask=previous["mask"])
        elif word in (methods.PREVIOUS, methods.TRAINED):
            inputs["weights"] = dense["final"]
        elif word == methods.REWIND:
            inputs["rewind"] = rewind_input(params, dataset, model, seed, inputs["weights"])
        elif word == methods.TICKET_MASK:
            ticket = params["pruning"]["controls"]["ticket"]
            inputs["ticket"] = paths.level_outputs(params, dataset, model, seed, ticket, level)["mask"]
        elif word == methods.TICKET_INIT:  # θ0, or θk when rewinding to iteration k
            inputs["init"] = dense["rewind"] if params["pruning"]["rewind"] == "iteration" else dense["init"]
    return inputs


def level_job(params, dataset, model, seed, method, level) -> Job:
    """Level `level` of `method`: what it reads is the method's (level_inputs), its rule its family's."""
    _check_run(params, dataset)
    spec = methods.method(method)
    extra = [*weights_keys(params, model)] + (["pruning.controls.ticket"] if methods.TICKET_MASK in spec.reads else [])
    wildcards = {**{"dataset": dataset, "model": model, "seed": seed}, "method": method, "level": f"{level:02d}"}
    return _job(params, spec.rule, f"prune-{dataset}-{model}-s{seed}-{method}-{level:02d}", wildcards,
                ["prune", "--dataset", dataset, "--model", model, "--seed", seed, "--method", method, "--level", level],
                level_inputs(params, dataset, model, seed, spec, level), [dataset], extra,
                [model_spec(model).module, spec.make_ticket_module])


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
                inputs, [source, target], weights_keys(params, model), [model_spec(model).module])


def gradcam_job(params, dataset, model) -> Job:
    """The first seed's dense run and its gradcam.method levels nearest gradcam.sparsities, in that order."""
    _check_run(params, dataset)
    seed, method = params["seeds"][0], params["gradcam"]["method"]
    explained = [paths.dense_outputs(params, dataset, model, seed)]
    explained += [paths.level_outputs(params, dataset, model, seed, method, level) for level in gradcam_levels(params)]
    inputs = {"faces": paths.face_store_dir(params, dataset), "checkpoints": tuple(r["final"] for r in explained),
              "metrics": tuple(r["metrics"] for r in explained)}
    return _job(params, "gradcam", f"gradcam-{dataset}-{model}", {"dataset": dataset, "model": model},
                ["gradcam", "--dataset", dataset, "--model", model], inputs, resolved=[model_spec(model).module])


def conditions_job(params, dataset, model, seed) -> Job:
    """The setting's dense run and every method at the controls' levels (config.scored_runs), each read as
    its final weights and (a level) its mask, scored on the test faces under every configured perturbation
    and on the test faces of every dataset of generalization.datasets."""
    _check_run(params, dataset)
    tested = generalization_datasets(params) if model in generalization_models(params) else []
    inputs = {"faces": paths.face_store_dir(params, dataset), **scored_checkpoints(params, dataset, model, seed),
              "tested": tuple(paths.face_store_dir(params, d) for d in tested if d != dataset)}
    perturbed = configured(params["robustness"]) if model in robustness_models(params) else []
    return _job(params, "conditions", f"conditions-{dataset}-{model}-s{seed}",
                {"dataset": dataset, "model": model, "seed": seed},
                ["conditions", "--dataset", dataset, "--model", model, "--seed", seed], inputs, [dataset],
                weights_keys(params, model), [model_spec(model).module, *dict.fromkeys(p.module for p, _ in perturbed)])


def scored_checkpoints(params, dataset, model, seed) -> dict:
    """The final weights of the setting's scored runs (config.scored_runs), and the masks of its levels."""
    scored = [paths.dense_outputs(params, dataset, model, seed) if level == 0
              else paths.level_outputs(params, dataset, model, seed, method, level)
              for method, level in scored_runs(params)]
    return {"weights": tuple(run["final"] for run in scored), "masks": tuple(run["mask"] for run in scored if "mask" in run)}


def deploy_job(params, dataset, model, seed) -> Job:
    """The setting's scored runs (config.scored_runs) as deployed: measured and timed on the CPU."""
    _check_run(params, dataset)
    return _job(params, "deploy", f"deploy-{dataset}-{model}-s{seed}", {"dataset": dataset, "model": model, "seed": seed},
                ["deploy", "--dataset", dataset, "--model", model, "--seed", seed],
                scored_checkpoints(params, dataset, model, seed), [], weights_keys(params, model),
                [model_spec(model).module])  # deploy.py imports the channel pruning that shrinks a ticket


def report_job(params, jobs: list[Job]) -> Job:
    """Reads every metrics file with the predictions beside it (same order), every Grad-CAM record (with
    its grid image) of `jobs`, the masks the overlap analysis compares, and every robustness and
    generalization file."""
    runs = [job.outputs for job in jobs if "metrics" in job.outputs]
    gradcam = [job.outputs for job in jobs if job.rule == "gradcam"]
    scored = [path for job in jobs if job.rule == "conditions" for path in job.outputs.values()]
    inputs = {"metrics": tuple(o["metrics"] for o in runs), "predictions": tuple(o["predictions"] for o in runs),
              "gradcam": tuple(o["record"] for o in gradcam), "gradcam_grids": tuple(o["png"] for o in gradcam),
              "masks": overlap_masks(params),
              "robustness": tuple(path for path in scored if path.name == paths.ROBUSTNESS_FILE),
              "generalization": tuple(path for path in scored if path.name == paths.GENERALIZATION_FILE),
              "deployment": tuple(job.outputs["deployment"] for job in jobs if job.rule == "deploy")}
    return _job(params, "report", "report", {}, ["report"], inputs)


def report_page_job(params) -> Job:
    """The HTML report's description page: report.md's text and what each job cost (Snakemake only)."""
    inputs = {"report": paths.report_outputs(params)["report"], "intro": paths.REPORT_PAGE_INTRO}
    return _job(params, "report_page", "report-page", {}, ["report-page"], inputs)


# ------------------------------------------------------------------------------------ the declared study
def study(params: dict) -> list[Job]:
    """Every job of the study params declares, upstream first; the report last."""
    jobs = [demo_job(params, dataset) for dataset in synthetic_datasets(params)]
    jobs += [face_part_job(params, tree, part) for tree, parts in tree_parts(params).items() for part in parts]
    jobs += [faces_job(params, dataset) for dataset in enabled_datasets(params)]
    for run in runs(params):
        jobs.append(train_job(params, *run))
        for m in params["pruning"]["methods"]:  # a ticket family at every level, pruning at init at the controls'
            levels = pruning_levels(params) if methods.method(m).every_level else control_levels(params)
            jobs += [level_job(params, *run, m, L) for L in levels]
        ticket_controls = params["pruning"]["controls"]["methods"]
        jobs += [level_job(params, *run, m, L) for m in ticket_controls for L in control_levels(params)]
    for source, target in transfer_pairs(params):
        for model in params["models"]:
            for seed in params["seeds"]:
                jobs += [transfer_job(params, source, target, model, seed, m, L)
                         for m in params["transfer"]["methods"] for L in transfer_levels(params)]
    jobs += [gradcam_job(params, d, m) for d in study_datasets(params) for m in gradcam_models(params)]
    jobs += [conditions_job(params, *run) for run in runs(params) if run[1] in conditions_models(params)]
    jobs += [deploy_job(params, *run) for run in runs(params) if run[1] in deployment_models(params)]
    return jobs + [report_job(params, jobs)]


class StageTable:
    """The declared study's jobs, and the Snakemake-only report page, indexed by rule and wildcards:
    what Snakemake's lookups ask."""

    def __init__(self, params: dict):
        check_demo_roots(params)
        self.jobs = study(params)
        every = [*self.jobs, report_page_job(params)]
        self._by_rule = {(job.rule, tuple(sorted(job.wildcards.items()))): job for job in every}

    def job(self, rule: str, wildcards) -> Job:
        key = (rule, tuple(sorted((k, str(v)) for k, v in dict(wildcards).items())))
        if key not in self._by_rule:
            described = ", ".join(f"{k}={v}" for k, v in key[1])
            raise ConfigError(f"{rule} ({described}) is not a job of the study params.yaml declares "
                              "(check its datasets, models, seeds, methods and levels)")
        return self._by_rule[key]

