"""Grad-CAM (pytorch-grad-cam) of a dense model and its pruned levels on a fixed, seeded sample of test faces.

The target is the true class of each face: the +logit for a fake, the -logit for a real one (the
model has one logit, positive meaning fake), so a real face's map explains the decision "real".
Maps are scaled to [0, 1] per face (pytorch-grad-cam's convention) and have the input's size.
The paper's change of attention is the Frobenius norm of (pruned map - dense map).
"""

from __future__ import annotations

import logging
import math
from importlib.metadata import version as package_version
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import BinaryClassifierOutputTarget
from scipy.stats import spearmanr
from torch import nn

from deepfake_lth import __version__, stages
from deepfake_lth.device import choose_device, use_torch_threads
from deepfake_lth.errors import InputError
from deepfake_lth.explain.grid import LABEL_NAMES, column_titles, plot_gradcam_grid
from deepfake_lth.io import atomic_path
from deepfake_lth.data.face_store import FaceDataset, FaceStore
from deepfake_lth.models.registry import build_model, load_weights, model_names, model_spec
from deepfake_lth.records import GradcamRecord, read_metrics

log = logging.getLogger(__name__)

TARGET_DESCRIPTION = "true class: +logit for fake faces, -logit for real faces"


def target_layers(model_name: str, model: nn.Module) -> list[nn.Module]:
    """The layers whose activations Grad-CAM weighs: the rule of the model's registry entry
    (PAPER.md's default: the last conv block)."""
    if model_name not in model_names():
        raise ValueError(f"no Grad-CAM target layer known for model '{model_name}' (known: {', '.join(model_names())})")
    return model_spec(model_name).target_layer(model)


def sample_faces(store: FaceStore, per_class: int, seed: int) -> np.ndarray:
    """Indices of `per_class` real then `per_class` fake faces, drawn without replacement for `seed`.

    A class with fewer faces contributes all it has (logged); a class with none is an InputError.
    """
    rng = np.random.default_rng(seed)
    chosen = []
    for label, name in enumerate(LABEL_NAMES):
        candidates = np.flatnonzero(store.labels == label)
        if len(candidates) == 0:
            raise InputError(f"{store.split_dir}: no {name} faces to explain")
        if len(candidates) < per_class:
            log.warning("%s: only %d %s faces, fewer than gradcam.images_per_class=%d",
                        store.split_dir, len(candidates), name, per_class)
        take = min(per_class, len(candidates))
        chosen.extend(sorted(rng.choice(candidates, size=take, replace=False).tolist()))
    return np.asarray(chosen, dtype=np.int64)


def load_model(model_name: str, image_size: int, checkpoint: Path, device: torch.device) -> nn.Module:
    """The registry's model with a checkpoint's state_dict (pruned weights are exact zeros), in eval mode."""
    model = build_model(model_name, image_size, weights=None)
    load_weights(model, Path(checkpoint))
    return model.to(device).eval()


def compute_maps(model: nn.Module, layers: list[nn.Module], images: torch.Tensor, labels: np.ndarray):
    """Grad-CAM maps (N x H x W, in [0, 1]) for the true classes, and the fake probabilities (N).

    One GradCAM object per call, its hooks released on exit.
    """
    images = images.to(next(model.parameters()).device)
    targets = [BinaryClassifierOutputTarget(int(label)) for label in labels]
    with GradCAM(model=model, target_layers=layers) as cam:
        maps = cam(input_tensor=images, targets=targets)
    with torch.no_grad():
        probabilities = torch.sigmoid(model(images)).reshape(-1).cpu().numpy()
    return maps.astype(np.float32), probabilities.astype(np.float64)


def map_change(pruned: np.ndarray, dense: np.ndarray) -> float:
    """The paper's change of attention: the Frobenius norm of (pruned map - dense map)."""
    return float(np.linalg.norm(pruned.astype(np.float64) - dense.astype(np.float64)))


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rho between two maps' pixels; None when either map is constant (undefined)."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a.ravel(), b.ravel()).statistic)


def explained_levels(params: dict, job: stages.Job) -> list[dict]:
    """The runs the Grad-CAM job reads (the first seed's dense run, then its gradcam.method levels
    nearest gradcam.sparsities), each with its checkpoint and, from its metrics.json, its level and
    measured sparsity."""
    levels = []
    for checkpoint, metrics_file in zip(job.inputs["checkpoints"], job.inputs["metrics"]):
        metrics = read_metrics(metrics_file, required=("level", "sparsity"))
        level = int(metrics.level)
        levels.append({
            "level": level, "method": params["gradcam"]["method"] if level else "dense",
            "checkpoint": str(checkpoint),
            "nominal_sparsity": float(metrics.nominal_sparsity or 0.0),
            "sparsity": float(metrics.sparsity),
        })
    return levels


