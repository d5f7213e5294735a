"""params.yaml: loading, validation against the JSON Schema (filling defaults), and derived values."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import jsonschema
import yaml

from deepfake_lth import methods
from deepfake_lth.adapters import adapter_names, adapter_spec
from deepfake_lth.errors import ConfigError
from deepfake_lth.models.registry import model_defaults, model_names
from deepfake_lth.paths import SPLITS

SCHEMA_PATH = Path(__file__).resolve().parent / "params.schema.yaml"


def load_schema() -> dict:
    """The params schema, with the defaults the registries give (the methods and models a key names
    unless params.yaml says otherwise) filled in where the schema leaves them to them."""
    with open(SCHEMA_PATH) as f:
        schema = yaml.safe_load(f)
    for key, names in {**methods.defaults(), **model_defaults()}.items():
        node = schema
        for part in key.split("."):
            node = node["properties"][part]
        node["default"] = list(names) if node["type"] == "array" else names[0]
    return schema


def _validator_filling_defaults():
    base = jsonschema.Draft202012Validator

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": set_defaults})


def validate_params(params: dict, source: str = "params.yaml") -> dict:
    """Return a copy of params with defaults filled in; raise ConfigError naming the first bad key."""
    params = copy.deepcopy(params)
    if isinstance(params, dict) and "resnet18_weights" in params:
        raise ConfigError(f"{source}: key 'resnet18_weights' was renamed: write model_weights: {{resnet18: FILE}}")
    validator = _validator_filling_defaults()(load_schema())
    errors = sorted(validator.iter_errors(params), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        key = ".".join(str(p) for p in error.absolute_path) or "<top level>"
        raise ConfigError(f"{source}: key '{key}': {_error_message(error)}")
    _check_references(params, source)
    for name, entry in params["datasets"].items():
        _check_adapter(name, entry, source)
        _check_splits(name, entry, source)
    return params


def _error_message(error: jsonschema.ValidationError) -> str:
    """The schema's message, or for a repeated list item, which item (one study must not run twice)."""
    if error.validator == "uniqueItems":
        seen = []
        for item in error.instance:
            if item in seen:
                return f"{item!r} is listed more than once; list each once"
            seen.append(item)
    return error.message


def _check_references(params: dict, source: str) -> None:
    """Names the schema does not enumerate: the datasets of params.yaml, the registries' models and methods."""
    controls, gradcam, transfer = params["pruning"]["controls"], params["gradcam"], params["transfer"]
    checks = [  # (key, a name, a list of names or a mapping by name, what they name, the allowed names)
        ("models", params["models"], "model", model_names()),
        ("gradcam.models", gradcam["models"], "model", model_names()),
        ("model_weights", params["model_weights"], "model", model_names()),
        ("pruning.methods", params["pruning"]["methods"], "pruning method", methods.pruning_methods()),
        ("pruning.controls.methods", controls["methods"], "control method", methods.control_methods()),
        ("pruning.controls.ticket", controls["ticket"], "pruning method", methods.pruning_methods()),
        ("transfer.methods", transfer["methods"], "pruning method", methods.pruning_methods()),
        ("gradcam.method", gradcam["method"], "pruning method", methods.pruning_methods()),
    ]
    ran = params["pruning"]["methods"]
    read_tickets = [  # the tickets the controls, transfer and Grad-CAM read (when they run) must be made
        ("pruning.controls.ticket", [controls["ticket"]] if controls["methods"] else []),
        ("transfer.methods", transfer["methods"] if transfer["pairs"] else []),
        ("gradcam.method", [gradcam["method"]] if set(gradcam["models"]) & set(params["models"]) else []),
    ]
    for key, names in read_tickets:
        for name in names:
            if name not in ran:
                raise ConfigError(f"{source}: key '{key}': the study makes no {name} tickets to read "
                                  f"(pruning.methods: {', '.join(ran)}); add {name} there or name one of those")
    checks += [(f"transfer.pairs.{i}", pair, "dataset", sorted(params["datasets"])) for i, pair in enumerate(transfer["pairs"])]
    for i, (source_dataset, target_dataset) in enumerate(transfer["pairs"]):
        if source_dataset == target_dataset:
            raise ConfigError(f"{source}: key 'transfer.pairs.{i}': source and target are both '{source_dataset}'; "
                              "a ticket on its own dataset is the in-domain run")
    for key, value, what, allowed in checks:
        if isinstance(value, dict):  # named by its keys
            named = [(f"{key}.{name}", name) for name in value]
        else:
            named = [(key, value)] if isinstance(value, str) else [(f"{key}.{i}", name) for i, name in enumerate(value)]
        for where, name in named:
            if name not in allowed:
                raise ConfigError(f"{source}: key '{where}': unknown {what} '{name}' (allowed: {', '.join(allowed)})")


