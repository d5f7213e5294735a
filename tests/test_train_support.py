"""Helpers for the training, lottery and transfer tests: tiny real face stores and params in tmp_path.

Imported by test_train*.py, test_lottery*.py and test_transfer.py; it holds no tests itself.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch

from deepfake_lth.config import validate_params
from deepfake_lth.data.face_store import FaceStoreWriter

IMAGES_PER_SPLIT = 40


@contextlib.contextmanager
def single_thread():
    """Tiny models train several times faster on one thread than on two busy cores; restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def one_thread():
    """Each test of a module that imports this fixture runs on one torch thread."""
    with single_thread():
        yield


FRAMES_PER_GROUP = 2


def write_face_store(faces_root: Path, dataset: str, image_size: int = 32, seed: int = 0,
                     n: int = IMAGES_PER_SPLIT) -> None:
    """A learnable face store: fakes have a brighter left half; two frames per group ("video")."""
    rng = np.random.default_rng(seed)
    for split in ("train", "validation", "test"):
        writer = FaceStoreWriter(faces_root / dataset / split, n, image_size)
        for i in range(n):
            label = (i // FRAMES_PER_GROUP) % 2
            image = rng.integers(0, 140, (image_size, image_size, 3), dtype=np.uint8)
            if label:
                image[:, : image_size // 2] += 100
            writer.add(image, label, f"{split}_video{i // FRAMES_PER_GROUP}", f"{split}/{i}.png")
        writer.close()


def make_params(tmp_path: Path, datasets=("tiny",), image_size: int = 32, models=("mesonet",),
                training: dict | None = None, pruning: dict | None = None) -> dict:
    """Validated params whose face stores (written here) and results live under tmp_path."""
    faces = tmp_path / "faces"
    for i, name in enumerate(datasets):
        if not (faces / name).exists():
            write_face_store(faces, name, image_size, seed=i)
    raw = {
        "paths": {"faces": str(faces), "results": str(tmp_path / "results"), "raw": str(tmp_path / "raw")},
        "device": "cpu",
        "datasets": {
            name: {"adapter": "synthetic", "root": str(tmp_path / "raw" / name), "synthetic": {"domain": "gan"}}
            for name in datasets
        },
        "models": list(models),
        "training": {"max_epochs": 2, "batch_size": 16, "num_workers": 0, "learning_rate": 1e-3,
                     **(training or {})},
        "pruning": {"levels": 8, **(pruning or {})},
    }
    return validate_params(raw)
