"""Restarting a ticket: the weights of the checkpoint its job names (θ0, θk, or with no rewinding the
trained weights its mask was made from), with the pruned ones set to zero."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from deepfake_lth.errors import InputError
from deepfake_lth.io import load_tensors
from deepfake_lth.models.masking import Mask, masked_state


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
