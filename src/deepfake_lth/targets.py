"""The study's file targets by kind: views of the stage table (stages.py), never a second description."""

from __future__ import annotations

from pathlib import Path

from deepfake_lth import methods, stages
from deepfake_lth.config import (  # noqa: F401 (the study's shape, for callers of this module)
    control_levels, gradcam_levels, synthetic_datasets, transfer_levels, transfer_pairs,
)

LEVEL_RULES = tuple(methods.FAMILY_RULES[family] for family in (methods.IMP, methods.ONESHOT))  # the tickets' rules


def _outputs(params: dict, rules: tuple[str, ...], name: str) -> list[Path]:
    return [job.outputs[name] for job in stages.study(params) if job.rule in rules]


def face_stores(params: dict) -> list[Path]:
    return _outputs(params, ("faces",), "store")


def dense_metrics(params: dict) -> list[Path]:
    return _outputs(params, ("train",), "metrics")


def level_metrics(params: dict) -> list[Path]:
    """IMP and one-shot levels 1..L of every configured method."""
    return _outputs(params, LEVEL_RULES, "metrics")


def control_metrics(params: dict) -> list[Path]:
    return _outputs(params, (methods.FAMILY_RULES[methods.CONTROL],), "metrics")


def transfer_metrics(params: dict) -> list[Path]:
    return _outputs(params, ("transfer",), "metrics")


def gradcam_outputs(params: dict) -> list[Path]:
    return _outputs(params, ("gradcam",), "record")


def all_metrics(params: dict) -> list[Path]:
    return dense_metrics(params) + level_metrics(params) + control_metrics(params) + transfer_metrics(params)


def report_inputs(params: dict) -> list[Path]:
    """Every file the report reads: the declared metrics, Grad-CAM records and grids."""
    return stages.study(params)[-1].input_files()
