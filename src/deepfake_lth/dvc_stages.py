"""dvc.yaml rendered from params: the same stages and file targets as the Snakemake workflow.

DVC's templating cannot express "level L depends on level L-1" or "only enabled datasets", so the
stages are rendered by the package from the one target list (targets.py) and committed; a test
checks that the committed dvc.yaml is current. Regenerate with `deepfake-lth dvc-yaml`.
"""

from __future__ import annotations

from deepfake_lth import targets
from deepfake_lth.config import enabled_datasets, pruning_levels
from deepfake_lth.paths import dense_dir, face_store_dir, gradcam_dir, level_dir, level_name, transfer_dir

PKG = "src/deepfake_lth"
# The code each kind of stage runs: an edit re-runs that kind of stage and nothing else.
CODE = {
    "demo": [f"{PKG}/data/demo.py"],
    "faces": [f"{PKG}/data"],
    "train": [f"{PKG}/train.py", f"{PKG}/models", f"{PKG}/metrics.py", f"{PKG}/data/face_store.py"],
    "prune": [f"{PKG}/train.py", f"{PKG}/models", f"{PKG}/metrics.py", f"{PKG}/lottery"],
    "transfer": [f"{PKG}/transfer.py", f"{PKG}/train.py", f"{PKG}/models", f"{PKG}/lottery"],
    "gradcam": [f"{PKG}/explain"],
    "report": [f"{PKG}/report"],
}
TRAINING_KEYS = ["training", "normalization", "resnet18_weights", "faces.image_size"]
PRUNING_KEYS = TRAINING_KEYS + [
    "pruning.rate", "pruning.rate_of", "pruning.rewind", "pruning.prune_output_layer", "pruning.oneshot_scope",
]
GRADCAM_KEYS = ["gradcam", "normalization", "seeds", "faces.image_size", "pruning.rate", "pruning.rate_of",
                "pruning.levels"]
CHECKPOINTS = ["mask.pt", "final.pt"]


def _stage(cmd: str, deps, params_keys, outs, metrics=(), code=()):
    stage = {"cmd": cmd, "deps": [str(d) for d in [*deps, *code]]}
    if params_keys:
        stage["params"] = list(params_keys)
    stage["outs"] = [str(o) for o in outs]
    if metrics:
        stage["metrics"] = [str(m) for m in metrics]
    return stage


def _rewind_dep(params, dataset, model, seed):
    rewind = params["pruning"]["rewind"]
    if rewind == "none":
        return []
    return [dense_dir(params, dataset, model, seed) / ("init.pt" if rewind == "init" else "rewind.pt")]


def render_dvc_yaml(params: dict, params_file: str = "params.yaml", written: dict | None = None) -> dict:
    """The dvc.yaml document (stages, metrics, plots) for these params.

    `written` is the params file as written (before defaults are filled in): DVC refuses a stage
    whose params key is absent from the file, so keys left to their schema default are not listed
    (they cannot change without an edit that adds them, after which dvc.yaml is rendered again).
    """
    cli = f"deepfake-lth --params {params_file}"
    stages = {}
    synthetic = set(targets.synthetic_datasets(params))
    for d in enabled_datasets(params):
        root = params["datasets"][d]["root"]
        if d in synthetic:
            stages[f"demo-{d}"] = _stage(f"{cli} demo --dataset {d}", [], [f"datasets.{d}"], [root], code=CODE["demo"])
        stages[f"faces-{d}"] = _stage(
            f"{cli} faces --dataset {d}", [root], [f"datasets.{d}", "faces"], [face_store_dir(params, d)],
            code=CODE["faces"],
        )
    for d, m, s in targets._runs(params):
        faces = face_store_dir(params, d)
        dense = dense_dir(params, d, m, s)
        run_args = f"--dataset {d} --model {m} --seed {s}"
        stages[f"train-{d}-{m}-s{s}"] = _stage(
            f"{cli} train {run_args}", [faces], [f"datasets.{d}", *TRAINING_KEYS],
            [dense / f for f in ("init.pt", "rewind.pt", "final.pt", "history.csv")], [dense / "metrics.json"],
            code=CODE["train"],
        )
        for method in params["pruning"]["methods"]:
            for level in pruning_levels(params):
                if method == "oneshot" or level == 1:
                    source = [dense / "final.pt"]
                else:
                    previous = level_dir(params, d, m, s, method, level - 1)
                    source = [previous / "final.pt", previous / "mask.pt"]
                stages[_level_stage_name(d, m, s, method, level)] = _level_stage(
                    params, cli, d, m, s, method, level, [faces, *source, *_rewind_dep(params, d, m, s)],
                    PRUNING_KEYS,
                )
        ticket = params["pruning"]["controls"]["ticket"]
        for method in params["pruning"]["controls"]["methods"]:
            for level in targets.control_levels(params):
                deps = [faces, level_dir(params, d, m, s, ticket, level) / "mask.pt", dense / "init.pt"]
                stages[_level_stage_name(d, m, s, method, level)] = _level_stage(
                    params, cli, d, m, s, method, level, deps, [*PRUNING_KEYS, "pruning.controls.ticket"],
                )
    stages.update(_transfer_stages(params, cli))
    stages.update(_gradcam_stages(params, cli))
    stages["report"] = _stage(
        f"{cli} report", targets.report_inputs(params),
        ["report", "datasets", "transfer", "pruning", "training", "seeds", "models"],
        [f"{params['paths']['results']}/tables", f"{params['paths']['results']}/figures",
         f"{params['paths']['results']}/report.md"],
        code=CODE["report"],
    )
    if written is not None:
        for stage in stages.values():
            stage["params"] = [key for key in stage.get("params", []) if _has_key(written, key)]
            if not stage["params"]:
                del stage["params"]
    tables = f"{params['paths']['results']}/tables"
    return {
        "stages": stages,
        "plots": [
            {f"{tables}/accuracy_vs_sparsity.csv": {"x": "sparsity", "y": "test_accuracy", "template": "linear"}}
        ],
    }


