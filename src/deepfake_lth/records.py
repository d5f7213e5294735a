"""The result files with a schema: metrics.json and gradcam.json as record types with a version.

Each record is written with `"record_version": 1` beside today's keys, through io.write_json (keys
sorted, indent 2), so the bytes are those of the plain dict writer apart from that one key. The key
"version" stays what it was: the deepfake-lth version that wrote the file.

Reading: a file without record_version was written before records existed and has the layout of
version 1 (keys that older writers did not yet write read as None); a newer record version, an
unknown key, or a missing key that the reader needs is an InputError naming the file and the problem.
Nested parts (splits, per_layer, execution, params, levels, images) stay plain JSON values.
predictions.csv has its own layout, identified by its header (see predictions.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from deepfake_lth.errors import InputError
from deepfake_lth.io import read_json, write_json

RECORD_VERSION = 1  # the layout this package writes and the newest it reads
VERSION_KEY = "record_version"


class _Record:
    """What both records share: the version, the checks on reading, the JSON on writing."""

    KIND: ClassVar[str]  # how messages name the file
    REQUIRED: ClassVar[tuple[str, ...]]  # keys every reader needs; dotted for nested ones

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the file: every field, record_version included."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def write(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, data, path: str | Path, required: tuple[str, ...] | None = None):
        """The record of `data` (a file's JSON); InputError naming `path` when it is not one.
        `required` (default: REQUIRED) are the keys the caller needs; other absent keys read as None."""
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a JSON object")
        version = data.get(VERSION_KEY, RECORD_VERSION)  # absent: written before records, layout 1
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InputError(f"{path}: {cls.KIND} record version {version!r} is not a record version "
                             f"(a whole number from 1 to {RECORD_VERSION})")
        if version > RECORD_VERSION:
            raise InputError(f"{path}: {cls.KIND} record version {version} is newer than this deepfake-lth reads "
                             f"({RECORD_VERSION}): it was written by deepfake-lth {data.get('version', '?')}; "
                             "read it with that version or rerun its job with this one")
        names = [f.name for f in fields(cls) if f.name != VERSION_KEY]
        unknown = sorted(set(data) - set(names) - {VERSION_KEY})
        if unknown:
            raise InputError(f"{path}: {cls.KIND} file has keys that record version {version} does not have: "
                             f"{', '.join(unknown)}")
        missing = [key for key in (cls.REQUIRED if required is None else required) if not _has(data, key)]
        if missing:
            raise InputError(f"{path}: {cls.KIND} file lacks {', '.join(missing)}")
        damaged = next(_non_finite(data), None)
        if damaged:
            raise InputError(f"{path}: key '{damaged[0]}' is {damaged[1]}, which this package never writes "
                             "(an undefined metric is null): the file is damaged; make its run again")
        return cls(**{name: data.get(name) for name in names})

    @classmethod
    def read(cls, path: str | Path, required: tuple[str, ...] | None = None):
        """The record in the file at `path` (FileNotFoundError when there is none)."""
        return cls.from_dict(read_json(path), Path(path), required)


def _non_finite(value, key: str = ""):
    """(dotted key, value) of every NaN or infinite number in a JSON value."""
    if isinstance(value, float) and not math.isfinite(value):
        yield key, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _non_finite(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _non_finite(item, f"{key}.{i}")


def _has(data: dict, key: str) -> bool:
    """Whether the dotted `key` (e.g. splits.test.accuracy) is present in `data`."""
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


@dataclass(frozen=True)
class MetricsRecord(_Record):
    """metrics.json of one training run (dense, pruning level, control or transfer cell)."""

    KIND: ClassVar[str] = "metrics"
    REQUIRED: ClassVar[tuple[str, ...]] = ("stage", "dataset", "model", "seed", "method", "level", "sparsity",
                                           "splits.test.accuracy")

    stage: str
    dataset: str
    source_dataset: str | None  # the dataset a transferred ticket was found on; None otherwise
    model: str
    seed: int
    method: str
    level: int
    nominal_sparsity: float
    sparsity: float  # measured over the prunable tensors
    remaining_weights: int
    prunable_weights: int
    per_layer: dict  # tensor -> {total, remaining, sparsity}
    total_parameters: int
    epochs: int
    best_epoch: int
    stopped_early: bool
    splits: dict  # split -> its metrics (metrics.split_metrics)
    params: dict  # the resolved parameters that produce the numbers
    execution: dict  # device, precision, path, peak memory
    version: str  # the deepfake-lth version that wrote the file
    record_version: int = RECORD_VERSION

    @property
    def collapsed_layers(self) -> list[str]:
        return collapsed_layers(self.per_layer or {})


def collapsed_layers(per_layer: dict) -> list[str]:
    """The prunable tensors of a per_layer summary that keep no weight: layer collapse (Tanaka et al.
    2020), after which the network's output no longer depends on its input."""
    return [name for name, counts in per_layer.items() if counts["total"] and not counts["remaining"]]


@dataclass(frozen=True)
class GradcamRecord(_Record):
    """gradcam.json of one dataset x model: per face and level the numbers of the maps, per level their means."""

    KIND: ClassVar[str] = "Grad-CAM"
    REQUIRED: ClassVar[tuple[str, ...]] = ("dataset", "model", "method", "levels", "images", "target_layers")

    dataset: str
    model: str
    method: str
    run_seed: int
    sample_seed: int
    split: str
    face_store: str
    target: str
    target_layers: list
    map_shape: list
    map_scaling: str
    levels: list  # per level: level, method, checkpoint, sparsities and the means over the faces
    images: list  # per face: index, source, group, label and its numbers at each level
    params: dict
    device: str
    version: str  # the deepfake-lth version that wrote the file
    grad_cam_version: str
    record_version: int = RECORD_VERSION


def read_metrics(path: str | Path, required: tuple[str, ...] | None = None) -> MetricsRecord:
    """metrics.json at `path` (`required`: the keys the caller needs, default MetricsRecord.REQUIRED)."""
    return MetricsRecord.read(path, required)


def read_gradcam(path: str | Path) -> GradcamRecord:
    return GradcamRecord.read(path)
