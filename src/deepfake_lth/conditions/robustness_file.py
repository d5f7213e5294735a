"""robustness.csv: every test face's fake probability under every perturbation, beside a run's metrics.json.

One row per perturbation, severity and face: `perturbation` (a registered name, or "clean"), `severity`
(as params give it; 0 for clean), `index` (the face's row in the test split of the store), `group`,
`label` (1 = fake) and `p_fake` at full float precision. The clean rows cover every test face; an
attack's rows cover the seeded adversarial subset. Intervals and paired tests are drawn from these
rows in the report, as from predictions.csv for clean accuracy. Written with the csv module (the
scoring job imports no pandas), read with pandas (the report has it).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from deepfake_lth.conditions.scores_csv import read_scores
from deepfake_lth.io import atomic_path
from deepfake_lth.predictions import SplitPredictions

COLUMNS = ("perturbation", "severity", "index", "group", "label", "p_fake")


def write_robustness(path: str | Path, scored: list[tuple[str, float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Write `scored` (perturbation, severity, indices, groups, labels, p_fake per condition) atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        for name, severity, indices, groups, labels, p_fake in scored:
            for row in zip(np.asarray(indices).tolist(), np.asarray(groups).tolist(), np.asarray(labels).tolist(),
                           np.asarray(p_fake, dtype=np.float64).tolist()):
                writer.writerow((name, repr(severity), row[0], row[1], int(row[2]), repr(row[3])))


def read_robustness(path: str | Path) -> dict[tuple[str, float], SplitPredictions]:
    """(perturbation, severity) -> its faces' predictions, in file order; InputError naming the file when it
    is not a robustness file."""
    scores = read_scores(path, COLUMNS, "robustness", ("perturbation",), ("perturbation", "severity"))
    return {(name, float(severity)): faces for (name, severity), faces in scores.items()}
