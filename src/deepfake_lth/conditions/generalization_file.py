"""generalization.csv: every run's fake probability on the test faces of each dataset it is scored on,
beside the run's metrics.json (the conditions stage).

One row per tested dataset and face: `tested_on` (a dataset key; the run's own dataset is the diagonal,
its rows the clean scores of its predictions.csv), `index` (the face's row in that dataset's test
split), `group`, `label` (1 = fake) and `p_fake` at full float precision. Written with the csv module
(the scoring job imports no pandas), read with pandas (the report has it).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from deepfake_lth.conditions.scores_csv import read_scores
from deepfake_lth.io import atomic_path
from deepfake_lth.predictions import SplitPredictions

COLUMNS = ("tested_on", "index", "group", "label", "p_fake")


def write_generalization(path: str | Path, scored: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Write `scored` (tested_on, indices, groups, labels, p_fake per tested dataset) atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        for tested_on, indices, groups, labels, p_fake in scored:
            for index, group, label, p in zip(np.asarray(indices).tolist(), np.asarray(groups).tolist(),
                                              np.asarray(labels).tolist(), np.asarray(p_fake, dtype=np.float64).tolist()):
                writer.writerow((tested_on, index, group, int(label), repr(p)))


def read_generalization(path: str | Path) -> dict[str, SplitPredictions]:
    """tested_on -> its faces' predictions, in file order; InputError naming the file when it is not a
    generalization file."""
    return read_scores(path, COLUMNS, "generalization", ("tested_on",), ("tested_on",))
