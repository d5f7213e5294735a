"""The faces stage: raw data of one dataset -> its face store `data/faces/<dataset>/`.

A dataset of an FF++-layout tree is drawn from the tree's parts instead (`data/faces/_parts/<tree>/<part>/`,
one per part: its originals, each manipulation method), each extracted once by `extract_part` for every
view of the tree that reads it; its store holds the parts it reads, in order, face for face.

Per split: `images.npy` (N x S x S x 3 uint8 RGB, S = faces.image_size) and `index.csv`; for the
dataset: `manifest.json` (parameters, per-split counts, every skip with its reason, version). The store
is built in a temporary folder and renamed into place at the end, so an interrupted or failed run
leaves no half-written store. A split that would end empty or with one class is an error. A split the
data does not ship is drawn from one it does (derive.py) after that one is extracted whole.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from deepfake_lth import __version__
from deepfake_lth.config import VIEW_KEYS, dataset_params, derived_splits, given_splits, tree_of
from deepfake_lth.data.derive import draw_groups, require_both_classes, split_rows
from deepfake_lth.data.face_store import FaceStore, FaceStoreWriter, write_subset
from deepfake_lth.adapters import adapter_spec
from deepfake_lth.data.manipulations import dataset_parts, is_tree
from deepfake_lth.data.sources import Face, Skip, SplitPlan
from deepfake_lth.errors import InputError
from deepfake_lth.io import atomic_dir, read_json, write_json
from deepfake_lth.paths import SPLITS, face_part_dir, face_store_dir

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


def extract_faces(params: dict, dataset: str) -> Path:
    """Build the face store of `dataset` (replacing an old one whole) and return its folder."""
    entry = dataset_params(params, dataset)
    faces = params["faces"]
    adapter = TreeParts(params, dataset) if is_tree(entry) else adapter_spec(entry["adapter"]).reader_class()(entry, faces)
    plans = {split: adapter.plan(split) for split in given_splits(entry)}  # every input checked before any work
    derived = derived_splits(entry)
    out = face_store_dir(params, dataset)
    with atomic_dir(out) as tmp:
        summaries = {}
        for split, plan in plans.items():
            draws = {name: draw for name, draw in derived.items() if draw["from"] == split}
            label = f"{dataset}/{split}"
            if draws:
                key = f"datasets.{dataset}.derive_splits"
                written = write_derived_splits(tmp, split, plan, draws, faces["image_size"], label, (entry["root"], key))
            else:
                written = {split: write_split(tmp / split, plan, faces["image_size"], label)}
            for name, summary in written.items():
                _require_both_classes(dataset, name, entry["root"], summary)
            summaries.update(written)
        write_json(tmp / MANIFEST, {
            "dataset": dataset, "adapter": entry["adapter"], "dataset_params": entry, "faces_params": faces,
            "splits": summaries, "version": __version__,
        })
    log.info("%s: face store written to %s (%s)", dataset, out,
             ", ".join(f"{s}: {summaries[s]['n']} faces" for s in SPLITS))
    return out


def extract_with_parts(params: dict, dataset: str) -> Path:
    """Build `dataset`'s face store after the parts of its tree it reads, if it reads a tree: what the
    workflow's face_part and faces jobs do in turn (for scripts and benchmarks; the engines run the jobs)."""
    entry = dataset_params(params, dataset)
    if is_tree(entry):
        for part in dataset_parts(entry):
            extract_part(params, tree_of(params, dataset), part)
    return extract_faces(params, dataset)


def extract_part(params: dict, tree: str, part: str) -> Path:
    """Extract one part of an FF++-layout tree ("original" or a method), every split its split files give,
    into data/faces/_parts/<tree>/<part>/ (replacing an old one whole); return its folder."""
    entry = dataset_params(params, tree)
    faces = params["faces"]
    adapter = adapter_spec(entry["adapter"]).reader_class()(entry, faces)
    plans = {split: adapter.plan_parts(split, [part]) for split in given_splits(entry)}
    out = face_part_dir(params, tree, part)
    with atomic_dir(out) as tmp:
        summaries = {split: write_split(tmp / split, plan, faces["image_size"], f"{tree}/{part}/{split}")
                     for split, plan in plans.items()}
        write_json(tmp / MANIFEST, {
            "tree": tree, "part": part, "adapter": entry["adapter"],
            "dataset_params": {k: v for k, v in entry.items() if k not in VIEW_KEYS}, "faces_params": faces,
            "splits": summaries, "version": __version__,
        })
    log.info("%s/%s: part written to %s (%s)", tree, part, out,
             ", ".join(f"{s}: {summary['n']} faces" for s, summary in summaries.items()))
    return out


