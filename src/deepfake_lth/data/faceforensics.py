"""The `faceforensics` adapter: the official FaceForensics++ tree and pair-list split files.

Tree: `original_sequences/youtube/<c>/videos/NNN.mp4` (real) and
`manipulated_sequences/<Method>/<c>/videos/T_S.mp4` (fake), c the compression. A split file is a JSON
list of [a, b] pairs: originals a and b and manipulated a_b and b_a belong to that split. From each
video, frames_per_video evenly spaced frames; in each, the largest detected face, cropped square at
crop_scale x its larger side. The group is the video ("000", "Deepfakes/003_000"), so no video crosses
splits. Videos named by a split file but absent (a downloaded subset) are counted skips.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from deepfake_lth.data.detectors import largest_face, make_detector, resize_square, square_crop
from deepfake_lth.data.manipulations import ORIGINAL, dataset_methods
from deepfake_lth.data.media import UnreadableMedia, read_video_frames
from deepfake_lth.data.sources import (
    MISSING_VIDEO, NO_FACE, UNREADABLE_FRAME, UNREADABLE_VIDEO, Face, Record, Skip, SplitPlan, small_face,
)
from deepfake_lth.errors import InputError
from deepfake_lth.io import read_json

ORIGINALS = Path("original_sequences") / "youtube"
MANIPULATED = Path("manipulated_sequences")


class FaceForensicsAdapter:
    def __init__(self, dataset: dict, faces: dict):
        self.root = Path(dataset["root"])
        self.compression = dataset.get("compression", "c23")
        self.methods = dataset_methods(dataset)
        self.frames_per_video = dataset.get("frames_per_video", 40)
        self.split_files = dataset["split_files"]
        self.size = faces["image_size"]
        self.crop_scale = faces["crop_scale"]
        self.detect_faces = dataset.get("detect_faces", True)  # False: every frame is already the face
        self._faces = faces
        self._detector = None

    @property
    def detector(self):
        if self._detector is None and self.detect_faces:  # built on first use: planning alone needs no model
            self._detector = make_detector(self._faces)
        return self._detector

    def plan(self, split: str) -> SplitPlan:
        """The split's originals, then its fakes of each method read."""
        return self.plan_parts(split, [ORIGINAL, *self.methods])

    def plan_parts(self, split: str, parts: list[str]) -> SplitPlan:
        """The split's videos of the tree's `parts` ("original", method names), in that order."""
        self._check_tree(parts)
        pairs = read_split_pairs(self.root / self.split_files[split])
        units, skipped = [], []
        for path, label, group in self.split_videos(pairs, parts):
            if path.is_file():
                units.append((path, label, group))
            else:
                skipped.append(Skip(self._source(path), MISSING_VIDEO, "named by the split file, not on disk"))
        return SplitPlan(units=units, capacity=len(units) * self.frames_per_video, read=self._read, skipped=skipped)

    def video_folder(self, part: str) -> Path:
        """The videos folder of a part ("original" or a method) for the configured compression."""
        if part == ORIGINAL:
            return self.root / ORIGINALS / self.compression / "videos"
        return self.root / MANIPULATED / part / self.compression / "videos"

    def split_videos(self, pairs: list[tuple[str, str]], parts: list[str]) -> list[tuple[Path, int, str]]:
        """(path, label, group) of every video of `parts` the pairs put in a split: the originals of both
        ids of each pair, and of each method the fakes target_source and source_target."""
        videos = []
        for part in parts:
            folder = self.video_folder(part)
            if part == ORIGINAL:
                originals = list(dict.fromkeys(vid for pair in pairs for vid in pair))
                videos += [(folder / f"{vid}.mp4", 0, vid) for vid in originals]
                continue
            for a, b in pairs:
                for target, source in ((a, b), (b, a)):
                    name = f"{target}_{source}"
                    videos.append((folder / f"{name}.mp4", 1, f"{part}/{name}"))
        return videos

    def _check_tree(self, parts: list[str]) -> None:
        if not self.root.is_dir():
            raise InputError(f"{self.root}: dataset root not found (expected the FaceForensics++ folder "
                             f"with original_sequences/ and manipulated_sequences/)")
        for part in parts:
            folder = self.video_folder(part)
            if not folder.is_dir():
                what = "original videos" if part == ORIGINAL else f"{part} videos (or remove {part} from methods)"
                raise InputError(f"{folder}: folder not found (expected the {self.compression} {what})")

    def _source(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _read(self, unit: tuple[Path, int, str]) -> Iterator[Record]:
        path, label, group = unit
        source = self._source(path)
        try:
            for index, frame in read_video_frames(path, self.frames_per_video):
                frame_source = f"{source}#frame={index}"
                if frame is None:
                    yield Skip(frame_source, UNREADABLE_FRAME, "could not decode the frame")
                    continue
                if not self.detect_faces:  # a pre-cropped face, as imagefolder's: resized, or skipped as too small
                    height, width = frame.shape[:2]
                    too_small = small_face(frame_source, width, height, max(width, height), self._faces)
                    yield too_small or Face(resize_square(frame, self.size), label, group, frame_source)
                    continue
                box = largest_face(self.detector.detect(frame))
                if box is None:
                    yield Skip(frame_source, NO_FACE, f"{self.detector.name} found no face")
                    continue
                yield Face(square_crop(frame, box, self.crop_scale, self.size), label, group, frame_source)
        except UnreadableMedia as e:
            yield Skip(source, UNREADABLE_VIDEO, str(e))


def read_split_pairs(path: Path) -> list[tuple[str, str]]:
    """The [target, source] id pairs of an official split file."""
    if not path.is_file():
        raise InputError(f"{path}: split file not found (expected the official FaceForensics++ split JSON, "
                         f"a list of [target, source] id pairs)")
    pairs = read_json(path)
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(v, str) for v in p) for p in pairs
    ):
        raise InputError(f"{path}: expected a JSON list of [target, source] pairs of video ids such as [\"000\", \"003\"]")
    return [tuple(p) for p in pairs]