def run_gradcam(params: dict, dataset: str, model: str) -> dict:
    """Grad-CAM stage: from the inputs of its job in the stage table, write its outputs gradcam.json,
    gradcam.png and gradcam.pdf; return the record."""
    job = stages.gradcam_job(params, dataset, model)
    image_size = params["faces"]["image_size"]
    store = FaceStore(job.inputs["faces"] / "test")
    if store.images.shape[1:3] != (image_size, image_size):
        raise InputError(f"{store.split_dir}: faces of {store.images.shape[1]} px, params faces.image_size is {image_size}")
    indices = sample_faces(store, params["gradcam"]["images_per_class"], params["gradcam"]["seed"])
    faces_dataset = FaceDataset(store, params["normalization"]["mean"], params["normalization"]["std"])
    images = torch.stack([faces_dataset[int(i)][0] for i in indices])
    labels = store.labels[indices]
    device = choose_device(params.get("device", "auto"))
    use_torch_threads(params)
    levels = explained_levels(params, job)

    maps, probabilities, layer_names = [], [], []
    for level in levels:
        network = load_model(model, image_size, Path(level["checkpoint"]), device)
        layers = target_layers(model, network)
        layer_names = [_module_name(network, layer) for layer in layers]
        level_maps, level_probabilities = compute_maps(network, layers, images, labels)
        maps.append(level_maps)
        probabilities.append(level_probabilities)
        log.info("%s/%s level %d: %d maps", dataset, model, level["level"], len(level_maps))
        if all(np.ptp(m) == 0 for m in level_maps):
            log.warning("%s/%s level %d: every map is constant (target layer too coarse at %d px, or zero gradients)",
                        dataset, model, level["level"], image_size)
    maps, probabilities = np.stack(maps), np.stack(probabilities)

    record = gradcam_record(params, dataset, model, store, indices, labels, levels, maps, probabilities,
                            target_layers=layer_names, device=str(device))
    faces = store.read(indices)
    figures = {fmt: path for fmt, path in job.outputs.items() if fmt != "record"}  # png, pdf
    write_gradcam_figure(figures, faces, maps, labels, probabilities, levels,
                         f"Grad-CAM · {dataset} · {model} (seed {params['seeds'][0]}; target: true class)")
    record.write(job.outputs["record"])
    return record.to_dict()


def gradcam_record(params, dataset, model, store, indices, labels, levels, maps, probabilities, *,
                   target_layers: list[str], device: str) -> GradcamRecord:
    """gradcam.json's record: per face and level the fake probability, the map change to dense and
    Spearman's rho to dense; per level their means; and what produced them."""
    images = []
    for n, index in enumerate(indices):
        row = store.index.iloc[int(index)]
        images.append({
            "index": int(index), "source": str(row["source"]), "group": str(row["group"]),
            "label": int(labels[n]), "label_name": LABEL_NAMES[int(labels[n])],
            "levels": [_face_numbers(level, maps[k, n], maps[0, n], probabilities[k, n])
                       for k, level in enumerate(levels)],
        })
    summaries = []
    for k, level in enumerate(levels):
        per_face = [image["levels"][k] for image in images]
        rhos = [f["spearman"] for f in per_face if f["spearman"] is not None]
        summaries.append({
            **level,
            "mean_map_change_frobenius": float(np.mean([f["map_change_frobenius"] for f in per_face])),
            "mean_map_change_rms": float(np.mean([f["map_change_rms"] for f in per_face])),
            "mean_spearman": float(np.mean(rhos)) if rhos else None,
            "sample_accuracy": float(np.mean([f["predicted"] == image["label"] for f, image in zip(per_face, images)])),
        })
    return GradcamRecord(
        dataset=dataset, model=model, method=params["gradcam"]["method"],
        run_seed=params["seeds"][0], sample_seed=params["gradcam"]["seed"],
        split="test", face_store=str(store.split_dir), target=TARGET_DESCRIPTION, target_layers=target_layers,
        map_shape=list(maps.shape[2:]), map_scaling="min-max to [0, 1] per face and model",
        levels=summaries, images=images,
        params={
            "gradcam": params["gradcam"], "normalization": params["normalization"],
            "image_size": params["faces"]["image_size"], "seeds": params["seeds"],
            "pruning": {k: params["pruning"][k] for k in ("rate", "rate_of", "levels")},
        },
        device=device,
        version=__version__,
        grad_cam_version=package_version("grad-cam"),
    )


def _face_numbers(level: dict, pruned_map: np.ndarray, dense_map: np.ndarray, probability_fake: float) -> dict:
    change = map_change(pruned_map, dense_map)
    return {
        "level": level["level"],
        "probability_fake": float(probability_fake),
        "predicted": int(probability_fake >= 0.5),
        "map_change_frobenius": change,
        "map_change_rms": change / math.sqrt(pruned_map.size),
        "spearman": rank_correlation(pruned_map, dense_map),
    }


def write_gradcam_figure(files: dict[str, Path], faces, maps, labels, probabilities, levels, title: str) -> list[Path]:
    """The grid figure into `files` (format -> path), each written atomically."""
    method = next((level["method"] for level in levels if level["level"]), "dense")
    figure = plot_gradcam_grid(faces, maps, labels, probabilities, column_titles(levels, method), title)
    paths = []
    try:
        for fmt, path in files.items():
            with atomic_path(path) as tmp:
                figure.savefig(tmp, format=fmt, dpi=150, metadata={"CreationDate": None} if fmt == "pdf" else {})
            paths.append(path)
    finally:
        plt.close(figure)
    return paths


def _module_name(model: nn.Module, layer: nn.Module) -> str:
    return next(name for name, module in model.named_modules() if module is layer)
