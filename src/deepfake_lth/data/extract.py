"""The faces stage: raw data of one dataset -> its face store `data/faces/<dataset>/`.

Per split: `images.npy` (N x S x S x 3 uint8 RGB, S = faces.image_size) and `index.csv`; for the
dataset: `manifest.json` (parameters, per-split counts, every skip with its reason, version). The store
is built in a temporary folder and renamed into place at the end, so an interrupted or failed run
leaves no half-written store. A split that would end empty or with one class is an error.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from deepfake_lth import __version__
from deepfake_lth.config import dataset_params
from deepfake_lth.data.face_store import FaceStoreWriter
from deepfake_lth.data.faceforensics import FaceForensicsAdapter
from deepfake_lth.data.imagefolder import ImageFolderAdapter
from deepfake_lth.data.openforensics import OpenForensicsAdapter
from deepfake_lth.data.sources import Adapter, Face, SplitPlan
from deepfake_lth.data.synthetic import SyntheticAdapter
from deepfake_lth.errors import InputError
from deepfake_lth.io import atomic_dir, write_json
from deepfake_lth.paths import SPLITS, face_store_dir

log = logging.getLogger(__name__)

ADAPTERS: dict[str, type[Adapter]] = {
    "imagefolder": ImageFolderAdapter,
    "openforensics": OpenForensicsAdapter,
    "faceforensics": FaceForensicsAdapter,
    "synthetic": SyntheticAdapter,
}
MANIFEST = "manifest.json"


def extract_faces(params: dict, dataset: str) -> Path:
    """Build the face store of `dataset` (replacing an old one whole) and return its folder."""
    entry = dataset_params(params, dataset)
    faces = params["faces"]
    adapter = ADAPTERS[entry["adapter"]](entry, faces)
    plans = {split: adapter.plan(split) for split in SPLITS}  # every input checked before any work
    out = face_store_dir(params, dataset)
    with atomic_dir(out) as tmp:
        summaries = {}
        for split in SPLITS:
            summaries[split] = write_split(tmp / split, plans[split], faces["image_size"], f"{dataset}/{split}")
            _require_both_classes(dataset, split, entry["root"], summaries[split])
        write_json(tmp / MANIFEST, {
            "dataset": dataset, "adapter": entry["adapter"], "dataset_params": entry, "faces_params": faces,
            "splits": summaries, "version": __version__,
        })
    log.info("%s: face store written to %s (%s)", dataset, out,
             ", ".join(f"{s}: {summaries[s]['n']} faces" for s in SPLITS))
    return out


def write_split(split_dir: Path, plan: SplitPlan, image_size: int, label: str) -> dict:
    """Read every unit of a plan into a face-store split; return its manifest entry."""
    writer = FaceStoreWriter(split_dir, plan.capacity, image_size)
    skipped = list(plan.skipped)
    own_group = 0
    for unit in tqdm(plan.units, desc=label, unit="item", leave=False, mininterval=1.0):
        for record in plan.read(unit):
            if isinstance(record, Face):
                writer.add(record.image, record.label, record.group, record.source)
                own_group += record.own_group
            else:
                skipped.append(record)
    for skip in skipped:
        log.info("%s: skipped %s: %s%s", label, skip.source, skip.reason, f" ({skip.detail})" if skip.detail else "")
    index = writer.close()
    counts = Counter(skip.reason for skip in skipped)
    if skipped:
        log.warning("%s: %d skipped (%s)", label, len(skipped), ", ".join(f"{r}: {n}" for r, n in sorted(counts.items())))
    return {
        "n": len(index),
        "n_real": int((index["label"] == 0).sum()),
        "n_fake": int((index["label"] == 1).sum()),
        "n_groups": int(index["group"].nunique()),
        "n_own_group": own_group,
        "skipped": dict(sorted(counts.items())),
        "skipped_items": [{"source": s.source, "reason": s.reason, "detail": s.detail} for s in skipped],
    }


def _require_both_classes(dataset: str, split: str, root: str, summary: dict) -> None:
    if summary["n_real"] and summary["n_fake"]:
        return
    skipped = ", ".join(f"{reason}: {n}" for reason, n in summary["skipped"].items()) or "none"
    raise InputError(
        f"{root}: the {split} split of dataset '{dataset}' would hold {summary['n_real']} real and "
        f"{summary['n_fake']} fake faces (skipped: {skipped}); a split needs faces of both classes"
    )
