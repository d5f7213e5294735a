"""Reading the stages' result files (metrics.json, gradcam.json, through their records) into flat tables
for the report.

The report reads exactly the files its job in the stage table declares. Result files on disk that
the declared study does not contain (a dropped seed, dataset or model, a lowered pruning.levels)
are only listed, as ignored, so that no stale number reaches a table or figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from deepfake_lth.errors import InputError
from deepfake_lth.paths import LEVEL_FILES
from deepfake_lth.records import MetricsRecord, read_gradcam, read_metrics
from deepfake_lth.report.tables.cells import as_float

SPLIT_METRICS = ("accuracy", "auc", "eer", "ap", "loss", "n")
COUNT_KEYS = ("remaining_weights", "prunable_weights", "total_parameters", "epochs", "best_epoch")


@dataclass(frozen=True)
class ReportInputs:
    """The result files of the report job: what it reads, what is declared but absent, what it ignores."""

    metrics: list[Path]  # declared metrics.json files that exist, in declaration order
    predictions: dict[Path, Path]  # each declared metrics.json -> the predictions.csv declared beside it
    gradcam: list[Path]  # declared gradcam.json files that exist
    missing: list[Path]  # declared, not found (their jobs have not run)
    damaged: list[Path]  # declared masks not found beside their run's metrics.json: its overlap pairs are left out
    ignored: list[Path]  # result files under results/ that the declared study does not contain
    robustness: dict[Path, Path] = field(default_factory=dict)  # a scored run's metrics.json -> its robustness.csv
    generalization: dict[Path, Path] = field(default_factory=dict)  # a scored run's metrics.json -> its generalization.csv
    deployment: list[Path] = field(default_factory=list)  # declared deployment.csv files (one per setting) that exist


def sort_report_inputs(job, on_disk: list[Path]) -> ReportInputs:
    """Split the report `job`'s declared inputs into present and missing, and find the undeclared among
    the result files `on_disk` (paths.result_files_on_disk)."""
    declared_metrics, declared_gradcam = list(job.inputs["metrics"]), list(job.inputs["gradcam"])
    declared_robustness = list(map(Path, job.inputs["robustness"]))
    declared_generalization = list(map(Path, job.inputs["generalization"]))
    declared_deployment = list(map(Path, job.inputs["deployment"]))
    declared = {Path(p) for p in declared_metrics + declared_gradcam}
    made = [p for p in declared_metrics if p.is_file()]
    made_runs = {Path(p).parent for p in made}
    return ReportInputs(
        metrics=made,
        predictions=dict(zip(map(Path, declared_metrics), map(Path, job.inputs["predictions"]))),
        gradcam=[p for p in declared_gradcam if p.is_file()],
        missing=[p for p in declared_metrics + declared_gradcam + declared_robustness + declared_generalization
                 + declared_deployment if not p.is_file()],
        damaged=[mask for mask in map(Path, job.inputs["masks"]) if mask.parent in made_runs and not mask.is_file()],
        ignored=sorted(p for p in on_disk if p not in declared),
        robustness={path.with_name(LEVEL_FILES["metrics"]): path for path in declared_robustness if path.is_file()},
        generalization={path.with_name(LEVEL_FILES["metrics"]): path for path in declared_generalization
                        if path.is_file()},
        deployment=[path for path in declared_deployment if path.is_file()],
    )


def collect_metrics(files: list[Path], results_dir: str | Path) -> pd.DataFrame:
    """One row per metrics.json: identity, measured sparsity and counts, and the split metrics.

    Split metrics become columns `<split>_<metric>` (e.g. test_accuracy, fractions as written);
    video-level ones `<split>_video_<metric>`. Raise InputError when there is no metrics file at
    all, or naming the file when one is not a metrics record (MetricsRecord.REQUIRED missing, say).
    """
    if not files:
        raise InputError(f"{Path(results_dir)}: no metrics.json of the declared study under runs/ or transfer/ "
                         "(run the train and prune stages first)")
    return pd.DataFrame([_metrics_row(path, read_metrics(path)) for path in files])


def _metrics_row(path: Path, metrics: MetricsRecord) -> dict:
    row = {
        "path": str(path),
        "stage": metrics.stage,
        "dataset": metrics.dataset,
        "source_dataset": metrics.source_dataset,
        "model": metrics.model,
        "seed": int(metrics.seed),
        "method": metrics.method,
        "level": int(metrics.level),
        "nominal_sparsity": as_float(metrics.nominal_sparsity),
        "sparsity": as_float(metrics.sparsity),
        "stopped_early": metrics.stopped_early,
        "version": metrics.version,
        "params": metrics.params or {},
        "per_layer": metrics.per_layer or {},
        "collapsed_layers": ", ".join(metrics.collapsed_layers),
    }
    for key in COUNT_KEYS:
        row[key] = as_float(getattr(metrics, key))
    for split, values in metrics.splits.items():
        values = values or {}
        for name in SPLIT_METRICS:
            row[f"{split}_{name}"] = as_float(values.get(name))
        for name in SPLIT_METRICS:
            row[f"{split}_video_{name}"] = as_float((values.get("video") or {}).get(name))
    return row


def collect_gradcam(files: list[Path]) -> list[dict]:
    """The contents of each gradcam.json (GradcamRecord.to_dict), each with its `path` added."""
    return [{**read_gradcam(path).to_dict(), "path": str(path)} for path in files]
