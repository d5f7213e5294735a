"""predictions.csv: every validation and test face's fake probability, beside a run's metrics.json.

One row per face: `split, index` (its row in the face store split), `group, label` (1 = fake) as the
store's index gives them, and `p_fake`, written with full float precision, so that every metric of
metrics.json can be recomputed from the file and intervals and paired tests can be drawn afterwards.
Written and read with the csv module: a training job writes it, and pandas is not imported there.

The file's record version is told by its header, so that the bytes carry no version column or comment:
the header COLUMNS is PREDICTIONS_VERSION 1, and any other header is refused (see `header_version`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_lth.errors import InputError
from deepfake_lth.io import atomic_path

COLUMNS = ("split", "index", "group", "label", "p_fake")
PREDICTIONS_VERSION = 1  # the layout this package writes and reads
HEADERS = {COLUMNS: PREDICTIONS_VERSION}  # each header this package reads -> the record version it identifies


@dataclass(frozen=True)
class SplitPredictions:
    """One split's faces in store order: index, group, label (int64, 1 = fake) and fake probability."""

    index: np.ndarray
    group: np.ndarray
    label: np.ndarray
    p_fake: np.ndarray

    def __len__(self) -> int:
        return len(self.label)

    def same_faces(self, other: "SplitPredictions") -> bool:
        """True when both score the same faces, in the same order (what a paired comparison needs)."""
        return (len(self) == len(other) and np.array_equal(self.index, other.index)
                and np.array_equal(self.label, other.label) and np.array_equal(self.group, other.group))


def write_predictions(path: str | Path, splits: dict[str, tuple]) -> None:
    """Write `splits` (split -> (labels, p_fake, groups), each in store order) as predictions.csv, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        for split, (labels, probs, groups) in splits.items():
            for i, (label, p, group) in enumerate(zip(np.asarray(labels).tolist(), np.asarray(probs).tolist(),
                                                      np.asarray(groups).tolist())):
                writer.writerow((split, i, group, int(label), repr(float(p))))


def read_predictions(path: str | Path) -> dict[str, SplitPredictions]:
    """predictions.csv by split; InputError naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: predictions file not found (its run must be made again by this version)")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header_version(path, rows[0] if rows else [])
    by_split: dict[str, list] = {}
    try:
        for line, row in enumerate(rows[1:], start=2):
            if len(row) != len(COLUMNS):
                raise ValueError(f"line {line}: {len(row)} cells where the header has {len(COLUMNS)}")
            label, p_fake = int(row[3]), float(row[4])
            if label not in (0, 1):
                raise ValueError(f"line {line}: label {label} is neither 0 (real) nor 1 (fake)")
            if not 0.0 <= p_fake <= 1.0:  # NaN too
                raise ValueError(f"line {line}: p_fake {row[4]} is not a probability in [0, 1]")
            by_split.setdefault(row[0], []).append((int(row[1]), row[2], label, p_fake))
    except (IndexError, ValueError) as e:
        raise InputError(f"{path}: malformed row: {e}") from None
    return {split: SplitPredictions(np.array([r[0] for r in got], dtype=np.int64),
                                    np.array([r[1] for r in got], dtype=object),
                                    np.array([r[2] for r in got], dtype=np.int64),
                                    np.array([r[3] for r in got], dtype=np.float64))
            for split, got in by_split.items()}


def header_version(path: str | Path, header: list[str]) -> int:
    """The predictions record version that `header` identifies; InputError naming the file, the columns
    found and those expected when it is none this package reads."""
    version = HEADERS.get(tuple(header))
    if version is None:
        raise InputError(f"{path}: not a predictions file this deepfake-lth reads: its columns are "
                         f"{', '.join(header) or 'none'}, expected {', '.join(COLUMNS)} "
                         f"(predictions record version {PREDICTIONS_VERSION})")
    return version