class TreeParts:
    """A dataset of an FF++-layout tree, read from the tree's extracted parts: per split, the faces of each
    part it reads (dataset_parts: originals, then its methods) in order, and every skip of their extraction."""

    CHUNK = 1024  # faces read from a part store at once

    def __init__(self, params: dict, dataset: str):
        tree = tree_of(params, dataset)
        self.parts = [face_part_dir(params, tree, part) for part in dataset_parts(params["datasets"][dataset])]

    def plan(self, split: str) -> SplitPlan:
        stores, skipped = [], []
        for folder in self.parts:
            manifest = folder / MANIFEST
            if not manifest.is_file():
                raise InputError(f"{folder}: part of the tree not extracted (its face_part job writes it: "
                                 f"deepfake-lth face-part --tree {folder.parent.name} --part {folder.name})")
            skipped += [Skip(**item) for item in read_json(manifest)["splits"][split]["skipped_items"]]
            stores.append(FaceStore(folder / split))
        units = [(store, start) for store in stores for start in range(0, len(store), self.CHUNK)]
        return SplitPlan(units=units, capacity=sum(map(len, stores)), read=self._read, skipped=skipped)

    def _read(self, unit: tuple[FaceStore, int]):
        store, start = unit
        rows = np.arange(start, min(start + self.CHUNK, len(store)))
        for row, image in zip(rows, store.read(rows)):
            yield Face(image, int(store.labels[row]), str(store.groups[row]), str(store.sources[row]))


@dataclass
class ExtractedSplit:
    """A split just written: its index, which faces are their own group, and what was skipped."""

    index: pd.DataFrame
    own_group: np.ndarray
    skipped: list[Skip]


def write_split(split_dir: Path, plan: SplitPlan, image_size: int, label: str) -> dict:
    """Read every unit of a plan into a face-store split; return its manifest entry."""
    split = extract_split(split_dir, plan, image_size, label)
    return summarise(split.index, split.own_group, split.skipped)


def extract_split(split_dir: Path, plan: SplitPlan, image_size: int, label: str) -> ExtractedSplit:
    """Read every unit of a plan into a face-store split, logging what was skipped."""
    writer = FaceStoreWriter(split_dir, plan.capacity, image_size)
    skipped = list(plan.skipped)
    own_group = []
    for unit in tqdm(plan.units, desc=label, unit="item", leave=False, mininterval=1.0):
        for record in plan.read(unit):
            if isinstance(record, Face):
                writer.add(record.image, record.label, record.group, record.source)
                own_group.append(record.own_group)
            else:
                skipped.append(record)
    for skip in skipped:
        log.info("%s: skipped %s: %s%s", label, skip.source, skip.reason, f" ({skip.detail})" if skip.detail else "")
    if skipped:
        counts = Counter(skip.reason for skip in skipped)
        log.warning("%s: %d skipped (%s)", label, len(skipped), ", ".join(f"{r}: {n}" for r, n in sorted(counts.items())))
    return ExtractedSplit(writer.close(), np.array(own_group, dtype=bool), skipped)


def summarise(index: pd.DataFrame, own_group: np.ndarray, skipped: list[Skip]) -> dict:
    """A split's manifest entry: its counts and every skip with its reason."""
    return {
        "n": len(index),
        "n_real": int((index["label"] == 0).sum()),
        "n_fake": int((index["label"] == 1).sum()),
        "n_groups": int(index["group"].nunique()),
        "n_own_group": int(own_group.sum()),
        "skipped": dict(sorted(Counter(skip.reason for skip in skipped).items())),
        "skipped_items": [{"source": s.source, "reason": s.reason, "detail": s.detail} for s in skipped],
    }


def write_derived_splits(tmp: Path, source: str, plan: SplitPlan, draws: dict[str, dict], image_size: int,
                         label: str, where: tuple[str, str]) -> dict[str, dict]:
    """Extract `source` whole, draw the derived splits' groups from it, and write each part as a split.

    Returns the manifest entries of `source` (what the draws leave of it, with every skip of its
    extraction) and of each derived split (with `derived`: where it came from and which groups).
    `where` (the dataset root, its derive_splits key) is what an error names.
    """
    root, key = where
    whole_dir = tmp / f".{source}.whole"
    whole = extract_split(whole_dir, plan, image_size, label)
    store = FaceStore(whole_dir)
    drawn = draw_groups(store.labels, store.groups, draws)
    rows = split_rows(store.groups, drawn, source)
    for split in draws:
        require_both_classes(f"{root}: key '{key}.{split}'", store.labels[rows[split]],
                             f"the {split} split drawn from {source}")
    require_both_classes(f"{root}: key '{key}'", store.labels[rows[source]], f"what the draws leave of the {source} split")
    summaries = {}
    for split, part in rows.items():
        index = write_subset(store, part, tmp / split)
        summaries[split] = summarise(index, whole.own_group[part], whole.skipped if split == source else [])
        if split != source:
            summaries[split]["derived"] = {"from": source, **draws[split], "groups": drawn[split]}
        log.info("%s: %s holds %d faces in %d groups", label, split, len(index), summaries[split]["n_groups"])
    shutil.rmtree(whole_dir)
    return summaries


def _require_both_classes(dataset: str, split: str, root: str, summary: dict) -> None:
    if summary["n_real"] and summary["n_fake"]:
        return
    skipped = ", ".join(f"{reason}: {n}" for reason, n in summary["skipped"].items()) or "none"
    raise InputError(
        f"{root}: the {split} split of dataset '{dataset}' would hold {summary['n_real']} real and "
        f"{summary['n_fake']} fake faces (skipped: {skipped}); a split needs faces of both classes"
    )
