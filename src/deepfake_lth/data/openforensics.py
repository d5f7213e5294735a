"""The `openforensics` adapter: the official COCO-style `*_poly.json` files plus their image folders.

One square crop per annotation, crop_scale x the larger side of the ground-truth box, centred on the
box. The label comes from `category_id` through the file's own `categories` block (a name containing
"real" or "fake"); nothing about the ids is assumed. The group is the source image, so faces of one
photo stay together.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Iterator

from deepfake_lth.data.detectors import square_crop
from deepfake_lth.data.media import UnreadableMedia, read_image_rgb
from deepfake_lth.data.sources import (
    INVALID_BOX, MISSING_IMAGE, UNREADABLE_IMAGE, Face, Record, Skip, SplitPlan, label_of, small_face,
)
from deepfake_lth.errors import InputError
from deepfake_lth.io import read_json


class OpenForensicsAdapter:
    def __init__(self, dataset: dict, faces: dict):
        self.root = Path(dataset["root"])
        self.annotation_files = dataset["annotations"]
        self.image_folders = dataset["images"]
        self.faces = faces
        self.size = faces["image_size"]
        self.crop_scale = faces["crop_scale"]

    def plan(self, split: str) -> SplitPlan:
        if not self.root.is_dir():
            raise InputError(f"{self.root}: dataset root not found (expected the OpenForensics folder with *_poly.json files)")
        annotation_path = self.root / self.annotation_files[split]
        if not annotation_path.is_file():
            raise InputError(f"{annotation_path}: annotation file not found (expected the COCO-style *_poly.json of the {split} split)")
        image_dir = self.root / self.image_folders[split]
        if not image_dir.is_dir():
            raise InputError(f"{image_dir}: image folder not found (expected the images of {annotation_path.name})")
        coco = read_json(annotation_path)
        _check_coco(coco, annotation_path)
        labels = category_labels(coco["categories"], annotation_path)
        images = {image["id"]: image for image in coco["images"]}
        by_image, skipped = defaultdict(list), []
        for ann in coco["annotations"]:
            if ann.get("image_id") in images:
                by_image[ann["image_id"]].append(ann)
            else:
                skipped.append(Skip(f"{annotation_path.name}#annotation={ann.get('id')}", MISSING_IMAGE,
                                    f"image_id {ann.get('image_id')} is not in the images block"))
            if ann.get("category_id") not in labels:
                raise InputError(f"{annotation_path}: annotation {ann.get('id')} has category_id "
                                 f"{ann.get('category_id')}, which the categories block does not define")
        units = [(images[i], by_image[i], labels, image_dir) for i in images if by_image[i]]
        return SplitPlan(units=units, capacity=sum(len(u[1]) for u in units), read=self._read, skipped=skipped)

    def _read(self, unit) -> Iterator[Record]:
        image_info, annotations, labels, image_dir = unit
        path = _find_image(image_info["file_name"], image_dir, self.root)
        group = image_info["file_name"]
        sources = [f"{group}#annotation={ann.get('id')}" for ann in annotations]
        if path is None:
            for source in sources:
                yield Skip(source, MISSING_IMAGE, f"{image_dir / image_info['file_name']} not found")
            return
        try:
            image = read_image_rgb(path)
        except UnreadableMedia as e:
            for source in sources:
                yield Skip(source, UNREADABLE_IMAGE, str(e))
            return
        for ann, source in zip(annotations, sources):
            box = ann.get("bbox")
            if not _valid_box(box):
                yield Skip(source, INVALID_BOX, f"bbox {box}")
                continue
            width, height = float(box[2]), float(box[3])
            too_small = small_face(source, width, height, self.crop_scale * max(width, height), self.faces)
            if too_small is not None:
                yield too_small
                continue
            try:
                face = square_crop(image, box, self.crop_scale, self.size)
            except ValueError as e:
                yield Skip(source, INVALID_BOX, str(e))
                continue
            yield Face(face, labels[ann["category_id"]], group, source)


def category_labels(categories: list, path: Path) -> dict:
    """category id -> 0 (real) / 1 (fake), from names containing 'real' or 'fake' (any case)."""
    labels = {}
    for category in categories:
        name = str(category.get("name", "")).lower()
        kinds = [kind for kind in ("real", "fake") if kind in name]
        if len(kinds) != 1:
            raise InputError(
                f"{path}: category {category.get('id')} named '{category.get('name')}' is neither real nor "
                f"fake (expected one name containing 'real' and one containing 'fake')"
            )
        labels[category["id"]] = label_of(kinds[0])
    if set(labels.values()) != {0, 1}:
        raise InputError(f"{path}: the categories block {categories} lacks a real or a fake category")
    return labels


def _check_coco(coco, path: Path) -> None:
    if not isinstance(coco, dict):
        raise InputError(f"{path}: expected a COCO-style object with images, annotations and categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(coco.get(key), list):
            raise InputError(f"{path}: no '{key}' list (expected COCO-style images, annotations and categories)")


def _find_image(file_name: str, image_dir: Path, root: Path) -> Path | None:
    """The image file: file_name under the split's image folder, or its bare name there, or under the root."""
    for candidate in (image_dir / file_name, image_dir / Path(file_name).name, root / file_name):
        if candidate.is_file():
            return candidate
    return None


def _valid_box(box) -> bool:
    return (
        isinstance(box, (list, tuple)) and len(box) == 4
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in box)
        and box[2] > 0 and box[3] > 0
    )
