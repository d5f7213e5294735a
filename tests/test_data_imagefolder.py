"""The imagefolder adapter on both Kaggle layouts of the paper, the manifest, and bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from deepfake_lth.config import validate_params
from deepfake_lth.data import extract as extract_module
from deepfake_lth.data.detectors import MTCNNDetector, largest_face
from deepfake_lth.data.extract import extract_faces
from deepfake_lth.data.face_store import FaceStore
from deepfake_lth.data.media import read_image_rgb
from deepfake_lth.errors import InputError
from deepfake_lth.io import read_json

OPENFORENSIC_KAGGLE = {"splits": {"train": "Train", "validation": "Validation", "test": "Test"},
                       "classes": {"real": "Real", "fake": "Fake"}}
FFPP_KAGGLE = {"splits": {"train": "train", "validation": "validation", "test": "test"},
               "classes": {"real": "real", "fake": "fake"}, "group_regex": r"^(?P<group>.+)_\d+$"}


def make_params(tmp_path: Path, dataset: dict, **faces) -> dict:
    return validate_params({
        "paths": {"raw": str(tmp_path / "raw"), "faces": str(tmp_path / "faces"), "results": str(tmp_path / "results")},
        "datasets": {"ds": dataset}, "models": ["mesonet"], "faces": {"image_size": 32, **faces},
    })


def write_image(path: Path, colour, size=(64, 64)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((*size, 3), colour[::-1], np.uint8))  # colour given as RGB


def build_tree(root: Path, layout: dict, names: dict[str, list[str]]) -> None:
    """One uniformly coloured image per name: red for real, blue for fake."""
    for split, folder in layout["splits"].items():
        for class_key, class_folder in layout["classes"].items():
            for name in names[class_key]:
                write_image(root / folder / class_folder / name, (200, 30, 30) if class_key == "real" else (30, 30, 200))


def test_openforensic_kaggle_layout(tmp_path):
    root = tmp_path / "raw" / "Dataset"
    build_tree(root, OPENFORENSIC_KAGGLE, {"real": ["real_0.jpg", "real_1.jpg"], "fake": ["fake_0.jpg", "fake_1.jpg", "fake_2.png"]})
    params = make_params(tmp_path, {"adapter": "imagefolder", "root": str(root), **OPENFORENSIC_KAGGLE})
    out = extract_faces(params, "ds")
    assert out == tmp_path / "faces" / "ds"
    manifest = read_json(out / "manifest.json")
    for split in ("train", "validation", "test"):
        store = FaceStore(out / split)
        assert store.images.shape == (5, 32, 32, 3) and store.images.dtype == np.uint8
        assert list(store.labels) == [0, 0, 1, 1, 1]
        assert store.index["source"][0] == f"{OPENFORENSIC_KAGGLE['splits'][split]}/Real/real_0.jpg"
        # no regex: every file is its own group, named by its path
        assert list(store.groups) == list(store.index["source"])
        assert abs(int(store.images[0, 16, 16, 0]) - 200) <= 3 and store.images[-1, 16, 16, 2] >= 195
        summary = manifest["splits"][split]
        assert (summary["n"], summary["n_real"], summary["n_fake"], summary["n_groups"]) == (5, 2, 3, 5)
        assert summary["n_own_group"] == 5 and summary["skipped"] == {}
    assert manifest["dataset"] == "ds" and manifest["adapter"] == "imagefolder"
    assert manifest["faces_params"]["image_size"] == 32 and "version" in manifest


def test_ffpp_kaggle_layout_groups_frames_by_video(tmp_path):
    root = tmp_path / "raw" / "1000_videos"
    build_tree(root, FFPP_KAGGLE, {"real": ["000_0.jpg", "000_12.jpg", "001_3.jpg"],
                                   "fake": ["000_003_5.jpg", "000_003_9.jpg", "stray.jpg"]})
    params = make_params(tmp_path, {"adapter": "imagefolder", "root": str(root), **FFPP_KAGGLE})
    out = extract_faces(params, "ds")
    store = FaceStore(out / "test")
    assert list(store.groups) == ["000", "000", "001", "000_003", "000_003", "test/fake/stray.jpg"]
    summary = read_json(out / "manifest.json")["splits"]["test"]
    assert summary["n_groups"] == 4 and summary["n_own_group"] == 1


def test_unreadable_and_non_image_files_are_counted_skips(tmp_path):
    root = tmp_path / "raw" / "Dataset"
    build_tree(root, OPENFORENSIC_KAGGLE, {"real": ["a.jpg"], "fake": ["b.jpg"]})
    (root / "Train" / "Fake" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (root / "Train" / "Real" / "empty.png").write_bytes(b"")
    (root / "Train" / "Real" / "notes.txt").write_text("hello")
    (root / "Train" / "Real" / ".DS_Store").write_bytes(b"\0")
    params = make_params(tmp_path, {"adapter": "imagefolder", "root": str(root), **OPENFORENSIC_KAGGLE})
    out = extract_faces(params, "ds")
    summary = read_json(out / "manifest.json")["splits"]["train"]
    assert summary["n"] == 2
    assert summary["skipped"] == {"not an image file": 1, "unreadable image": 2}
    sources = {item["source"]: item["reason"] for item in summary["skipped_items"]}
    assert sources == {"Train/Fake/broken.jpg": "unreadable image", "Train/Real/empty.png": "unreadable image",
                       "Train/Real/notes.txt": "not an image file"}


def test_missing_root_names_the_path(tmp_path):
    params = make_params(tmp_path, {"adapter": "imagefolder", "root": str(tmp_path / "nowhere"), **OPENFORENSIC_KAGGLE})
    with pytest.raises(InputError, match=r"nowhere: dataset root not found"):
        extract_faces(params, "ds")


def test_missing_class_folder_names_the_path_and_the_layout(tmp_path):
    root = tmp_path / "raw" / "Dataset"
    build_tree(root, OPENFORENSIC_KAGGLE, {"real": ["a.jpg"], "fake": ["b.jpg"]})
    for path in (root / "Validation" / "Fake").iterdir():
        path.unlink()
    (root / "Validation" / "Fake").rmdir()
    params = make_params(tmp_path, {"adapter": "imagefolder", "root": str(root), **OPENFORENSIC_KAGGLE})
    with pytest.raises(InputError, match=r"Validation/Fake: folder not found .*fake images of the validation split"):
        extract_faces(params, "ds")


def test_one_class_split_is_an_error_and_leaves_the_old_store(tmp_path):
    root = tmp_path / "raw" / "Dataset"
    build_tree(root, OPENFORENSIC_KAGGLE, {"real": ["a.jpg"], "fake": ["b.jpg"]})
    params = make_params(tmp_path, {"adapter": "imagefolder", "root": str(root), **OPENFORENSIC_KAGGLE})
    out = extract_faces(params, "ds")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (root / "Test" / "Fake" / "b.jpg").write_bytes(b"corrupt")  # the test split would hold real faces only
    with pytest.raises(InputError, match=r"test split of dataset 'ds' would hold 1 real and 0 fake faces \(skipped: unreadable image: 1\)"):
        extract_faces(params, "ds")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in out.parent.iterdir()] == ["ds"]  # no temporary folder left behind


def test_interrupted_run_leaves_no_store(tmp_path, monkeypatch):
    root = tmp_path / "raw" / "Dataset"
    build_tree(root, OPENFORENSIC_KAGGLE, {"real": ["a.jpg"], "fake": ["b.jpg"]})
    params = make_params(tmp_path, {"adapter": "imagefolder", "root": str(root), **OPENFORENSIC_KAGGLE})

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(extract_module, "write_json", interrupt)  # Ctrl-C after all splits were written
    with pytest.raises(KeyboardInterrupt):
        extract_faces(params, "ds")
    assert not (tmp_path / "faces" / "ds").exists()
    assert list((tmp_path / "faces").iterdir()) == []


def test_invalid_group_regex_is_reported(tmp_path):
    root = tmp_path / "raw" / "Dataset"
    build_tree(root, OPENFORENSIC_KAGGLE, {"real": ["a.jpg"], "fake": ["b.jpg"]})
    params = make_params(tmp_path, {"adapter": "imagefolder", "root": str(root), **OPENFORENSIC_KAGGLE,
                                    "group_regex": r"^(.+)_\d+$"})
    with pytest.raises(InputError, match=r"named group \(\?P<group>"):
        extract_faces(params, "ds")


def test_detect_faces_crops_the_face_and_skips_faceless_images(tmp_path, fixtures_dir):
    root = tmp_path / "raw" / "photos"
    for split in ("train", "validation", "test"):
        for class_key, person in (("real", 3), ("fake", 7)):
            face = cv2.resize(read_image_rgb(fixtures_dir / "att_faces" / f"s{person}" / "1.pgm"), (138, 168))
            canvas = np.full((300, 400, 3), 90, np.uint8)
            canvas[100:268, 220:358] = face  # off-centre, so only a real crop centres it
            (root / split / class_key).mkdir(parents=True)
            cv2.imwrite(str(root / split / class_key / "photo_0.png"), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    write_image(root / "train" / "fake" / "wall_0.png", (90, 90, 90), size=(300, 400))
    params = make_params(tmp_path, {"adapter": "imagefolder", "root": str(root), **FFPP_KAGGLE, "detect_faces": True},
                         image_size=96)
    out = extract_faces(params, "ds")
    summary = read_json(out / "manifest.json")["splits"]["train"]
    assert summary["n"] == 2 and summary["skipped"] == {"no face": 1}
    assert summary["skipped_items"][0]["source"] == "train/fake/wall_0.png"
    for crop in FaceStore(out / "train").images:
        box = largest_face(MTCNNDetector(min_face_size=30).detect(np.array(crop)))
        assert box is not None  # the crop holds the face, near its centre
        assert abs(box.x + box.w / 2 - 48) < 12 and abs(box.y + box.h / 2 - 48) < 16
