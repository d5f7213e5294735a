"""Checkpoints of a run: θ0 and θk of the dense run, and resume.pt for resuming after each epoch.

resume.pt is written atomically after each epoch and holds the model, the optimiser, the `Progress`
and the best weights so far; since every random draw of an epoch is a function of (seed, epoch), a
run resumed from it replays exactly what the uninterrupted run would have done, whatever
`num_workers` is. A fingerprint of the run's inputs keeps a stale resume.pt from being used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from deepfake_lth import paths
from deepfake_lth.errors import InputError
from deepfake_lth.io import load_tensors, save_tensors
from deepfake_lth.models.masking import Mask
from deepfake_lth.training.inputs import RunIdentity

log = logging.getLogger(__name__)

RESUME = paths.RESUME_FILE


@dataclass
class Progress:
    """Everything about a run that resume.pt must restore besides the model and optimiser."""

    epoch: int = 0  # epochs completed
    steps: int = 0  # optimiser steps taken
    best_epoch: int = 0
    best_loss: float = math.inf
    bad_epochs: int = 0
    history: list[dict] = field(default_factory=list)


def cpu_state(model: nn.Module) -> dict:
    """A detached, contiguous CPU copy of the model's state_dict (the same bytes whatever the layout
    it trained in: training.channels_last)."""
    return {k: v.detach().to("cpu", memory_format=torch.contiguous_format, copy=True)
            for k, v in model.state_dict().items()}


@dataclass
class DenseCheckpoints:
    """θ0 and θk of a dense run: init.pt before the first step, rewind.pt after `rewind_step` steps."""

    init: Path
    rewind: Path
    rewind_step: int


def _fingerprint(identity: RunIdentity, record: dict, model: nn.Module, mask: Mask) -> str:
    """Identifies a run's inputs, so a stale resume.pt (other params or start weights) is never used."""
    digest = hashlib.sha256(json.dumps([asdict(identity), record], sort_keys=True, default=str).encode())
    for tensors in (model.state_dict(), mask):
        for name, value in tensors.items():
            digest.update(name.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _save_resume(path: Path, key: str, model, optimizer, progress: Progress, best_state: dict) -> None:
    save_tensors(path, {
        "key": key, "model": cpu_state(model), "optimizer": optimizer.state_dict(),
        "progress": asdict(progress), "best_state": best_state,
    })


def _load_resume(path: Path, key: str, model, optimizer) -> tuple[Progress, dict] | None:
    """Restore model and optimiser from resume.pt if it belongs to this run; else None."""
    if not path.is_file():
        return None
    try:
        saved = load_tensors(path)
    except InputError as e:
        log.warning("%s; starting the run afresh", e)
        return None
    if saved.get("key") != key:
        log.warning("%s: left by a run with other inputs; starting afresh", path)
        return None
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    log.info("%s: resuming after epoch %d", path, saved["progress"]["epoch"])
    return Progress(**saved["progress"]), saved["best_state"]
