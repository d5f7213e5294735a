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

from deepfake_lth.data.detectors import largest_face, make_detector, square_crop
from deepfake_lth.data.media import UnreadableMedia, read_video_frames
from deepfake_lth.data.sources import (
    MISSING_VIDEO, NO_FACE, UNREADABLE_FRAME, UNREADABLE_VIDEO, Face, Record, Skip, SplitPlan,
)
from deepfake_lth.errors import InputError
from deepfake_lth.io import read_json

ORIGINALS = Path("original_sequences") / "youtube"
MANIPULATED = Path("manipulated_sequences")


class FaceForensicsAdapter:
    def __init__(self, dataset: dict, faces: dict):
        self.root = Path(dataset["root"])
        self.compression = dataset.get("compression", "c23")
        self.methods = list(dataset.get("methods", ["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"]))
        self.frames_per_video = dataset.get("frames_per_video", 40)
        self.split_files = dataset["split_files"]
        self.size = faces["image_size"]
        self.crop_scale = faces["crop_scale"]
        self._faces = faces
        self._detector = None

    @property
    def detector(self):
        if self._detector is None:  # built on first use: planning alone (and its errors) needs no model
            self._detector = make_detector(self._faces)
        return self._detector

    def plan(self, split: str) -> SplitPlan:
        self._check_tree()
        pairs = read_split_pairs(self.root / self.split_files[split])
        units, skipped = [], []
        for path, label, group in self.split_videos(pairs):
            if path.is_file():
                units.append((path, label, group))
            else:
                skipped.append(Skip(self._source(path), MISSING_VIDEO, "named by the split file, not on disk"))
        return SplitPlan(units=units, capacity=len(units) * self.frames_per_video, read=self._read, skipped=skipped)

    def video_folders(self) -> dict[str, Path]:
        """'original' and each method -> its videos folder for the configured compression."""
        folders = {"original": self.root / ORIGINALS / self.compression / "videos"}
        for method in self.methods:
            folders[method] = self.root / MANIPULATED / method / self.compression / "videos"
        return folders

    def split_videos(self, pairs: list[tuple[str, str]]) -> list[tuple[Path, int, str]]:
        """(path, label, group) of every video the pairs put in a split: originals, then each method."""
        folders = self.video_folders()
        originals = list(dict.fromkeys(vid for pair in pairs for vid in pair))
        videos = [(folders["original"] / f"{vid}.mp4", 0, vid) for vid in originals]
        for method in self.methods:
            for a, b in pairs:
                for target, source in ((a, b), (b, a)):
                    name = f"{target}_{source}"
                    videos.append((folders[method] / f"{name}.mp4", 1, f"{method}/{name}"))
        return videos

    def _check_tree(self) -> None:
        if not self.root.is_dir():
            raise InputError(f"{self.root}: dataset root not found (expected the FaceForensics++ folder "
                             f"with original_sequences/ and manipulated_sequences/)")
        for name, folder in self.video_folders().items():
            if not folder.is_dir():
                what = "original videos" if name == "original" else f"{name} videos (or remove {name} from methods)"
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
