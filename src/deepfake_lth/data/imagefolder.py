"""The `imagefolder` adapter: `<root>/<split folder>/<class folder>/*` images, pre-cropped or not.

Covers both Kaggle layouts of the paper (`Dataset/{Train,Validation,Test}/{Real,Fake}` and
`1000_videos/{train,validation,test}/{real,fake}` with the video id in the file name). The group of a
file is the named group 'group' of `group_regex` matched on the file stem; a file that does not match
(or every file, without a regex) is its own group, named by its path under the root.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from deepfake_lth.data.detectors import largest_face, make_detector, resize_square, square_crop
from deepfake_lth.data.media import UnreadableMedia, is_image_file, read_image_rgb
from deepfake_lth.data.sources import (
    NO_FACE, NOT_AN_IMAGE, UNREADABLE_IMAGE, Face, Record, Skip, SplitPlan, label_of, small_face,
)
from deepfake_lth.errors import InputError


class ImageFolderAdapter:
    def __init__(self, dataset: dict, faces: dict):
        self.root = Path(dataset["root"])
        self.split_folders = dataset["splits"]
        self.class_folders = dataset["classes"]
        self.group_regex = _compile_group_regex(dataset.get("group_regex"))
        self.faces = faces
        self.size = faces["image_size"]
        self.crop_scale = faces["crop_scale"]
        self.detector = make_detector(faces) if dataset.get("detect_faces", False) else None

    def plan(self, split: str) -> SplitPlan:
        if not self.root.is_dir():
            raise InputError(f"{self.root}: dataset root not found (expected a folder with one sub-folder per split)")
        split_dir = self.root / self.split_folders[split]
        units, skipped = [], []
        for class_key in ("real", "fake"):
            class_dir = split_dir / self.class_folders[class_key]
            if not class_dir.is_dir():
                raise InputError(
                    f"{class_dir}: folder not found (expected the {class_key} images of the {split} split "
                    f"in <root>/{self.split_folders[split]}/{self.class_folders[class_key]}/)"
                )
            for path in sorted(p for p in class_dir.rglob("*") if p.is_file()):
                if is_image_file(path):
                    units.append((path, class_key))
                elif not path.name.startswith("."):  # hidden files (.DS_Store) are not data
                    skipped.append(Skip(self._source(path), NOT_AN_IMAGE))
        return SplitPlan(units=units, capacity=len(units), read=self._read, skipped=skipped)

    def _source(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _read(self, unit: tuple[Path, str]) -> Iterator[Record]:
        path, class_key = unit
        source = self._source(path)
        try:
            image = read_image_rgb(path)
        except UnreadableMedia as e:
            yield Skip(source, UNREADABLE_IMAGE, str(e))
            return
        if self.detector is not None:
            box = largest_face(self.detector.detect(image))
            if box is None:
                yield Skip(source, NO_FACE, f"{self.detector.name} found no face")
                return
            face = square_crop(image, box, self.crop_scale, self.size)
        else:
            height, width = image.shape[:2]
            too_small = small_face(source, width, height, max(width, height), self.faces)
            if too_small is not None:
                yield too_small
                return
            face = resize_square(image, self.size)
        match = self.group_regex.search(path.stem) if self.group_regex is not None else None
        if match is not None:
            yield Face(face, label_of(class_key), match.group("group"), source)
        else:  # its own group, named by its path, which keeps a real and a fake "0001.jpg" apart
            yield Face(face, label_of(class_key), source, source, own_group=True)


def _compile_group_regex(pattern: str | None) -> re.Pattern | None:
    if pattern is None:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as e:
        raise InputError(f"group_regex '{pattern}': not a valid regular expression: {e}") from e
    if "group" not in compiled.groupindex:
        raise InputError(f"group_regex '{pattern}': needs a named group (?P<group>...) for the group id")
    return compiled
