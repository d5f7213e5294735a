"""Every file target the study consists of, derived from params: one list for Snakemake and DVC alike."""

from __future__ import annotations

from pathlib import Path

from deepfake_lth.config import enabled_datasets, levels_nearest, pruning_levels
from deepfake_lth.paths import dense_dir, face_store_dir, gradcam_dir, level_dir, transfer_dir

CONTROL_METHODS = ("reinit", "random_mask")


def synthetic_datasets(params: dict) -> list[str]:
    return [d for d in enabled_datasets(params) if params["datasets"][d]["adapter"] == "synthetic"]


def face_stores(params: dict) -> list[Path]:
    return [face_store_dir(params, d) for d in enabled_datasets(params)]


def _runs(params: dict):
    for dataset in enabled_datasets(params):
        for model in params["models"]:
            for seed in params["seeds"]:
                yield dataset, model, seed


def dense_metrics(params: dict) -> list[Path]:
    return [dense_dir(params, *run) / "metrics.json" for run in _runs(params)]


def level_metrics(params: dict) -> list[Path]:
    """IMP and one-shot levels 1..L of every configured method."""
    return [
        level_dir(params, *run, method, level) / "metrics.json"
        for run in _runs(params)
        for method in params["pruning"]["methods"]
        for level in pruning_levels(params)
    ]


def control_levels(params: dict) -> list[int]:
    return levels_nearest(params, params["pruning"]["controls"]["sparsities"])


def control_metrics(params: dict) -> list[Path]:
    return [
        level_dir(params, *run, method, level) / "metrics.json"
        for run in _runs(params)
        for method in params["pruning"]["controls"]["methods"]
        for level in control_levels(params)
    ]


def transfer_levels(params: dict) -> list[int]:
    return levels_nearest(params, params["transfer"]["sparsities"])


def transfer_pairs(params: dict) -> list[tuple[str, str]]:
    enabled = set(enabled_datasets(params))
    return [(s, t) for s, t in params["transfer"]["pairs"] if s in enabled and t in enabled]


def transfer_metrics(params: dict) -> list[Path]:
    return [
        transfer_dir(params, source, target, model, seed, method, level) / "metrics.json"
        for source, target in transfer_pairs(params)
        for model in params["models"]
        for seed in params["seeds"]
        for method in params["transfer"]["methods"]
        for level in transfer_levels(params)
    ]


def gradcam_levels(params: dict) -> list[int]:
    return levels_nearest(params, params["gradcam"]["sparsities"])


def gradcam_outputs(params: dict) -> list[Path]:
    return [
        gradcam_dir(params, dataset, model) / "gradcam.json"
        for dataset in enabled_datasets(params)
        for model in params["gradcam"]["models"]
        if model in params["models"]
    ]


def all_metrics(params: dict) -> list[Path]:
    return dense_metrics(params) + level_metrics(params) + control_metrics(params) + transfer_metrics(params)


def report_inputs(params: dict) -> list[Path]:
    return all_metrics(params) + gradcam_outputs(params)
