"""derive_splits: splits a dataset does not ship, drawn from one it does, for every adapter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from deepfake_lth.config import ConfigError, validate_params
from deepfake_lth.data.derive import draw_groups
from deepfake_lth.data.demo import generate_demo
from deepfake_lth.data.extract import extract_faces, extract_with_parts
from deepfake_lth.data.face_store import FaceStore
from deepfake_lth.errors import InputError
from deepfake_lth.io import read_json
from deepfake_lth.plan import training_faces
from test_data_faceforensics import DEEPFAKES, FRAMES, ORIGINALS
from test_data_faceforensics import build_tree as build_ffpp_tree
from test_data_faceforensics import make_params as ffpp_params
from test_data_imagefolder import write_image
from test_data_openforensics import build_split as build_openforensics_split
from test_data_openforensics import LAYOUT as OPENFORENSICS_LAYOUT

SPLITS = ("train", "validation", "test")
VIDEO_REGEX = r"^(?P<group>.+)_\d+$"
CLASSES = {"real": "real", "fake": "fake"}


def make_params(tmp_path: Path, dataset: dict) -> dict:
    return validate_params({
        "paths": {"raw": str(tmp_path / "raw"), "faces": str(tmp_path / "faces"), "results": str(tmp_path / "results")},
        "datasets": {"ds": dataset}, "models": ["mesonet"], "faces": {"image_size": 16},
    })


def write_videos(folder: Path, prefix: str, videos: int, frames: int = 2) -> None:
    """`videos` groups of `frames` images named <prefix><video>_<frame>.png, each video its own colour."""
    for video in range(videos):
        for frame in range(frames):
            write_image(folder / f"{prefix}{video:02d}_{frame}.png", (8 * video, 100 + frame, 50), size=(16, 16))


def train_test_tree(root: Path, videos: int = 20) -> None:
    """A download with train/ and test/ only: `videos` two-frame videos per class in each."""
    for split in ("train", "test"):
        for class_key in CLASSES:
            write_videos(root / split / class_key, f"{split}_{class_key}_", videos)


def derived_validation(fraction: float = 0.2, seed: int = 0, **more) -> dict:
    return {"validation": {"from": "train", "fraction": fraction, "seed": seed}, **more}


def imagefolder(root: Path, derive: dict, splits: dict | None = None) -> dict:
    return {"adapter": "imagefolder", "root": str(root), "classes": CLASSES, "group_regex": VIDEO_REGEX,
            "splits": splits if splits is not None else {"train": "train", "test": "test"}, "derive_splits": derive}


def stores(out: Path) -> dict[str, FaceStore]:
    return {split: FaceStore(out / split) for split in SPLITS}


def assert_disjoint_groups_with_both_classes(out: Path, splits=SPLITS) -> None:
    seen: dict[str, str] = {}
    for split in splits:
        store = FaceStore(out / split)
        assert set(store.labels) == {0, 1}, split
        for group in set(store.groups):
            assert seen.setdefault(group, split) == split, f"group {group} in {seen[group]} and {split}"


def test_validation_drawn_from_train_of_a_train_test_download(tmp_path):
    root = tmp_path / "raw" / "tt"
    train_test_tree(root)
    out = extract_faces(make_params(tmp_path, imagefolder(root, derived_validation())), "ds")
    assert_disjoint_groups_with_both_classes(out)
    store = stores(out)
    # a fifth of each class (ceil(0.2 x 40) = 8 faces = 4 two-frame videos), the rest stays in train
    assert list(np.bincount(store["validation"].labels)) == [8, 8]
    assert list(np.bincount(store["train"].labels)) == [32, 32]
    assert len(store["test"]) == 80
    moved = set(store["validation"].index["source"]) | set(store["train"].index["source"])
    assert moved == {f"train/{c}/train_{c}_{v:02d}_{f}.png" for c in CLASSES for v in range(20) for f in range(2)}
    # each face keeps its pixels through the copy out of the whole-train store
    first = store["validation"].index["source"][0]
    assert store["validation"].read(0)[0].shape == (16, 16, 3) and first.startswith("train/")
    manifest = read_json(out / "manifest.json")["splits"]
    assert manifest["validation"]["derived"] == {
        "from": "train", "fraction": 0.2, "seed": 0, "groups": sorted(set(store["validation"].groups))}
    assert manifest["validation"]["n"] == 16 and manifest["train"]["n"] == 64 and "derived" not in manifest["train"]
    assert not any(p.name.startswith(".") for p in out.iterdir())  # the whole-train store is gone


def test_same_seed_same_draw_another_seed_another(tmp_path):
    root = tmp_path / "raw" / "tt"
    train_test_tree(root)

    def validation_groups(seed: int, name: str) -> set[str]:
        params = make_params(tmp_path / name, imagefolder(root, derived_validation(seed=seed)))
        return set(FaceStore(extract_faces(params, "ds") / "validation").groups)

    assert validation_groups(0, "a") == validation_groups(0, "b")
    assert validation_groups(0, "a") != validation_groups(1, "c")


def test_one_folder_per_class_gives_all_three_splits(tmp_path):
    root = tmp_path / "raw" / "flat"
    for class_key in CLASSES:
        write_videos(root / class_key, f"{class_key}_", 10, frames=3)
    derive = derived_validation(0.2, test={"from": "train", "fraction": 0.2, "seed": 1})
    out = extract_faces(make_params(tmp_path, imagefolder(root, derive, splits={"train": "."})), "ds")
    assert_disjoint_groups_with_both_classes(out)
    counts = {split: len(store) for split, store in stores(out).items()}
    assert counts == {"train": 36, "validation": 12, "test": 12}  # ceil(0.2 x 30) = 6 faces = 2 videos per class
    assert read_json(out / "manifest.json")["splits"]["test"]["derived"]["seed"] == 1


def test_draws_are_per_class_and_whole_groups_of_mixed_groups_too():
    labels = np.array([0, 1] * 10 + [0] * 6 + [1] * 6)
    groups = np.array([f"photo{i // 2}" for i in range(20)] + [f"r{i}" for i in range(6)] + [f"f{i}" for i in range(6)])
    drawn = draw_groups(labels, groups, {"test": {"fraction": 0.5, "seed": 3}})["test"]
    assert sum(g.startswith("photo") for g in drawn) == 5  # half of the mixed photos, whole
    assert sum(g.startswith("r") for g in drawn) == 3 and sum(g.startswith("f") for g in drawn) == 3
    # the order of the faces does not change the draw
    order = np.random.default_rng(0).permutation(len(labels))
    assert draw_groups(labels[order], groups[order], {"test": {"fraction": 0.5, "seed": 3}})["test"] == drawn


def test_openforensics_test_split_drawn_from_train(tmp_path, fixtures_dir):
    root = tmp_path / "raw" / "OpenForensics"
    build_openforensics_split(root, fixtures_dir, "train")
    build_openforensics_split(root, fixtures_dir, "validation")
    train = root / OPENFORENSICS_LAYOUT["annotations"]["train"]
    coco = json.loads(train.read_text())  # two more photos, copies of the two: a mixed and a fake-only one
    for image in list(coco["images"]):
        shutil.copy(root / "Train" / image["file_name"], root / "Train" / f"copy_{image['file_name']}")
        coco["images"].append({**image, "id": image["id"] + 10, "file_name": f"copy_{image['file_name']}"})
    coco["annotations"] += [{**a, "id": a["id"] + 10, "image_id": a["image_id"] + 10} for a in list(coco["annotations"])]
    train.write_text(json.dumps(coco))
    layout = {key: {s: v for s, v in folders.items() if s != "test"} for key, folders in OPENFORENSICS_LAYOUT.items()}
    params = make_params(tmp_path, {"adapter": "openforensics", "root": str(root), **layout,
                                    "derive_splits": {"test": {"from": "train", "fraction": 0.5}}})
    out = extract_faces(params, "ds")
    assert_disjoint_groups_with_both_classes(out, ("train", "test"))  # the fixture's validation reuses train's names
    test = FaceStore(out / "test")
    assert len(test) == 3 and len(set(test.groups)) == 2  # one mixed photo (its real and fake face) and one fake photo


def test_faceforensics_partial_download_with_validation_drawn_from_train(tmp_path, fixtures_dir):
    root = tmp_path / "raw" / "FaceForensics++"
    build_ffpp_tree(root, fixtures_dir)  # train.json pair ["071", "054"]: add 054 and 054_071
    (root / ORIGINALS / "054.mp4").symlink_to(fixtures_dir / "videos" / "demo_real.mp4")
    (root / DEEPFAKES / "054_071.mp4").symlink_to(fixtures_dir / "videos" / "demo_fake.mp4")
    params = ffpp_params(tmp_path, root, split_files={"train": "splits/train.json", "test": "splits/test.json"},
                         derive_splits={"validation": {"from": "train", "fraction": 0.5, "seed": 0}})
    out = extract_with_parts(params, "ffpp")  # the tree's parts (each a face_part job), then the store
    assert_disjoint_groups_with_both_classes(out)
    manifest = read_json(out / "manifest.json")["splits"]
    assert len(manifest["validation"]["derived"]["groups"]) == 2 and manifest["validation"]["n"] == 2 * FRAMES
    assert manifest["train"]["n"] == 2 * FRAMES
    # the videos train.json names but the download lacks stay counted skips of the split they were read for
    assert manifest["train"]["skipped"]["missing video"] > 0 and manifest["validation"]["skipped"] == {}


def test_synthetic_demo_with_a_derived_validation_split(tmp_path):
    params = make_params(tmp_path, {
        "adapter": "synthetic", "root": str(tmp_path / "raw" / "demo"),
        "synthetic": {"domain": "gan", "images_per_class": {"train": 20, "test": 4}, "image_size": 32},
        "derive_splits": derived_validation(0.25),
    })
    assert training_faces(params, "ds") == (40, "generated, before derive_splits draws from it")
    generate_demo(params, "ds")
    assert sorted(p.name for p in (tmp_path / "raw" / "demo").iterdir() if p.is_dir()) == ["test", "train"]
    out = extract_faces(params, "ds")
    assert_disjoint_groups_with_both_classes(out, ("train", "validation"))  # the generator names videos per split
    assert len(FaceStore(out / "validation")) == 10
    assert training_faces(params, "ds") == (30, "face store")


@pytest.mark.parametrize("derive, splits, key", [
    (derived_validation(0.0), None, "datasets.ds.derive_splits.validation.fraction"),
    (derived_validation(1.0), None, "datasets.ds.derive_splits.validation.fraction"),
    (derived_validation(), {"train": "train", "validation": "train", "test": "test"}, "datasets.ds.derive_splits.validation"),
    ({}, None, "datasets.ds.splits"),
    (derived_validation(test={"from": "validation", "fraction": 0.2}), {"train": "train"},
     "datasets.ds.derive_splits.test.from"),
    (derived_validation(0.5, test={"from": "train", "fraction": 0.5}), {"train": "train"}, "datasets.ds.derive_splits"),
    ({"train": {"from": "test", "fraction": 0.5}}, {"validation": "v", "test": "t"}, "datasets.ds.derive_splits"),
])
def test_bad_derive_splits_name_the_key(tmp_path, derive, splits, key):
    with pytest.raises(ConfigError, match=f"key '{key}'"):
        make_params(tmp_path, imagefolder(tmp_path, derive, splits))


def test_a_derived_split_with_one_class_names_the_key(tmp_path):
    root = tmp_path / "raw" / "few"
    write_videos(root / "train" / "real", "r", 6)
    write_videos(root / "train" / "fake", "f", 1)  # one fake video: the validation draw takes it, test gets none
    derive = derived_validation(0.5, test={"from": "train", "fraction": 0.2})
    with pytest.raises(InputError, match=r"key 'datasets\.ds\.derive_splits\.test'.*0 fake"):
        extract_faces(make_params(tmp_path, imagefolder(root, derive, splits={"train": "train"})), "ds")
    assert not (tmp_path / "faces" / "ds").exists()  # nothing half-written


def test_a_draw_that_leaves_the_source_one_class_names_the_key(tmp_path):
    root = tmp_path / "raw" / "few"
    write_videos(root / "train" / "real", "r", 6)
    write_videos(root / "train" / "fake", "f", 1)
    write_videos(root / "test" / "real", "tr", 1)
    write_videos(root / "test" / "fake", "tf", 1)
    with pytest.raises(InputError, match=r"key 'datasets\.ds\.derive_splits'.*train split would hold 8 real and 0 fake"):
        extract_faces(make_params(tmp_path, imagefolder(root, derived_validation(0.2))), "ds")
