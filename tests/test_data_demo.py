"""The synthetic demo generator: layout, determinism, the two domains' artefacts, and its face store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepfake_lth.config import validate_params
from deepfake_lth.data.demo import generate_demo
from deepfake_lth.data.extract import extract_faces
from deepfake_lth.data.face_store import FaceStore
from deepfake_lth.data.media import read_image_rgb
from deepfake_lth.errors import InputError
from deepfake_lth.io import read_json

COUNTS = {"train": 8, "validation": 4, "test": 6}


def make_params(tmp_path: Path, domain: str = "swap", seed: int = 5, root: str = "demo", counts=COUNTS) -> dict:
    synthetic = {"domain": domain, "images_per_class": counts, "image_size": 48, "seed": seed}
    if domain == "swap":
        synthetic["frames_per_video"] = 4  # not the default 2: the layout tests below count on 4
    return validate_params({
        "paths": {"raw": str(tmp_path / "raw"), "faces": str(tmp_path / "faces"), "results": str(tmp_path / "results")},
        "datasets": {"demo": {"adapter": "synthetic", "root": str(tmp_path / "raw" / root),
                              "synthetic": synthetic}},
        "models": ["mesonet"], "faces": {"image_size": 32},
    })


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def images(root: Path, split: str, class_key: str) -> list[np.ndarray]:
    return [read_image_rgb(p) for p in sorted((root / split / class_key).glob("*.png"))]


@pytest.mark.parametrize("domain", ["gan", "swap"])
def test_imagefolder_layout_with_video_and_frame_in_file_names(tmp_path, domain):
    root = generate_demo(make_params(tmp_path, domain), "demo")
    assert root == tmp_path / "raw" / "demo"
    for split, n in COUNTS.items():
        for class_key in ("real", "fake"):
            names = sorted(p.stem for p in (root / split / class_key).iterdir())
            assert len(names) == n
            assert all(name.rsplit("_", 1)[1].isdigit() for name in names)
    assert read_image_rgb(root / "train" / "real" / "r0000_00.png").shape == (48, 48, 3)
    if domain == "swap":  # videos of 4 frames: the last one is cut short by the count
        assert sorted(p.stem for p in (root / "test" / "fake").iterdir()) == [
            "f0000_00", "f0000_01", "f0000_02", "f0000_03", "f0001_00", "f0001_01"]


def test_swap_videos_have_two_frames_unless_configured(tmp_path):
    params = make_params(tmp_path, "swap")
    del params["datasets"]["demo"]["synthetic"]["frames_per_video"]
    root = generate_demo(params, "demo")
    assert sorted(p.stem for p in (root / "validation" / "real").iterdir()) == [
        "r0000_00", "r0000_01", "r0001_00", "r0001_01"]


def test_same_parameters_give_byte_identical_files(tmp_path):
    first = files(generate_demo(make_params(tmp_path, root="a"), "demo"))
    second = files(generate_demo(make_params(tmp_path, root="b"), "demo"))
    assert len(first) == 2 * sum(COUNTS.values()) + 1 and first == second


def test_another_seed_gives_other_images(tmp_path):
    first = files(generate_demo(make_params(tmp_path, seed=5, root="a"), "demo"))
    second = files(generate_demo(make_params(tmp_path, seed=6, root="b"), "demo"))
    pngs = [name for name in first if name.endswith(".png")]
    assert sum(first[name] != second[name] for name in pngs) == len(pngs)


def test_regenerating_replaces_the_root_whole(tmp_path):
    params = make_params(tmp_path)
    root = generate_demo(params, "demo")
    (root / "train" / "real" / "stale.png").write_bytes(b"old")
    generate_demo(params, "demo")
    assert not (root / "train" / "real" / "stale.png").exists()
    assert [p.name for p in root.parent.iterdir()] == ["demo"]


def checkerboard(image: np.ndarray) -> float:
    """Strength of a fixed 2x2 pixel pattern (an upsampling artefact), relative to brightness."""
    x = image.astype(np.float32)
    pattern = x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]
    return float(np.abs(pattern.mean(axis=(0, 1))).max() / x.mean())


def jpeg_blockiness(image: np.ndarray) -> float:
    """Jumps across 8-pixel block borders relative to jumps inside blocks (1: no JPEG grid)."""
    steps = np.abs(np.diff(image.astype(np.float32).mean(axis=2), axis=1))
    return float(steps[:, 7::8].mean() / steps[:, 3::8].mean())


def test_the_domains_carry_different_artefacts(tmp_path):
    counts = {"train": 24, "validation": 1, "test": 1}
    gan = generate_demo(make_params(tmp_path, "gan", root="gan", counts=counts), "demo")
    swap = generate_demo(make_params(tmp_path, "swap", root="swap", counts=counts), "demo")
    mean = lambda stat, root, c: float(np.mean([stat(i) for i in images(root, "train", c)]))  # noqa: E731
    # gan: the generator's checkerboard is in the fakes only
    assert mean(checkerboard, gan, "fake") > 5 * mean(checkerboard, gan, "real")
    # swap: video compression affects real and fake alike, and the gan domain not at all
    assert mean(jpeg_blockiness, swap, "real") > 1.2 and mean(jpeg_blockiness, swap, "fake") > 1.2
    assert mean(jpeg_blockiness, gan, "real") < 1.15
    assert mean(checkerboard, swap, "fake") < 2 * mean(checkerboard, swap, "real")


def test_frames_of_a_swap_video_belong_together(tmp_path):
    root = generate_demo(make_params(tmp_path, "swap"), "demo")
    frames = images(root, "train", "real")  # videos r0000 (frames 0-3) and r0001 (4-7)
    diff = lambda a, b: float(np.abs(a.astype(np.float32) - b).mean())  # noqa: E731
    within = max(diff(frames[0], frames[i]) for i in (1, 2, 3))
    across = min(diff(frames[0], frames[i]) for i in (4, 5, 6, 7))
    assert within < across


def test_face_store_of_the_demo_groups_frames_by_video(tmp_path):
    params = make_params(tmp_path, "swap")
    generate_demo(params, "demo")
    out = extract_faces(params, "demo")
    store = FaceStore(out / "train")
    assert store.images.shape == (16, 32, 32, 3)
    assert list(store.groups[:8]) == ["r0000"] * 4 + ["r0001"] * 4
    assert list(store.labels) == [0] * 8 + [1] * 8
    manifest = read_json(out / "manifest.json")
    assert manifest["adapter"] == "synthetic" and manifest["splits"]["train"]["n_groups"] == 4
    assert manifest["dataset_params"]["synthetic"]["seed"] == 5


def test_faces_before_demo_generation_says_how_to_generate(tmp_path):
    with pytest.raises(InputError, match=r"synthetic demo data not found \(generate it first: deepfake-lth demo"):
        extract_faces(make_params(tmp_path), "demo")


def test_only_synthetic_datasets_are_generated(tmp_path):
    params = validate_params({
        "datasets": {"kaggle": {"adapter": "imagefolder", "root": str(tmp_path),
                                "splits": {"train": "a", "validation": "b", "test": "c"},
                                "classes": {"real": "r", "fake": "f"}}},
        "models": ["mesonet"],
    })
    with pytest.raises(InputError, match="only synthetic datasets are generated"):
        generate_demo(params, "kaggle")
