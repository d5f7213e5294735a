"""params.yaml: loading, validation against the JSON Schema (filling defaults), and derived values."""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path

import jsonschema
import yaml

from deepfake_lth import methods
from deepfake_lth.adapters import adapter_spec
from deepfake_lth.conditions.perturbations import all_perturbations, configured
from deepfake_lth.data.manipulations import ORIGINAL, dataset_methods, is_tree
from deepfake_lth.errors import ConfigError
from deepfake_lth.models.registry import model_defaults
from deepfake_lth.paths import GENERALIZATION_FILE, ROBUSTNESS_FILE, SPLITS, demo_outputs

SCHEMA_PATH = Path(__file__).resolve().parent / "params.schema.yaml"


def load_schema() -> dict:
    """The params schema, with the defaults the registries give (the methods and models a key names
    unless params.yaml says otherwise) filled in where the schema leaves them to them, and one
    `robustness` key per registered perturbation (its severity grid)."""
    with open(SCHEMA_PATH) as f:
        schema = yaml.safe_load(f)
    for key, names in {**methods.defaults(), **model_defaults()}.items():
        node = schema
        for part in key.split("."):
            node = node["properties"][part]
        node["default"] = list(names) if node["type"] == "array" else names[0]
    for perturbation in all_perturbations():
        schema["properties"]["robustness"]["properties"][perturbation.name] = perturbation.schema()
    return schema


def _is_integer(checker, instance) -> bool:
    """Strictly an int: JSON Schema would take 2.0, which then makes paths such as seed_2.0."""
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_number(checker, instance) -> bool:
    """A finite int or float: NaN and infinity pass every bound of the schema and change the study."""
    return isinstance(instance, (int, float)) and not isinstance(instance, bool) and math.isfinite(instance)


def _validator_filling_defaults():
    base = jsonschema.Draft202012Validator
    types = base.TYPE_CHECKER.redefine_many({"integer": _is_integer, "number": _is_number})

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": set_defaults}, type_checker=types)


