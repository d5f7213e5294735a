"""What a dataset adapter hands to the extractor: per split, a plan of work units that yield faces or skips.

An adapter is a class built from (dataset params, faces params) with one method, `plan(split)`, which
checks the inputs of that split (raising InputError naming a missing root, folder or file) and returns
a SplitPlan. Reading a unit yields Face records (a square RGB crop at faces.image_size) and Skip
records (something that could not be used, and why); nothing is silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol, Union

import numpy as np

from deepfake_lth.data.face_store import LABELS

# Skip reasons: a fixed vocabulary, so that the manifest can count them.
MISSING_IMAGE = "missing image"
MISSING_VIDEO = "missing video"
UNREADABLE_IMAGE = "unreadable image"
UNREADABLE_VIDEO = "unreadable video"
UNREADABLE_FRAME = "unreadable frame"
NO_FACE = "no face"
NOT_AN_IMAGE = "not an image file"
INVALID_BOX = "invalid box"
FACE_TOO_SMALL = "face too small"


@dataclass(frozen=True)
class Face:
    """One face ready for the store. `own_group`: no group id was found, so the source is its own group."""

    image: np.ndarray
    label: int
    group: str
    source: str
    own_group: bool = False


@dataclass(frozen=True)
class Skip:
    """Something that yielded no face: the source (file, frame or annotation), a reason from the list above, detail."""

    source: str
    reason: str
    detail: str = ""


Record = Union[Face, Skip]


@dataclass
class SplitPlan:
    """The work of one split: `units` (one progress step each), read one by one with `read`.

    `capacity` bounds the number of faces all units can yield (the store is pre-allocated to it);
    `skipped` holds what was already found unusable while planning (e.g. videos named but missing).
    """

    units: list[Any]
    capacity: int
    read: Callable[[Any], Iterator[Record]]
    skipped: list[Skip] = field(default_factory=list)


class Adapter(Protocol):
    def __init__(self, dataset: dict, faces: dict): ...

    def plan(self, split: str) -> SplitPlan: ...


def small_face(source: str, width: float, height: float, stored_side: float, faces: dict) -> Skip | None:
    """A skip for a face (a pre-cropped image, a ground-truth box) whose larger side is under
    faces.min_face_size while its crop (`stored_side` pixels) would be enlarged to faces.image_size:
    the detector drops such faces, and an enlarged blur would enter the store unnoticed."""
    side, smallest = max(width, height), faces["min_face_size"]
    if side >= smallest or stored_side >= faces["image_size"]:
        return None
    return Skip(source, FACE_TOO_SMALL, f"{width:g}x{height:g} px, under faces.min_face_size {smallest}")


def label_of(class_key: str) -> int:
    """0 for 'real', 1 for 'fake'."""
    return LABELS[class_key]