def _has_key(document: dict, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(document, dict) or part not in document:
            return False
        document = document[part]
    return True


def _level_stage_name(d, m, s, method, level):
    return f"prune-{d}-{m}-s{s}-{method}-{level:02d}"


def _level_stage(params, cli, d, m, s, method, level, deps, keys):
    out = level_dir(params, d, m, s, method, level)
    return _stage(
        f"{cli} prune --dataset {d} --model {m} --seed {s} --method {method} --level {level}",
        deps, [f"datasets.{d}", *keys], [out / f for f in CHECKPOINTS], [out / "metrics.json"],
        code=CODE["prune"],
    )


def _transfer_stages(params, cli):
    stages = {}
    for src, dst in targets.transfer_pairs(params):
        for m in params["models"]:
            for s in params["seeds"]:
                for method in params["transfer"]["methods"]:
                    for level in targets.transfer_levels(params):
                        ticket = level_dir(params, src, m, s, method, level)
                        rewind = _rewind_dep(params, src, m, s) or [ticket / "final.pt"]
                        out = transfer_dir(params, src, dst, m, s, method, level)
                        stages[f"transfer-{src}-{dst}-{m}-s{s}-{method}-{level:02d}"] = _stage(
                            f"{cli} transfer --source {src} --target {dst} --model {m} --seed {s} "
                            f"--method {method} --level {level}",
                            [face_store_dir(params, dst), ticket / "mask.pt", *rewind],
                            [f"datasets.{src}", f"datasets.{dst}", *PRUNING_KEYS],
                            [out / f for f in CHECKPOINTS], [out / "metrics.json"], code=CODE["transfer"],
                        )
    return stages


def _gradcam_stages(params, cli):
    stages = {}
    seed = params["seeds"][0]
    method = params["gradcam"]["method"]
    for d in enabled_datasets(params):
        for m in params["gradcam"]["models"]:
            if m not in params["models"]:
                continue
            dense = dense_dir(params, d, m, seed)
            levels = [level_dir(params, d, m, seed, method, L) for L in targets.gradcam_levels(params)]
            out = gradcam_dir(params, d, m)
            stages[f"gradcam-{d}-{m}"] = _stage(
                f"{cli} gradcam --dataset {d} --model {m}",
                [face_store_dir(params, d), dense / "final.pt", dense / "metrics.json",
                 *[lv / "final.pt" for lv in levels], *[lv / "metrics.json" for lv in levels]],
                GRADCAM_KEYS,
                [out / "gradcam.json", out / "gradcam.png", out / "gradcam.pdf"], code=CODE["gradcam"],
            )
    return stages