def validate_params(params: dict, source: str = "params.yaml") -> dict:
    """Return a copy of params with defaults filled in; raise ConfigError naming the first bad key."""
    params = copy.deepcopy(params)
    if isinstance(params, dict) and "resnet18_weights" in params:
        raise ConfigError(f"{source}: key 'resnet18_weights' was renamed: write model_weights: {{resnet18: FILE}}")
    _expand_views(params, source)
    validator = _validator_filling_defaults()(load_schema())
    errors = sorted(validator.iter_errors(params), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        key = ".".join(str(p) for p in error.absolute_path) or "<top level>"
        raise ConfigError(f"{source}: key '{key}': {_error_message(error)}")
    from deepfake_lth.params_checks import check_params  # it reads the derived values below

    check_params(params, source)
    return params


VIEW_KEYS = ("view_of", "methods", "enabled", "evaluate_only")  # what a view sets; the rest is its tree's


def _expand_views(params, source: str) -> None:
    """Give each view (`view_of`) its tree's entry, with the view's own VIEW_KEYS: a view differs from its
    tree in what it reads, never in how. Idempotent: a validated view holds its tree's values."""
    datasets = params.get("datasets") if isinstance(params, dict) else None
    if not isinstance(datasets, dict):
        return
    for name, entry in datasets.items():
        if not isinstance(entry, dict) or "view_of" not in entry:
            continue
        tree = datasets.get(entry["view_of"])
        if not isinstance(tree, dict) or "view_of" in tree:
            trees = ", ".join(n for n, e in datasets.items() if isinstance(e, dict) and "view_of" not in e)
            raise ConfigError(f"{source}: key 'datasets.{name}.view_of': '{entry['view_of']}' is not a dataset "
                              f"entry of its own (allowed: {trees})")
        for key, value in entry.items():
            if key not in VIEW_KEYS and tree.get(key) != value:
                raise ConfigError(f"{source}: key 'datasets.{name}.{key}': a view reads its tree as "
                                  f"datasets.{entry['view_of']} does; set {key} there (a view sets only "
                                  f"{', '.join(VIEW_KEYS)})")
        datasets[name] = {**{k: v for k, v in tree.items() if k not in VIEW_KEYS}, **entry}


def _error_message(error: jsonschema.ValidationError) -> str:
    """The schema's message, or for a repeated list item, which item (one study must not run twice)."""
    if error.validator == "type" and isinstance(error.instance, float):
        value = error.instance
        if not math.isfinite(value):
            return f"{value} is not a finite number"
        if value.is_integer() and "integer" in str(error.validator_value):
            return f"{value!r} is not a whole number; write {int(value)}"
    if error.validator == "uniqueItems":
        seen = []
        for item in error.instance:
            if item in seen:
                return f"{item!r} is listed more than once; list each once"
            seen.append(item)
    return error.message


def lookup(params: dict, dotted: str):
    """The value at a dotted key ("training.batch_size") of params or of a part of them."""
    value = params
    for part in dotted.split("."):
        value = value[part]
    return value


def read_params_file(path: str | Path) -> dict:
    """The mapping a params file holds, unvalidated; ConfigError naming the file when it is missing, not
    YAML, not a mapping, or names a key twice in one mapping (YAML keeps the last silently; DVC refuses)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: parameters file not found")
    try:
        text = path.read_text()
        _refuse_duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader), path)
        params = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return params


def _refuse_duplicate_keys(node, path: Path, prefix: str = "") -> None:
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicate_keys(item, path, f"{prefix}{i}.")
    elif isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise ConfigError(f"{path} line {key_node.start_mark.line + 1}: key '{prefix}{key}' appears twice")
            seen.add(key)
            _refuse_duplicate_keys(value_node, path, f"{prefix}{key}.")


def typed_overrides(overrides: dict) -> dict:
    """Snakemake's `--config KEY=VALUE` values as YAML reads them: its parser types a scalar but reads a
    list or mapping with YAML's base loader, all strings (`seeds=[0,1]` gives ['0', '1']); each string
    inside one is read again here, so `seeds=[0,1]` and `training={max_epochs: 2}` mean what they say."""

    def typed(value, nested):
        if isinstance(value, dict):
            return {k: typed(v, True) for k, v in value.items()}
        if isinstance(value, list):
            return [typed(v, True) for v in value]
        return yaml.safe_load(value) if nested and isinstance(value, str) else value

    return {key: typed(value, False) for key, value in overrides.items()}


def load_params(path: str | Path = "params.yaml") -> dict:
    """Read and validate a params file; the result has every default filled in."""
    return validate_params(read_params_file(path), str(path))


def check_output_root(params: dict, key: str, source: str = "params.yaml") -> None:
    """Raise ConfigError naming the key when the folder params[key] names cannot be created or written."""
    root = Path(lookup(params, key))
    existing = root
    while not existing.exists() and existing != existing.parent:  # the nearest part of it that exists
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{source}: key '{key}': cannot create {root}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{source}: key '{key}': cannot write {root}: {existing} is not writable")


def output_roots(params: dict) -> list[str]:
    """The params keys of the folders the study writes (the raw-data root only for generated demo data)."""
    return (["paths.raw"] if synthetic_datasets(params) else []) + ["paths.faces", "paths.results"]


def enabled_datasets(params: dict) -> list[str]:
    """Every enabled dataset: its faces are extracted."""
    return [name for name, d in params["datasets"].items() if d.get("enabled", True)]


def study_datasets(params: dict) -> list[str]:
    """The enabled datasets the study trains on (all but the evaluate_only ones)."""
    return [name for name in enabled_datasets(params) if not params["datasets"][name].get("evaluate_only", False)]


def tree_of(params: dict, dataset: str) -> str:
    """The dataset whose entry holds the FF++-layout tree `dataset` reads: its `view_of`, or itself."""
    return params["datasets"][dataset].get("view_of", dataset)


def tree_parts(params: dict) -> dict[str, list[str]]:
    """tree -> the parts (the originals, then methods) its enabled datasets read, each once: extracted once."""
    trees: dict[str, list[str]] = {}
    for dataset in enabled_datasets(params):
        entry = params["datasets"][dataset]
        if is_tree(entry):
            parts = trees.setdefault(tree_of(params, dataset), [ORIGINAL])
            parts += [m for m in dataset_methods(entry) if m not in parts]
    return trees


def dataset_params(params: dict, dataset: str) -> dict:
    try:
        return params["datasets"][dataset]
    except KeyError:
        raise ConfigError(
            f"unknown dataset '{dataset}' (allowed: {', '.join(params['datasets'])})"
        ) from None


def derived_splits(entry: dict) -> dict[str, dict]:
    """A dataset's derived splits ({split: {from, fraction, seed}}), in the order of SPLITS."""
    derived = entry.get("derive_splits") or {}
    return {split: derived[split] for split in SPLITS if split in derived}


def given_splits(entry: dict) -> list[str]:
    """The splits a dataset's data ships (its adapter reads them), in the order of SPLITS."""
    derived = derived_splits(entry)
    return [split for split in SPLITS if split not in derived]


def sparsity_at_level(level: int, rate: float, rate_of: str = "remaining") -> float:
    """Nominal fraction of prunable weights removed after `level` pruning rounds."""
    if rate_of == "remaining":
        return 1.0 - (1.0 - rate) ** level
    return min(level * rate, 1.0)


def pruning_levels(params: dict) -> list[int]:
    return list(range(1, params["pruning"]["levels"] + 1))


def level_nearest(params: dict, sparsity: float) -> int:
    """The pruning level whose nominal sparsity is nearest `sparsity` (ties: the lower level)."""
    p = params["pruning"]
    return min(
        pruning_levels(params),
        key=lambda L: (abs(sparsity_at_level(L, p["rate"], p["rate_of"]) - sparsity), L),
    )


def levels_nearest(params: dict, sparsities: list[float]) -> list[int]:
    return sorted({level_nearest(params, s) for s in sparsities})


def control_levels(params: dict) -> list[int]:
    return levels_nearest(params, params["pruning"]["controls"]["sparsities"])


def scored_runs(params: dict) -> list[tuple[str, int]]:
    """(method, level) of the runs of a setting that the conditions stage scores: the dense run, then every
    method of pruning.methods and pruning.controls.methods at the controls' levels."""
    studied = [*params["pruning"]["methods"], *params["pruning"]["controls"]["methods"]]
    return [(methods.DENSE, 0), *((m, L) for m in studied for L in control_levels(params))]


def robustness_models(params: dict) -> list[str]:
    """The models of the study the conditions stage scores (robustness.models; absent: every one)."""
    chosen = params["robustness"].get("models", params["models"])
    return [model for model in params["models"] if model in chosen]


def generalization_datasets(params: dict) -> list[str]:
    """The enabled datasets of generalization.datasets (absent: every enabled one) in params order; none
    when they are fewer than two (a run scored on its own test faces alone adds nothing)."""
    chosen = params["generalization"].get("datasets", enabled_datasets(params))
    tested = [dataset for dataset in enabled_datasets(params) if dataset in chosen]
    return tested if len(tested) > 1 else []


def generalization_models(params: dict) -> list[str]:
    """The models of the study scored on other datasets (generalization.models; absent: every one)."""
    chosen = params["generalization"].get("models", params["models"])
    return [model for model in params["models"] if model in chosen] if generalization_datasets(params) else []


def conditions_models(params: dict) -> list[str]:
    """The models with a conditions job: scored under perturbation, on other datasets, or both."""
    robust = robustness_models(params) if configured(params["robustness"]) else []
    return [model for model in params["models"] if model in robust or model in generalization_models(params)]


def deployment_models(params: dict) -> list[str]:
    """The models of the study the deploy stage measures (deployment.models; absent: every one)."""
    chosen = params["deployment"].get("models", params["models"])
    return [model for model in params["models"] if model in chosen]


def conditions_files(params: dict) -> list[str]:
    """The files a conditions job writes beside each scored run: robustness.csv when perturbations are
    configured, generalization.csv when other datasets are; the same for every job (a model outside
    robustness.models gets its clean rows only, one outside generalization.models its own dataset only)."""
    robust = configured(params["robustness"]) and robustness_models(params)
    return [*([ROBUSTNESS_FILE] if robust else []), *([GENERALIZATION_FILE] if generalization_models(params) else [])]


def transfer_levels(params: dict) -> list[int]:
    return levels_nearest(params, params["transfer"]["sparsities"])


def gradcam_levels(params: dict) -> list[int]:
    return levels_nearest(params, params["gradcam"]["sparsities"])


def gradcam_models(params: dict) -> list[str]:
    """The models of gradcam.models that the study trains (Grad-CAM explains the study's own runs)."""
    return [model for model in params["gradcam"]["models"] if model in params["models"]]


def transfer_pairs(params: dict) -> list[tuple[str, str]]:
    """The configured pairs whose datasets are both enabled."""
    studied = set(study_datasets(params))
    return [(s, t) for s, t in params["transfer"]["pairs"] if s in studied and t in studied]


def synthetic_datasets(params: dict) -> list[str]:
    """The datasets whose data the demo job generates (their adapter's `generated`): the enabled ones, and
    for an enabled view the tree it reads (views themselves generate nothing)."""
    trees = dict.fromkeys(tree_of(params, d) for d in enabled_datasets(params))
    return [d for d in trees if adapter_spec(params["datasets"][d]["adapter"]).generated]


def check_demo_roots(params: dict) -> None:
    """The engines run the demo job into paths.raw/<name>: a generated dataset's root must be there."""
    for dataset in synthetic_datasets(params):
        root = demo_outputs(params, dataset)["root"]
        if Path(params["datasets"][dataset]["root"]) != root:
            raise ConfigError(f"params: key 'datasets.{dataset}.root': a synthetic dataset is generated into "
                              f"'{root}' (paths.raw/<name>), not '{params['datasets'][dataset]['root']}'")


def runs(params: dict):
    """Every (dataset, model, seed) the study trains: of its datasets (study_datasets)."""
    for dataset in study_datasets(params):
        for model in params["models"]:
            for seed in params["seeds"]:
                yield dataset, model, seed
