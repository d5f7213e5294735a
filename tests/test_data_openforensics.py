"""The openforensics adapter on a tiny dataset in the official COCO-style *_poly.json format.

Real AT&T faces are pasted on canvases and annotated with their boxes, so the crops hold real faces.
The category ids are deliberately the reverse of the usual ones: labels must come from the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepfake_lth.config import validate_params
from deepfake_lth.data.detectors import MTCNNDetector, largest_face
from deepfake_lth.data.extract import extract_faces
from deepfake_lth.data.face_store import FaceStore
from deepfake_lth.data.media import read_image_rgb
from deepfake_lth.errors import InputError
from deepfake_lth.io import read_json

LAYOUT = {
    "annotations": {"train": "Train_poly.json", "validation": "Val_poly.json", "test": "Test-Dev_poly.json"},
    "images": {"train": "Train", "validation": "Val", "test": "Test-Dev"},
}
CATEGORIES = [{"id": 0, "name": "Fake", "supercategory": "face"}, {"id": 1, "name": "Real", "supercategory": "face"}]
FAKE, REAL = 0, 1
FACE = (110, 134)  # pasted face size (w, h)


def make_params(tmp_path: Path, root: Path, **faces) -> dict:
    return validate_params({
        "paths": {"raw": str(tmp_path / "raw"), "faces": str(tmp_path / "faces"), "results": str(tmp_path / "results")},
        "datasets": {"of": {"adapter": "openforensics", "root": str(root), **LAYOUT}},
        "models": ["mesonet"], "faces": {"image_size": 64, **faces},
    })


def paste_faces(fixtures_dir: Path, people: list[int], corners: list[tuple[int, int]]) -> np.ndarray:
    canvas = np.full((360, 480, 3), 140, np.uint8)
    for person, (x, y) in zip(people, corners):
        face = read_image_rgb(fixtures_dir / "att_faces" / f"s{person}" / "2.pgm")
        canvas[y:y + FACE[1], x:x + FACE[0]] = cv2.resize(face, FACE)
    return canvas


def annotation(ann_id: int, image_id: int, corner: tuple[int, int], category: int) -> dict:
    x, y = corner
    w, h = FACE
    return {
        "id": ann_id, "image_id": image_id, "category_id": category, "iscrowd": 0, "area": w * h,
        "bbox": [x, y, w, h], "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]],
    }


def build_split(root: Path, fixtures_dir: Path, split: str, extra_images=(), extra_annotations=()) -> None:
    """Two photos: one real face + one fake face, and one fake face at the left edge."""
    image_dir = root / LAYOUT["images"][split]
    image_dir.mkdir(parents=True, exist_ok=True)
    photos = [
        ("a.jpg", [5, 12], [(40, 60), (300, 150)], [REAL, FAKE]),
        ("b.jpg", [20], [(0, 100)], [FAKE]),
    ]
    images, annotations = [], []
    for image_id, (name, people, corners, categories) in enumerate(photos, start=1):
        cv2.imwrite(str(image_dir / name), cv2.cvtColor(paste_faces(fixtures_dir, people, corners), cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        images.append({"id": image_id, "file_name": name, "height": 360, "width": 480})
        for corner, category in zip(corners, categories):
            annotations.append(annotation(len(annotations) + 1, image_id, corner, category))
    coco = {"info": {"description": "OpenForensics test fixture"}, "images": images + list(extra_images),
            "annotations": annotations + list(extra_annotations), "categories": CATEGORIES}
    (root / LAYOUT["annotations"][split]).write_text(json.dumps(coco))


def build_dataset(root: Path, fixtures_dir: Path) -> None:
    for split in ("train", "validation", "test"):
        build_split(root, fixtures_dir, split)


def test_one_crop_per_annotation_labelled_through_the_categories_block(tmp_path, fixtures_dir):
    root = tmp_path / "raw" / "OpenForensics"
    build_dataset(root, fixtures_dir)
    out = extract_faces(make_params(tmp_path, root), "of")
    manifest = read_json(out / "manifest.json")
    for split in ("train", "validation", "test"):
        store = FaceStore(out / split)
        assert store.images.shape == (3, 64, 64, 3)
        assert list(store.labels) == [0, 1, 1]  # Real (id 1) -> 0, Fake (id 0) -> 1
        assert list(store.groups) == ["a.jpg", "a.jpg", "b.jpg"]
        assert list(store.index["source"]) == ["a.jpg#annotation=1", "a.jpg#annotation=2", "b.jpg#annotation=3"]
        summary = manifest["splits"][split]
        assert (summary["n"], summary["n_real"], summary["n_fake"], summary["n_groups"]) == (3, 1, 2, 2)


def test_crops_hold_the_face_centred_and_pad_at_the_border(tmp_path, fixtures_dir):
    root = tmp_path / "raw" / "OpenForensics"
    build_dataset(root, fixtures_dir)
    out = extract_faces(make_params(tmp_path, root, image_size=96), "of")
    images = FaceStore(out / "train").images
    detector = MTCNNDetector(min_face_size=30)
    for crop in images:
        box = largest_face(detector.detect(np.array(crop)))
        assert box is not None
        assert abs(box.x + box.w / 2 - 48) < 12 and abs(box.y + box.h / 2 - 48) < 16
    # the face at x=0 (110 x 134): its 1.3x square of 174 px starts 32 px left of the image, so the
    # first 32/174 of the crop (17.7 of 96 px) is black padding and the rest is the photo
    assert images[2][:, :17].max() == 0 and images[2][:, 19:].min(axis=2).mean() > 60


def test_missing_image_and_unknown_image_id_are_counted_skips(tmp_path, fixtures_dir):
    root = tmp_path / "raw" / "OpenForensics"
    build_dataset(root, fixtures_dir)
    build_split(
        root, fixtures_dir, "train",
        extra_images=[{"id": 3, "file_name": "gone.jpg", "height": 360, "width": 480},
                      {"id": 4, "file_name": "broken.jpg", "height": 360, "width": 480}],
        extra_annotations=[annotation(10, 3, (10, 10), REAL), annotation(11, 3, (200, 10), FAKE),
                           annotation(12, 99, (10, 10), REAL), annotation(13, 4, (10, 10), FAKE),
                           {**annotation(14, 1, (10, 10), FAKE), "bbox": [10, 10, 0, 20]}],
    )
    (root / "Train" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    out = extract_faces(make_params(tmp_path, root), "of")
    summary = read_json(out / "manifest.json")["splits"]["train"]
    assert summary["n"] == 3
    assert summary["skipped"] == {"invalid box": 1, "missing image": 3, "unreadable image": 1}
    reasons = {item["source"]: item["reason"] for item in summary["skipped_items"]}
    assert reasons["gone.jpg#annotation=10"] == reasons["gone.jpg#annotation=11"] == "missing image"
    assert reasons["Train_poly.json#annotation=12"] == "missing image"
    assert reasons["broken.jpg#annotation=13"] == "unreadable image"


def test_file_names_with_a_folder_prefix_are_found(tmp_path, fixtures_dir):
    root = tmp_path / "raw" / "OpenForensics"
    build_dataset(root, fixtures_dir)
    path = root / "Val_poly.json"
    coco = json.loads(path.read_text())
    for image in coco["images"]:
        image["file_name"] = f"Val/{image['file_name']}"
    path.write_text(json.dumps(coco))
    out = extract_faces(make_params(tmp_path, root), "of")
    assert read_json(out / "manifest.json")["splits"]["validation"]["n"] == 3


@pytest.mark.parametrize("categories, message", [
    ([{"id": 0, "name": "Fake"}, {"id": 1, "name": "Person"}], "named 'Person' is neither real nor fake"),
    ([{"id": 0, "name": "fake face"}, {"id": 1, "name": "FAKE"}], "lacks a real or a fake category"),
])
def test_categories_that_are_not_real_and_fake_are_an_error(tmp_path, fixtures_dir, categories, message):
    root = tmp_path / "raw" / "OpenForensics"
    build_dataset(root, fixtures_dir)
    path = root / "Test-Dev_poly.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "categories": categories}))
    with pytest.raises(InputError, match=message):
        extract_faces(make_params(tmp_path, root), "of")


def test_undefined_category_id_is_an_error(tmp_path, fixtures_dir):
    root = tmp_path / "raw" / "OpenForensics"
    build_dataset(root, fixtures_dir)
    build_split(root, fixtures_dir, "train", extra_annotations=[annotation(20, 1, (10, 10), 7)])
    with pytest.raises(InputError, match="category_id 7, which the categories block does not define"):
        extract_faces(make_params(tmp_path, root), "of")


def test_missing_or_invalid_annotation_file_names_the_path(tmp_path, fixtures_dir):
    root = tmp_path / "raw" / "OpenForensics"
    build_dataset(root, fixtures_dir)
    (root / "Val_poly.json").unlink()
    with pytest.raises(InputError, match=r"Val_poly.json: annotation file not found"):
        extract_faces(make_params(tmp_path, root), "of")
    (root / "Val_poly.json").write_text("{not json")
    with pytest.raises(InputError, match=r"Val_poly.json: not valid JSON"):
        extract_faces(make_params(tmp_path, root), "of")
    (root / "Val_poly.json").write_text(json.dumps({"images": []}))
    with pytest.raises(InputError, match=r"Val_poly.json: no 'annotations' list"):
        extract_faces(make_params(tmp_path, root), "of")
    assert not (tmp_path / "faces" / "of").exists()


def test_missing_root_names_the_path(tmp_path):
    with pytest.raises(InputError, match=r"absent: dataset root not found"):
        extract_faces(make_params(tmp_path, tmp_path / "absent"), "of")
