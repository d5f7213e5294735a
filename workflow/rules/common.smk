# Validation of params and the helpers every rule file uses. Logic lives in the deepfake_lth package.
import hashlib
import json
from pathlib import Path

import yaml
from snakemake.utils import min_version, validate

from deepfake_lth import targets
from deepfake_lth.config import validate_params
from deepfake_lth.paths import level_name

min_version("9.0")

validate(config, "../schemas/params.schema.yaml")
PARAMS = validate_params(config, "snakemake config")
RAW = PARAMS["paths"]["raw"]
FACES = PARAMS["paths"]["faces"]
RESULTS = PARAMS["paths"]["results"]
RUNS = f"{RESULTS}/runs/{{dataset}}/{{model}}/seed_{{seed}}"
DENSE = f"{RUNS}/dense"
CHECKPOINT_FILES = ["mask.pt", "final.pt", "metrics.json"]


def _write_resolved_params(params):
    """Jobs read the exact config this workflow resolved (including --configfile/--config overrides),
    from a content-addressed file, so concurrent invocations with other configs cannot collide."""
    text = yaml.safe_dump(params, sort_keys=True)
    path = Path(".snakemake/deepfake-lth") / f"params-{hashlib.sha256(text.encode()).hexdigest()[:16]}.yaml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return str(path)


PARAMS_FILE = _write_resolved_params(PARAMS)
CLI = f"deepfake-lth --params {PARAMS_FILE}"


def _lookup(dotted):
    value = PARAMS
    for part in dotted.split("."):
        value = value[part]
    return value


def digest(*keys):
    """A short hash of the named (dotted) params keys. Rules carry it in `params:`, so that changing
    one of those keys re-runs exactly the jobs that depend on it (Snakemake's params rerun trigger)."""
    picked = {key: _lookup(key) for key in keys}
    return hashlib.sha256(json.dumps(picked, sort_keys=True).encode()).hexdigest()[:12]


# The keys each kind of job depends on; an unrelated change (gradcam, report, device) re-runs nothing.
TRAINING_KEYS = ("training", "normalization", "resnet18_weights", "faces.image_size")
PRUNING_KEYS = TRAINING_KEYS + (
    "pruning.rate", "pruning.rate_of", "pruning.rewind", "pruning.prune_output_layer", "pruning.oneshot_scope",
)

# Grad-CAM's levels are the ones nearest gradcam.sparsities under the pruning schedule.
GRADCAM_KEYS = ("gradcam", "normalization", "seeds", "faces.image_size", "pruning.rate", "pruning.rate_of", "pruning.levels")


def dataset_digest(*extra):
    """Digest of one dataset's entry (plus extra keys), as a params function of the dataset wildcard."""
    return lambda w: digest(f"datasets.{w.dataset}", *extra)


for _name in targets.synthetic_datasets(PARAMS):
    if PARAMS["datasets"][_name]["root"] != f"{RAW}/{_name}":
        raise ValueError(
            f"params: key 'datasets.{_name}.root': a synthetic dataset is generated into "
            f"'{RAW}/{_name}' (paths.raw/<name>), not '{PARAMS['datasets'][_name]['root']}'"
        )


wildcard_constraints:
    dataset=r"[A-Za-z0-9_]+",
    source=r"[A-Za-z0-9_]+",
    target=r"[A-Za-z0-9_]+",
    model=r"[a-z0-9_]+",
    seed=r"\d+",
    level=r"\d{2}",
