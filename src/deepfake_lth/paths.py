"""Where every stage's files live. A test pins these names: moving them orphans old results."""

from __future__ import annotations

from pathlib import Path

SPLITS = ("train", "validation", "test")


def face_store_dir(params: dict, dataset: str) -> Path:
    """data/faces/<dataset>/: one sub-folder per split (images.npy, index.csv) and manifest.json."""
    return Path(params["paths"]["faces"]) / dataset


def run_dir(params: dict, dataset: str, model: str, seed: int) -> Path:
    return Path(params["paths"]["results"]) / "runs" / dataset / model / f"seed_{seed}"


def dense_dir(params: dict, dataset: str, model: str, seed: int) -> Path:
    """init.pt (θ0), rewind.pt (θk), final.pt, metrics.json, history.csv."""
    return run_dir(params, dataset, model, seed) / "dense"


def level_name(level: int) -> str:
    return f"level_{level:02d}"


def level_dir(params: dict, dataset: str, model: str, seed: int, method: str, level: int) -> Path:
    """mask.pt, final.pt, metrics.json of one pruning level of one method."""
    return run_dir(params, dataset, model, seed) / method / level_name(level)


def transfer_dir(params: dict, source: str, target: str, model: str, seed: int, method: str, level: int) -> Path:
    return (
        Path(params["paths"]["results"]) / "transfer" / f"{source}__to__{target}" / model
        / f"seed_{seed}" / method / level_name(level)
    )


def gradcam_dir(params: dict, dataset: str, model: str) -> Path:
    return Path(params["paths"]["results"]) / "gradcam" / dataset / model
