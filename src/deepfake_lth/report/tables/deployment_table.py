"""The deployment table: what the dense run and every method at the controls' levels cost to store and to run
(parameters, multiply-accumulates, bytes, CPU latency per runtime and thread count), beside their test accuracy
with its 95% interval. The CSV has one row per run, runtime and thread count (each seed its own; accuracy a
fraction, full precision); the Markdown, LaTeX and HTML show the means over seeds in readable units, with each
run's size and latency as a multiple of the dense run's and its accuracy difference from it."""

from __future__ import annotations

import math

import pandas as pd

from deepfake_lth import methods
from deepfake_lth.models.registry import model_label
from deepfake_lth.report.document.catalog import DEPLOYMENT_TABLE
from deepfake_lth.report.statistics.deployment import Deployment
from deepfake_lth.report.summary import sort_rows
from deepfake_lth.report.tables.cells import MISSING, count, number, signed_interval
from deepfake_lth.report.tables.formats import Table

FIRST = ["dataset", "model", "seed", "method", "level", "total_parameters", "nonzero_parameters", "macs",
         "effective_macs", "bytes_dense", "bytes_sparse", "bytes_compressed", "latency_ms_b1", "latency_ms_b32",
         "latency_iqr_ms_b1", "runtime", "accuracy", "ci_low", "ci_high"]
COLUMNS = FIRST + ["threads", "mask_sparsity", "effective_sparsity", "architecture", "latency_iqr_ms_b32"]
KB, MILLION = 1e3, 1e6


def deployment_table(deployment: Deployment, params: dict) -> Table | None:
    if deployment.per_seed.empty:
        return None
    shown = sort_rows(deployment.pooled, params)
    display = pd.DataFrame({
        "dataset": shown["dataset"],
        "model": shown["model"].map(model_label),
        "method": shown["method"].map(methods.label),
        "level": shown["level"],
        "sparsity %": (100 * shown["mask_sparsity"]).map(lambda v: number(v, 1)),
        "timed as": shown["architecture"],
        "runtime": shown["runtime"],
        "threads": shown["threads"],
        "non-zero parameters": shown["nonzero_parameters"].map(count),
        "MMACs (effective)": [f"{number(m / MILLION)} ({number(e / MILLION)})"
                              for m, e in zip(shown["macs"], shown["effective_macs"])],
        "KB dense / sparse / compressed": _triples(shown, ["bytes_dense", "bytes_sparse", "bytes_compressed"], KB, 1),
        "size × dense (dense / sparse / compressed)": _triples(
            shown, ["bytes_dense_ratio", "bytes_sparse_ratio", "bytes_compressed_ratio"], 1, 2),
        "latency ms, batch 1 (IQR)": _latency(shown, "b1"),
        "latency ms, batch 32 (IQR)": _latency(shown, "b32"),
        "latency × dense (batch 1 / 32)": _triples(shown, ["latency_ms_b1_ratio", "latency_ms_b32_ratio"], 1, 2),
        "accuracy % [95% CI]": [number(100 * a) if math.isnan(lo) else f"{100 * a:.2f} [{100 * lo:.2f}, {100 * hi:.2f}]"
                                for a, lo, hi in zip(shown["accuracy"], shown["ci_low"], shown["ci_high"])],
        "Δ accuracy vs dense (points) [95% CI]": shown["vs_dense"].map(_points),
        "seeds": shown["n_seeds"],
    })
    per_seed = deployment.per_seed
    numbers = sort_rows(per_seed, params)[COLUMNS]
    seeds = "means over seeds; the CSV has each seed" if per_seed["seed"].nunique() > 1 else "one seed"
    title = (f"Deployment: size, multiply-accumulates and CPU latency of each run, beside its test accuracy ({seeds}; "
             "× dense: the run's over the dense run's, sizes over its dense bytes; 95% intervals)")
    return Table(DEPLOYMENT_TABLE, title, numbers, display)


def _triples(shown: pd.DataFrame, columns: list[str], unit: float, digits: int) -> list[str]:
    """'a / b / c' of `columns` divided by `unit`."""
    return [" / ".join(number(v / unit, digits) for v in values) for values in shown[columns].itertuples(index=False)]


def _latency(shown: pd.DataFrame, batch: str) -> list[str]:
    return [MISSING if math.isnan(m) else f"{m:.2f} ({q:.2f})"
            for m, q in zip(shown[f"latency_ms_{batch}"], shown[f"latency_iqr_ms_{batch}"])]


def _points(paired) -> str:
    if paired is None or (isinstance(paired, float) and math.isnan(paired)):
        return MISSING
    return signed_interval(100 * paired.delta, 100 * paired.low, 100 * paired.high)
