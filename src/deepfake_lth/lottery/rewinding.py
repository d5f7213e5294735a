"""Where a ticket restarts from: θ0, θk, or (no rewinding) the trained weights its mask was made from."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from deepfake_lth.errors import InputError
from deepfake_lth.io import load_tensors
from deepfake_lth.models.masking import Mask, masked_state

REWIND_POINTS = ("init", "iteration", "none")


def rewind_path(rewind: str, dense_dir: Path, trained: Path) -> Path:
    """The checkpoint a ticket's surviving weights are reset to for `pruning.rewind`.

    init: the dense run's init.pt (θ0); iteration: its rewind.pt (θk); none: `trained`, the
    weights the mask was computed from (the paper's Algorithm 1 read literally).
    """
    if rewind == "init":
        return Path(dense_dir) / "init.pt"
    if rewind == "iteration":
        return Path(dense_dir) / "rewind.pt"
    if rewind == "none":
        return Path(trained)
    raise ValueError(f"unknown rewind point '{rewind}' (allowed: {', '.join(REWIND_POINTS)})")


def read_state(path: Path, model: nn.Module) -> dict:
    """Load a state_dict file and check it fits `model` (InputError naming the file otherwise)."""
    state = load_tensors(path)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise InputError(f"{path}: does not fit {type(model).__name__}: {e}") from None
    return state


def rewind_weights(path: Path, model: nn.Module, mask: Mask) -> dict:
    """The state a ticket starts training from: `path`'s weights with the masked ones set to zero."""
    return masked_state(read_state(path, model), mask)