def _check_adapter(name: str, entry: dict, source: str) -> None:
    """The dataset's adapter is registered and its entry has the keys that adapter requires."""
    if entry["adapter"] not in adapter_names():
        raise ConfigError(f"{source}: key 'datasets.{name}.adapter': unknown adapter '{entry['adapter']}' "
                          f"(allowed: {', '.join(adapter_names())})")
    for key in adapter_spec(entry["adapter"]).required:
        if key not in entry:
            raise ConfigError(f"{source}: key 'datasets.{name}': '{key}' is a required property "
                              f"of a dataset read by the {entry['adapter']} adapter")


def _check_splits(name: str, entry: dict, source: str) -> None:
    """Every split is given by each of the adapter's split keys or derived from a given split, never both."""
    derived = derived_splits(entry)
    for key in adapter_spec(entry["adapter"]).split_keys:
        given = lookup(entry, key)
        for split in SPLITS:
            if split in given and split in derived:
                raise ConfigError(f"{source}: key 'datasets.{name}.derive_splits.{split}': the {split} split is "
                                  f"also given in {key}; name it in one place")
            if split not in given and split not in derived:
                raise ConfigError(f"{source}: key 'datasets.{name}.{key}': no {split} split; name it there or "
                                  f"derive it: derive_splits: {{{split}: {{from: train, fraction: 0.2}}}}")
    drawn: dict[str, float] = {}
    for split, draw in derived.items():
        if draw["from"] in derived or draw["from"] == split:
            raise ConfigError(f"{source}: key 'datasets.{name}.derive_splits.{split}.from': the {draw['from']} "
                              f"split is not given by the data; draw from a split that is")
        drawn[draw["from"]] = drawn.get(draw["from"], 0.0) + draw["fraction"]
    for origin, total in drawn.items():
        if total >= 1.0:
            raise ConfigError(f"{source}: key 'datasets.{name}.derive_splits': the fractions drawn from {origin} "
                              f"add up to {total:g}; they must leave part of it")


def lookup(params: dict, dotted: str):
    """The value at a dotted key ("training.batch_size") of params or of a part of them."""
    value = params
    for part in dotted.split("."):
        value = value[part]
    return value


def load_params(path: str | Path = "params.yaml") -> dict:
    """Read and validate a params file; the result has every default filled in."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: parameters file not found")
    try:
        with open(path) as f:
            params = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return validate_params(params, str(path))


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
    return [name for name, d in params["datasets"].items() if d.get("enabled", True)]


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


def transfer_levels(params: dict) -> list[int]:
    return levels_nearest(params, params["transfer"]["sparsities"])


def gradcam_levels(params: dict) -> list[int]:
    return levels_nearest(params, params["gradcam"]["sparsities"])


def transfer_pairs(params: dict) -> list[tuple[str, str]]:
    """The configured pairs whose datasets are both enabled."""
    enabled = set(enabled_datasets(params))
    return [(s, t) for s, t in params["transfer"]["pairs"] if s in enabled and t in enabled]


def synthetic_datasets(params: dict) -> list[str]:
    """The enabled datasets whose data the demo job generates (their adapter's `generated`)."""
    return [d for d in enabled_datasets(params) if adapter_spec(params["datasets"][d]["adapter"]).generated]


def runs(params: dict):
    """Every (dataset, model, seed) of the enabled datasets."""
    for dataset in enabled_datasets(params):
        for model in params["models"]:
            for seed in params["seeds"]:
                yield dataset, model, seed
