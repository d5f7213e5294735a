"""What params validation checks beyond the schema: names the registries hold (models, methods,
adapters, datasets), the keys each dataset's adapter requires, where each split comes from, and that
the tickets the controls, transfer and Grad-CAM read are ones the study makes."""

from __future__ import annotations

from deepfake_lth import methods
from deepfake_lth.adapters import adapter_names, adapter_spec
from deepfake_lth.config import derived_splits, lookup, transfer_pairs
from deepfake_lth.errors import ConfigError
from deepfake_lth.models.registry import model_names
from deepfake_lth.paths import SPLITS


def check_params(params: dict, source: str) -> None:
    """Raise ConfigError naming the first key that names something unknown or inconsistent."""
    _check_references(params, source)
    for name, entry in params["datasets"].items():
        _check_adapter(name, entry, source)
        _check_splits(name, entry, source)


def _check_references(params: dict, source: str) -> None:
    """Names the schema does not enumerate: the datasets of params.yaml, the registries' models and methods."""
    controls, gradcam, transfer = params["pruning"]["controls"], params["gradcam"], params["transfer"]
    checks = [  # (key, a name, a list of names or a mapping by name, what they name, the allowed names)
        ("models", params["models"], "model", model_names()),
        ("gradcam.models", gradcam["models"], "model", model_names()),
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
