"""The `synthetic` adapter: a generated demo root (see demo.py) read as an imagefolder dataset."""

from __future__ import annotations

from deepfake_lth.data.demo import IMAGEFOLDER_LAYOUT
from deepfake_lth.data.imagefolder import ImageFolderAdapter
from deepfake_lth.data.sources import SplitPlan
from deepfake_lth.errors import InputError


class SyntheticAdapter(ImageFolderAdapter):
    """Splits train/validation/test, classes real/fake, the video id of "<video>_<frame>" as group."""

    def __init__(self, dataset: dict, faces: dict):
        super().__init__({**dataset, **IMAGEFOLDER_LAYOUT}, faces)

    def plan(self, split: str) -> SplitPlan:
        if not self.root.is_dir():
            raise InputError(f"{self.root}: synthetic demo data not found (generate it first: "
                             f"deepfake-lth demo --dataset <name>, or the Snakemake rule demo_data)")
        return super().plan(split)
