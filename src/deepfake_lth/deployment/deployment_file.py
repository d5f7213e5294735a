"""deployment.csv: what a setting's (dataset x model x seed) deployed runs cost, one file per setting beside
its runs' folders (the deploy stage).

One row per scored run (config.scored_runs: the dense run, every method at the controls' levels), runtime
(`torch`, `onnxruntime`) and thread count (one, and every core the job has). `architecture` names the
network that was timed: "dense" for the dense run and every unstructured ticket (their zeros are multiplied
like any weight), the run itself for a structured ticket, timed shrunk. Sizes are of the deployed network:
the masked one, or the shrunk one for a structured ticket. Written with the csv module, read with pandas.
"""

from __future__ import annotations

import csv
from pathlib import Path

from deepfake_lth.errors import InputError
from deepfake_lth.io import atomic_path

IDENTITY = ("dataset", "model", "seed", "method", "level")
SIZES = ("architecture", "mask_sparsity", "effective_sparsity", "total_parameters", "nonzero_parameters", "macs",
         "effective_macs", "bytes_dense", "bytes_sparse", "bytes_compressed")
TIMES = ("runtime", "threads", "latency_ms_b1", "latency_iqr_ms_b1", "latency_ms_b32", "latency_iqr_ms_b32")
COLUMNS = (*IDENTITY, *SIZES, *TIMES)
RUNTIMES = ("torch", "onnxruntime")


def write_deployment(path: str | Path, rows: list[dict]) -> None:
    """Write `rows` (dicts with every column) atomically, floats at full precision."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, lineterminator="\n", extrasaction="raise")
        writer.writeheader()
        writer.writerows({k: repr(v) if isinstance(v, float) else v for k, v in row.items()} for row in rows)


def read_deployment(path: str | Path):
    """The file as a DataFrame; InputError naming the file when it is missing or not a deployment file."""
    import pandas as pd  # the report stage only

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: deployment file not found (run its deploy job)")
    try:
        table = pd.read_csv(path, dtype={"dataset": str, "model": str, "method": str, "architecture": str,
                                         "runtime": str}, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a deployment file: {e}") from None
    if tuple(table.columns) != COLUMNS:
        raise InputError(f"{path}: not a deployment file: its columns are {', '.join(map(str, table.columns))}, "
                         f"expected {', '.join(COLUMNS)}")
    numeric = [c for c in COLUMNS if c not in ("dataset", "model", "method", "architecture", "runtime")]
    for column in numeric:
        table[column] = pd.to_numeric(table[column], errors="coerce")
    bad = table[numeric].isna().any(axis=1) | ~table["runtime"].isin(RUNTIMES)
    if bad.any():
        raise InputError(f"{path}: line {int(bad.to_numpy().argmax()) + 2}: not a row of numbers with a runtime "
                         f"of {', '.join(RUNTIMES)}")
    return table
