"""The faceforensics adapter on an official-layout tree assembled from the real fixture videos.

The tree uses the official split files: pair ["000", "003"] of test.json puts 000, 003, 000_003 and
003_000 in the test split; the real FF++ video 003_000 is there, 003 and 000_003 are absent (as in
a downloaded subset) and must be counted skips.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import FIXTURES
from deepfake_lth.config import validate_params
from deepfake_lth.data import faceforensics
from deepfake_lth.data.detectors import MTCNNDetector, largest_face, resize_square
from deepfake_lth.data.extract import extract_with_parts
from deepfake_lth.data.face_store import FaceStore
from deepfake_lth.errors import InputError
from deepfake_lth.io import read_json, write_json

FRAMES = 4
ORIGINALS = Path("original_sequences/youtube/c23/videos")
DEEPFAKES = Path("manipulated_sequences/Deepfakes/c23/videos")
# (folder, name, fixture video): one real and one fake video per split, from the first pair of each split file
VIDEOS = [
    (ORIGINALS, "071", "demo_real.mp4"), (DEEPFAKES, "071_054", "demo_fake.mp4"),        # train ["071", "054"]
    (ORIGINALS, "720", "demo_real.mp4"), (DEEPFAKES, "672_720", "demo_fake.mp4"),        # val ["720", "672"]
    (ORIGINALS, "000", "demo_real.mp4"), (DEEPFAKES, "003_000", "ffpp_manipulated_003_000.mp4"),  # test ["000", "003"]
]


def build_tree(root: Path, fixtures: Path) -> None:
    for folder, name, video in VIDEOS:
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / f"{name}.mp4").symlink_to(fixtures / "videos" / video)
    shutil.copytree(fixtures / "ffpp-splits", root / "splits")


def make_params(tmp_path: Path, root: Path, **dataset) -> dict:
    return validate_params({
        "paths": {"raw": str(tmp_path / "raw"), "faces": str(tmp_path / "faces"), "results": str(tmp_path / "results")},
        "datasets": {"ffpp": {
            "adapter": "faceforensics", "root": str(root), "compression": "c23", "methods": ["Deepfakes"],
            "frames_per_video": FRAMES,
            "split_files": {"train": "splits/train.json", "validation": "splits/val.json", "test": "splits/test.json"},
            **dataset,
        }},
        "models": ["mesonet"], "faces": {"image_size": 96, "detector": "mtcnn", "min_face_size": 40},
    })


@pytest.fixture(scope="module")
def fixtures():
    if not FIXTURES.is_dir():
        pytest.skip(f"real-media fixtures not found at {FIXTURES}")
    return FIXTURES


@pytest.fixture(scope="module")
def extracted(tmp_path_factory, fixtures):
    """One extraction of the assembled tree, shared by the tests that only read it."""
    tmp = tmp_path_factory.mktemp("ffpp")
    root = tmp / "raw" / "FaceForensics++"
    build_tree(root, fixtures)
    out = extract_with_parts(make_params(tmp, root), "ffpp")
    return out, read_json(out / "manifest.json")


def test_faces_are_found_in_most_sampled_frames(extracted):
    out, manifest = extracted
    for split in ("train", "validation", "test"):
        summary = manifest["splits"][split]
        assert summary["n_real"] >= FRAMES - 1 and summary["n_fake"] >= FRAMES - 1, split
        assert summary["skipped"].get("no face", 0) <= 1, split


def test_crops_contain_the_face_near_their_centre(extracted):
    out, _ = extracted
    detector = MTCNNDetector(min_face_size=30)
    for split in ("train", "test"):
        store = FaceStore(out / split)
        assert store.images.shape[1:] == (96, 96, 3)
        for crop in store.images:
            box = largest_face(detector.detect(np.array(crop)))
            assert box is not None
            # a 1.3x crop: the face box fills most of the crop, centred
            assert abs(box.x + box.w / 2 - 48) < 12 and abs(box.y + box.h / 2 - 48) < 16
            assert box.w > 40


def test_003_000_lands_in_the_test_split_only(extracted):
    out, _ = extracted
    groups = {split: set(FaceStore(out / split).groups) for split in ("train", "validation", "test")}
    assert groups["test"] == {"000", "Deepfakes/003_000"}
    assert groups["train"] == {"071", "Deepfakes/071_054"}
    assert groups["validation"] == {"720", "Deepfakes/672_720"}
    test = FaceStore(out / "test")
    fake_sources = test.index["source"][test.labels == 1]
    assert all(s.startswith("manipulated_sequences/Deepfakes/c23/videos/003_000.mp4#frame=") for s in fake_sources)
    frames = sorted(int(s.split("=")[1]) for s in fake_sources)
    assert frames[0] == 0 and frames[-1] == 302  # evenly spaced over the 303 frames


def test_videos_named_by_the_split_file_but_absent_are_counted(extracted):
    _, manifest = extracted
    test = manifest["splits"]["test"]
    reasons = {item["source"]: item["reason"] for item in test["skipped_items"]}
    assert reasons[f"{ORIGINALS}/003.mp4"] == "missing video"
    assert reasons[f"{DEEPFAKES}/000_003.mp4"] == "missing video"
    # 70 pairs: 140 originals and 140 fakes, of which 2 exist
    assert test["skipped"]["missing video"] == 278


def test_unreadable_and_faceless_videos_are_counted_skips(tmp_path, fixtures):
    root = tmp_path / "raw" / "FaceForensics++"
    build_tree(root, fixtures)
    (root / ORIGINALS / "054.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video")
    writer = cv2.VideoWriter(str(root / DEEPFAKES / "054_071.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for i in range(12):
        writer.write(np.full((120, 160, 3), 20 * i, np.uint8))
    writer.release()
    out = extract_with_parts(make_params(tmp_path, root), "ffpp")
    train = read_json(out / "manifest.json")["splits"]["train"]
    reasons = {item["source"]: item["reason"] for item in train["skipped_items"]}
    assert reasons[f"{ORIGINALS}/054.mp4"] == "unreadable video"
    assert [reasons.get(f"{DEEPFAKES}/054_071.mp4#frame={i}") for i in (0, 4, 7, 11)] == ["no face"] * 4
    assert train["n"] >= 2 * FRAMES - 1  # the run went on


def test_missing_split_file_names_the_path(tmp_path, fixtures):
    root = tmp_path / "raw" / "FaceForensics++"
    build_tree(root, fixtures)
    (root / "splits" / "val.json").unlink()
    with pytest.raises(InputError, match=r"splits/val.json: split file not found"):
        extract_with_parts(make_params(tmp_path, root), "ffpp")
    (root / "splits" / "val.json").write_text('{"000": "003"}')
    with pytest.raises(InputError, match=r"val.json: expected a JSON list of \[target, source\] pairs"):
        extract_with_parts(make_params(tmp_path, root), "ffpp")


def test_missing_root_or_method_folder_names_the_path(tmp_path, fixtures):
    with pytest.raises(InputError, match=r"nowhere: dataset root not found"):
        extract_with_parts(make_params(tmp_path, tmp_path / "nowhere"), "ffpp")
    root = tmp_path / "raw" / "FaceForensics++"
    build_tree(root, fixtures)
    with pytest.raises(InputError, match=r"Face2Face/c23/videos: folder not found .*remove Face2Face from methods"):
        extract_with_parts(make_params(tmp_path, root, methods=["Deepfakes", "Face2Face"]), "ffpp")


def test_split_left_with_one_class_is_an_error(tmp_path, fixtures):
    root = tmp_path / "raw" / "FaceForensics++"
    build_tree(root, fixtures)
    (root / DEEPFAKES / "672_720.mp4").unlink()
    with pytest.raises(InputError, match=r"validation split of dataset 'ffpp' would hold 4 real and 0 fake faces"):
        extract_with_parts(make_params(tmp_path, root), "ffpp")
    assert not (tmp_path / "faces" / "ffpp").exists()


def write_video(path: Path, frames: list[np.ndarray]) -> None:
    """RGB frames into a lossless (FFV1) video: decoded, each frame is exactly what was written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 25, (width, height))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def test_without_detection_every_frame_is_the_face_resized(tmp_path, monkeypatch):
    """detect_faces false (a tree of face crops, as the swap demo's): no detector is built; each frame is
    resized square to faces.image_size, or skipped as too small as imagefolder's pre-cropped images."""
    def no_detector(faces):
        raise AssertionError("a detector was built")
    monkeypatch.setattr(faceforensics, "make_detector", no_detector)
    root, rng = tmp_path / "raw" / "crops", np.random.default_rng(0)
    written = {name: [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
               for name in ("000", "001", "000_001")}
    written["001_000"] = [rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)]  # smaller than min_face_size
    for name, frames in written.items():
        write_video(root / (ORIGINALS if "_" not in name else DEEPFAKES) / f"{name}.mp4", frames)
    for split_file in ("train", "val", "test"):
        write_json(root / "splits" / f"{split_file}.json", [["000", "001"]])
    params = make_params(tmp_path, root, detect_faces=False)
    params["faces"]["image_size"] = 32
    adapter = faceforensics.FaceForensicsAdapter(params["datasets"]["ffpp"], params["faces"])
    plan = adapter.plan("train")
    records = [record for unit in plan.units for record in plan.read(unit)]
    assert adapter.detector is None
    faces = {record.source: record for record in records if not hasattr(record, "reason")}
    assert len(faces) == 9
    for name in ("000", "001", "000_001"):
        folder = ORIGINALS if "_" not in name else DEEPFAKES
        for index, frame in enumerate(written[name]):
            face = faces[f"{folder}/{name}.mp4#frame={index}"]
            assert np.array_equal(face.image, resize_square(frame, 32))
            assert face.label == int("_" in name)
    skips = [record for record in records if hasattr(record, "reason")]
    assert [(skip.source, skip.reason) for skip in skips] == [(f"{DEEPFAKES}/001_000.mp4#frame=0", "face too small")]
