"""The `synthetic` adapter: a generated demo root (see demo.py) read as the data it stands in for.

The gan domain is an imagefolder dataset; the swap domain a FaceForensics++ tree, read by the
faceforensics adapter with the entry's `methods` and no face detection (every frame is the face).
"""

from __future__ import annotations

from pathlib import Path

from deepfake_lth.data.demo import DEMO_TREE, IMAGEFOLDER_LAYOUT, demo_settings
from deepfake_lth.data.faceforensics import FaceForensicsAdapter
from deepfake_lth.data.imagefolder import ImageFolderAdapter
from deepfake_lth.errors import InputError


def SyntheticAdapter(dataset: dict, faces: dict) -> ImageFolderAdapter | FaceForensicsAdapter:
    """The reader of a generated root (named as a class: the adapter registry builds it as one)."""
    root = Path(dataset["root"])
    if not root.is_dir():
        raise InputError(f"{root}: synthetic demo data not found (generate it first: "
                         f"deepfake-lth demo --dataset <name>, or the Snakemake rule demo_data)")
    demo = demo_settings(dataset["synthetic"])
    if demo.domain == "gan":
        return ImageFolderAdapter({**dataset, **IMAGEFOLDER_LAYOUT}, faces)
    return FaceForensicsAdapter({**dataset, **DEMO_TREE, "frames_per_video": demo.frames_per_video,
                                 "detect_faces": False}, faces)
