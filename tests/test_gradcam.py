"""Grad-CAM stage on a tiny face store with a real CNN-5 and an 80%-pruned copy of it: map sizes, dense
vs pruned maps, released hooks, the seeded sample, and the JSON numbers recomputed from the maps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from deepfake_lth.config import validate_params
from deepfake_lth.data.face_store import FaceDataset, FaceStore, FaceStoreWriter
from deepfake_lth.errors import InputError
from deepfake_lth.explain.gradcam import (
    compute_maps,
    load_model,
    map_change,
    rank_correlation,
    run_gradcam,
    sample_faces,
    target_layers,
)
from deepfake_lth.io import save_tensors, write_json
from deepfake_lth.models.registry import MODEL_NAMES, build_model, prunable_parameter_names
from deepfake_lth.paths import dense_dir, face_store_dir, gradcam_dir, level_dir

SIZE = 64
RUN_SEED = 3
CPU = torch.device("cpu")


def make_params(root: Path) -> dict:
    return validate_params({
        "paths": {"raw": str(root / "raw"), "faces": str(root / "faces"), "results": str(root / "results")},
        "device": "cpu",
        "datasets": {"tiny": {"adapter": "synthetic", "root": str(root / "raw"), "synthetic": {"domain": "gan"}}},
        "faces": {"image_size": SIZE},
        "models": ["cnn5"],
        "seeds": [RUN_SEED, 9],
        "gradcam": {"models": ["cnn5"], "method": "imp_global", "sparsities": [0.8], "images_per_class": 2, "seed": 5},
    })


def write_face_store(split_dir: Path, n_per_class: int = 5) -> None:
    """Real faces: smooth gradients; fake faces: the same with a bright blocky patch."""
    rng = np.random.default_rng(0)
    writer = FaceStoreWriter(split_dir, 2 * n_per_class, SIZE)
    ramp = np.linspace(40, 200, SIZE, dtype=np.float32)
    for i in range(2 * n_per_class):
        label = i % 2
        face = np.empty((SIZE, SIZE, 3), np.float32)
        face[..., 0], face[..., 1], face[..., 2] = ramp[None, :], ramp[:, None], 120.0
        face += rng.normal(0, 12, face.shape)
        if label:
            y, x = rng.integers(4, SIZE - 24, 2)
            face[y:y + 20, x:x + 20] = 250
        writer.add(np.clip(face, 0, 255).astype(np.uint8), label, f"video{i}", f"tiny/{i}.png")
    writer.close()


def prune_conv_weights(state: dict, names: list[str], fraction: float) -> tuple[dict, float]:
    """Zero the `fraction` smallest-magnitude conv weights (one global threshold); return the measured sparsity."""
    conv = [n for n in names if state[n].dim() == 4]
    magnitudes = torch.cat([state[n].abs().flatten() for n in conv])
    threshold = magnitudes.kthvalue(int(fraction * magnitudes.numel())).values
    pruned = {k: (v * (v.abs() > threshold) if k in conv else v.clone()) for k, v in state.items()}
    zeros = sum(int((pruned[n] == 0).sum()) for n in names)
    return pruned, zeros / sum(state[n].numel() for n in names)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("gradcam")
    params = make_params(root)
    write_face_store(face_store_dir(params, "tiny") / "test")
    torch.manual_seed(0)
    dense = build_model("cnn5", SIZE).state_dict()
    pruned, sparsity = prune_conv_weights(dense, prunable_parameter_names(build_model("cnn5", SIZE)), 0.8)
    dense_folder = dense_dir(params, "tiny", "cnn5", RUN_SEED)
    level_folder = level_dir(params, "tiny", "cnn5", RUN_SEED, "imp_global", 7)
    save_tensors(dense_folder / "final.pt", dense)
    write_json(dense_folder / "metrics.json", {"stage": "dense", "level": 0, "nominal_sparsity": 0.0, "sparsity": 0.0})
    save_tensors(level_folder / "final.pt", pruned)
    write_json(level_folder / "metrics.json", {"stage": "prune", "level": 7, "nominal_sparsity": 0.79, "sparsity": sparsity})
    record = run_gradcam(params, "tiny", "cnn5")
    return params, record, sparsity


def sampled_batch(params: dict, record: dict):
    store = FaceStore(face_store_dir(params, "tiny") / "test")
    faces = FaceDataset(store, params["normalization"]["mean"], params["normalization"]["std"])
    indices = [image["index"] for image in record["images"]]
    return store, torch.stack([faces[i][0] for i in indices]), store.labels[indices]


def maps_of(params: dict, record: dict, level: int):
    _, images, labels = sampled_batch(params, record)
    checkpoint = next(lv["checkpoint"] for lv in record["levels"] if lv["level"] == level)
    model = load_model("cnn5", SIZE, Path(checkpoint), CPU)
    return compute_maps(model, target_layers("cnn5", model), images, labels)


def test_outputs_are_written(study):
    params, record, _ = study
    folder = gradcam_dir(params, "tiny", "cnn5")
    for name in ("gradcam.json", "gradcam.png", "gradcam.pdf"):
        assert (folder / name).stat().st_size > 500, name
    assert not list(folder.glob("*.tmp"))
    assert json.loads((folder / "gradcam.json").read_text())["levels"][1]["mean_map_change_frobenius"] == pytest.approx(
        record["levels"][1]["mean_map_change_frobenius"])


def test_levels_sample_and_provenance(study):
    params, record, sparsity = study
    assert [lv["level"] for lv in record["levels"]] == [0, 7]
    assert record["levels"][1]["sparsity"] == pytest.approx(sparsity) and sparsity == pytest.approx(0.8, abs=0.01)
    assert record["levels"][0]["checkpoint"].endswith(f"seed_{RUN_SEED}/dense/final.pt")
    store = FaceStore(face_store_dir(params, "tiny") / "test")
    labels = [image["label"] for image in record["images"]]
    assert labels == [0, 0, 1, 1]
    assert all(store.labels[image["index"]] == image["label"] for image in record["images"])
    assert all(image["source"] == f"tiny/{image['index']}.png" for image in record["images"])
    assert record["target_layers"] == ["features.4.2"] and record["sample_seed"] == 5 and record["run_seed"] == RUN_SEED
    assert record["map_shape"] == [SIZE, SIZE]


def test_maps_have_the_input_size_and_differ_between_dense_and_pruned(study):
    params, record, _ = study
    dense_maps, dense_probs = maps_of(params, record, 0)
    pruned_maps, pruned_probs = maps_of(params, record, 7)
    assert dense_maps.shape == pruned_maps.shape == (4, SIZE, SIZE)
    assert dense_maps.min() >= 0 and dense_maps.max() <= 1 + 1e-6
    assert not np.allclose(dense_maps, pruned_maps, atol=1e-3)
    assert not np.allclose(dense_probs, pruned_probs)


def test_json_numbers_are_recomputed_from_the_maps(study):
    params, record, _ = study
    dense_maps, dense_probs = maps_of(params, record, 0)
    pruned_maps, pruned_probs = maps_of(params, record, 7)
    changes, rhos = [], []
    for n, image in enumerate(record["images"]):
        dense_entry, pruned_entry = image["levels"]
        change = float(np.sqrt(((pruned_maps[n].astype(np.float64) - dense_maps[n]) ** 2).sum()))
        assert pruned_entry["map_change_frobenius"] == pytest.approx(change, rel=1e-5, abs=1e-6)
        assert pruned_entry["map_change_rms"] == pytest.approx(change / SIZE, rel=1e-5, abs=1e-8)
        assert dense_entry["map_change_frobenius"] == 0.0
        assert pruned_entry["probability_fake"] == pytest.approx(pruned_probs[n], abs=1e-6)
        assert dense_entry["probability_fake"] == pytest.approx(dense_probs[n], abs=1e-6)
        assert pruned_entry["predicted"] == int(pruned_probs[n] >= 0.5)
        changes.append(change)
        rhos.append(pruned_entry["spearman"])
    level = record["levels"][1]
    assert level["mean_map_change_frobenius"] == pytest.approx(np.mean(changes), rel=1e-5)
    defined = [r for r in rhos if r is not None]
    assert defined and level["mean_spearman"] == pytest.approx(np.mean(defined), rel=1e-6)
    labels = np.array([image["label"] for image in record["images"]])
    assert level["sample_accuracy"] == pytest.approx(np.mean((pruned_probs >= 0.5) == labels))


def test_cam_hooks_are_released():
    torch.manual_seed(1)
    model = build_model("cnn5", SIZE).eval()
    layers = target_layers("cnn5", model)
    maps, _ = compute_maps(model, layers, torch.randn(2, 3, SIZE, SIZE), np.array([0, 1]))
    assert maps.shape == (2, SIZE, SIZE)
    for name, module in model.named_modules():
        assert not module._forward_hooks and not module._backward_hooks and not module._forward_pre_hooks, name


def test_real_faces_are_explained_by_the_real_decision():
    torch.manual_seed(2)
    model = build_model("cnn5", SIZE).eval()
    images = torch.randn(1, 3, SIZE, SIZE)
    as_real, _ = compute_maps(model, target_layers("cnn5", model), images, np.array([0]))
    as_fake, _ = compute_maps(model, target_layers("cnn5", model), images, np.array([1]))
    assert not np.allclose(as_real, as_fake, atol=1e-3)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_registered_model_has_a_target_layer(name):
    torch.manual_seed(0)
    model = build_model(name, SIZE).eval()
    layers = target_layers(name, model)
    last_block = {"resnet18": lambda: model.layer4[-1], "xception": lambda: model.act4}.get(name, lambda: model.features[-1])()
    assert any(layers[0] is m for m in last_block.modules())
    maps, probabilities = compute_maps(model, layers, torch.randn(2, 3, SIZE, SIZE), np.array([0, 1]))
    assert maps.shape == (2, SIZE, SIZE) and probabilities.shape == (2,)


def test_unknown_model_has_no_target_layer():
    with pytest.raises(ValueError, match="no Grad-CAM target layer"):
        target_layers("efficientnet", torch.nn.Linear(1, 1))


def test_the_sample_is_seeded_real_first(tmp_path):
    write_face_store(tmp_path / "test")
    store = FaceStore(tmp_path / "test")
    first = sample_faces(store, 2, seed=5)
    assert list(first) == list(sample_faces(store, 2, seed=5))
    assert list(store.labels[first]) == [0, 0, 1, 1]
    assert any(list(sample_faces(store, 2, seed=s)) != list(first) for s in range(6, 10))
    assert len(sample_faces(store, 50, seed=5)) == 10  # a short class contributes what it has


def test_a_class_without_faces_is_an_input_error(tmp_path):
    writer = FaceStoreWriter(tmp_path / "test", 2, SIZE)
    for i in range(2):
        writer.add(np.zeros((SIZE, SIZE, 3), np.uint8), 1, f"v{i}", f"{i}.png")
    writer.close()
    with pytest.raises(InputError, match="no real faces"):
        sample_faces(FaceStore(tmp_path / "test"), 2, seed=0)


def test_map_comparisons():
    a = np.arange(16, dtype=np.float32).reshape(4, 4) / 15
    assert map_change(a, a) == 0.0
    assert map_change(a, np.zeros_like(a)) == pytest.approx(np.linalg.norm(a))
    assert rank_correlation(a, a[::-1, ::-1]) == pytest.approx(-1.0)
    assert rank_correlation(a, np.zeros_like(a)) is None
