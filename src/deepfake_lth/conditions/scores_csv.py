"""The per-face score files of the conditions stage (robustness.csv, generalization.csv): read with pandas
and checked the same way, each naming its kind in its errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepfake_lth.errors import InputError
from deepfake_lth.predictions import SplitPredictions


def read_scores(path: str | Path, columns: tuple[str, ...], kind: str, text: tuple[str, ...],
                keys: tuple[str, ...]) -> dict:
    """The file's rows grouped by `keys` (a key, or a tuple of keys) -> its faces' predictions, in file order.
    InputError naming the file when it is missing, not a CSV of `columns`, or holds a row that is not a face:
    a number in every numeric column (`text` and `group` are read as written), label 0 or 1, p_fake in [0, 1]."""
    import pandas as pd  # the report stage only

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {kind} file not found (run its conditions job)")
    try:
        table = pd.read_csv(path, dtype={**{c: str for c in text}, "group": str}, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a {kind} file: {e}") from None
    if tuple(table.columns) != columns:
        raise InputError(f"{path}: not a {kind} file: its columns are {', '.join(map(str, table.columns))}, "
                         f"expected {', '.join(columns)}")
    numeric = [c for c in columns if c not in text and c != "group"]
    for column in numeric:
        table[column] = pd.to_numeric(table[column], errors="coerce")
    bad = (table[[c for c in numeric if c not in ("label", "p_fake")]].isna().any(axis=1)
           | ~table["label"].isin([0, 1]) | ~table["p_fake"].between(0.0, 1.0))  # NaN too
    if bad.any():
        raise InputError(f"{path}: line {int(bad.to_numpy().argmax()) + 2}: not a row of numbers with label 0 or 1 "
                         "and p_fake a probability in [0, 1]")
    return {key: SplitPredictions(rows["index"].to_numpy(np.int64), rows["group"].to_numpy(object),
                                  rows["label"].to_numpy(np.int64), rows["p_fake"].to_numpy(np.float64))
            for key, rows in table.groupby(list(keys) if len(keys) > 1 else keys[0], sort=False)}
