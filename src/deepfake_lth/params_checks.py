"""What params validation checks beyond the schema: names the registries hold (models, methods,
adapters, datasets), the keys each dataset's adapter requires, where each split comes from, and that
the tickets the controls, transfer and Grad-CAM read are ones the study makes."""

from __future__ import annotations

from deepfake_lth import methods
from deepfake_lth.adapters import adapter_names, adapter_spec
from deepfake_lth.config import (
    deployment_models, derived_splits, enabled_datasets, generalization_datasets, gradcam_models, lookup, pruning_levels,
    robustness_models, sparsity_at_level, transfer_pairs,
)
from deepfake_lth.data.manipulations import KNOWN, dataset_methods, is_tree, tree_methods
from deepfake_lth.errors import ConfigError
from deepfake_lth.models.registry import model_names
from deepfake_lth.paths import SPLITS, TRANSFER_SEPARATOR


def check_params(params: dict, source: str) -> None:
    """Raise ConfigError naming the first key that names something unknown or inconsistent."""
    _check_references(params, source)
    _check_requested_work(params, source)
    _check_levels_keep_weights(params, source)
    _check_views(params, source)
    for name, entry in params["datasets"].items():
        if TRANSFER_SEPARATOR in name:
            raise ConfigError(f"{source}: key 'datasets.{name}': a dataset name may not contain "
                              f"'{TRANSFER_SEPARATOR}', which separates source and target in transfer folders")
        _check_adapter(name, entry, source)
        _check_splits(name, entry, source)


def _check_references(params: dict, source: str) -> None:
    """Names the schema does not enumerate: the datasets of params.yaml, the registries' models and methods."""
    controls, gradcam, transfer = params["pruning"]["controls"], params["gradcam"], params["transfer"]
    checks = [  # (key, a name, a list of names or a mapping by name, what they name, the allowed names)
        ("models", params["models"], "model", model_names()),
        ("gradcam.models", gradcam["models"], "model", model_names()),
        ("robustness.models", params["robustness"].get("models", []), "model", model_names()),
        ("generalization.models", params["generalization"].get("models", []), "model", model_names()),
        ("deployment.models", params["deployment"].get("models", []), "model", model_names()),
        ("generalization.datasets", params["generalization"].get("datasets", []), "dataset", sorted(params["datasets"])),
        ("model_weights", params["model_weights"], "model", model_names()),
        ("pruning.methods", params["pruning"]["methods"], "pruning method", methods.pruning_methods()),
        ("pruning.controls.methods", controls["methods"], "control method", methods.control_methods()),
        ("pruning.controls.ticket", controls["ticket"], "ticket method", methods.ticket_methods()),
        ("transfer.methods", transfer["methods"], "ticket method", methods.ticket_methods()),
        ("gradcam.method", gradcam["method"], "ticket method", methods.ticket_methods()),
    ]
    ran = params["pruning"]["methods"]
    read_tickets = [  # the tickets the controls, transfer and Grad-CAM read (when they run) must be made
        ("pruning.controls.ticket", [controls["ticket"]] if controls["methods"] else []),
        ("transfer.methods", transfer["methods"] if transfer_pairs(params) else []),
        ("gradcam.method", [gradcam["method"]] if gradcam_models(params) else []),
    ]
    for key, names in read_tickets:
        for name in names:
            if name not in ran:
                raise ConfigError(f"{source}: key '{key}': the study makes no {name} tickets to read "
                                  f"(pruning.methods: {', '.join(ran)}); add {name} there or name one of those")
    checks += [(f"transfer.pairs.{i}", pair, "dataset", sorted(params["datasets"])) for i, pair in enumerate(transfer["pairs"])]
    for i, (source_dataset, target_dataset) in enumerate(transfer["pairs"]):
        for name in (source_dataset, target_dataset):
            if params["datasets"].get(name, {}).get("evaluate_only"):
                raise ConfigError(f"{source}: key 'transfer.pairs.{i}': '{name}' is evaluate_only: the study trains "
                                  "no run on it (its dense run and tickets are what a transfer is compared with)")
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


def _check_requested_work(params: dict, source: str) -> None:
    """Work a key asks for that no job would do: refused, never dropped without a word."""
    controls = params["pruning"]["controls"]
    if not controls["sparsities"]:
        at_controls = [name for name in (*params["pruning"]["methods"], *controls["methods"])
                       if not methods.method(name).every_level]
        if at_controls:
            raise ConfigError(f"{source}: key 'pruning.controls.sparsities': empty, but {', '.join(at_controls)} "
                              "run only at the controls' levels; name a sparsity there or drop them")
    if transfer_pairs(params) and params["transfer"]["methods"] and not params["transfer"]["sparsities"]:
        raise ConfigError(f"{source}: key 'transfer.sparsities': empty, but transfer.pairs asks for transfer; "
                          "name a sparsity there or empty transfer.pairs")


def study_warnings(params: dict, source: str) -> list[str]:
    """What a params file asks for that the study will not do, one line each (validate and plan print them).
    Warnings, not errors: gradcam.models defaults to the paper's ResNet-18 whatever `models` says, and a
    study narrowed to fewer models keeps its robustness.models."""
    warnings = []
    for key, chosen, done, what in (("gradcam.models", params["gradcam"]["models"], gradcam_models(params), "Grad-CAM"),
                                    ("robustness.models", params["robustness"].get("models", []),
                                     robustness_models(params), "robustness"),
                                    ("generalization.models", params["generalization"].get("models", []),
                                     [m for m in params["models"] if m in params["generalization"].get("models", [])],
                                     "generalization"),
                                    ("deployment.models", params["deployment"].get("models", []),
                                     deployment_models(params), "deployment")):
        left_out = [model for model in chosen if model not in done]
        if left_out:
            warnings.append(f"{source}: key '{key}': {', '.join(left_out)} not in models "
                            f"({', '.join(params['models'])}): no {what} for {'them' if len(left_out) > 1 else 'it'}")
    tested = generalization_datasets(params)
    disabled = [d for d in params["generalization"].get("datasets", []) if d not in enabled_datasets(params)]
    if disabled:
        warnings.append(f"{source}: key 'generalization.datasets': {', '.join(disabled)} not enabled: not scored on")
    unused = [d for d in enabled_datasets(params) if params["datasets"][d].get("evaluate_only") and d not in tested]
    if unused:
        warnings.append(f"{source}: key 'datasets.{unused[0]}.evaluate_only': no run is scored on "
                        f"{', '.join(unused)} (not in generalization.datasets, or it names fewer than two): "
                        "extracted for nothing")
    return warnings


def _check_views(params: dict, source: str) -> None:
    """A dataset's methods are known manipulations its tree holds (a generated tree: the ones it generates);
    a view reads an FF++-layout tree."""
    for name, entry in params["datasets"].items():
        if "view_of" in entry and not is_tree(entry):
            raise ConfigError(f"{source}: key 'datasets.{name}.view_of': datasets.{entry['view_of']} is not an "
                              "FF++-layout tree (the faceforensics adapter, or the synthetic swap domain)")
        if not is_tree(entry):
            continue
        held = tree_methods(params["datasets"][entry.get("view_of", name)])
        for method in dataset_methods(entry):
            if method not in KNOWN:
                raise ConfigError(f"{source}: key 'datasets.{name}.methods': unknown manipulation method '{method}' "
                                  f"(allowed: {', '.join(KNOWN)})")
            if entry["adapter"] == "synthetic" and method not in held:
                raise ConfigError(f"{source}: key 'datasets.{name}.methods': the generated tree holds no {method} "
                                  f"(its synthetic.methods: {', '.join(held)})")


def _check_levels_keep_weights(params: dict, source: str) -> None:
    """A plan whose last level prunes every weight is refused: an empty network is no ticket."""
    p = params["pruning"]
    for level in pruning_levels(params):
        if sparsity_at_level(level, p["rate"], p["rate_of"]) >= 1.0 - 1e-9:
            raise ConfigError(f"{source}: key 'pruning.levels': level {level} reaches 100% sparsity "
                              f"(rate {p['rate']:g} of the {p['rate_of']} weights per level): at most "
                              f"{level - 1} levels keep weights")


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
