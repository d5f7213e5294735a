"""ResNet-18 (He et al. 2016) from torchvision with a one-logit head; nothing is downloaded.

Randomly initialised by default. `weights` may name a local state_dict file (for example an
ImageNet checkpoint saved earlier): every backbone tensor is loaded from it; its `fc` is loaded
only when its shape is the one-logit head's, otherwise the head stays freshly initialised.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from deepfake_lth.errors import InputError
from deepfake_lth.io import load_tensors


def build_resnet18(image_size: int = 128, weights: str | Path | None = None) -> nn.Module:
    """torchvision ResNet-18 with a one-logit head, optionally loaded from a local state_dict file.

    `image_size` is accepted for the registry's uniform signature: adaptive pooling makes the
    network size-independent (it runs from 32 px upwards).
    """
    from torchvision.models import resnet18 as torchvision_resnet18  # imported here: torchvision costs a second

    model = torchvision_resnet18(weights=None, num_classes=1)
    if weights is not None:
        load_backbone(model, Path(weights))
    return model


def load_backbone(model: nn.Module, path: Path) -> None:
    """Load `path` into `model`; every tensor but a differently shaped `fc` must match exactly."""
    state = load_tensors(path)
    if not isinstance(state, dict):
        raise InputError(f"{path}: expected a state_dict (a dict of tensors), got {type(state).__name__}")
    own = model.state_dict()
    head = {k: v for k, v in state.items() if k.startswith("fc.") and v.shape != own.get(k, v).shape}
    state = {k: v for k, v in state.items() if k not in head}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # a tensor of the wrong shape
        raise InputError(f"{path}: not a ResNet-18 state_dict: {e}") from None
    missing = [k for k in missing if not (head and k.startswith("fc."))]
    if missing or unexpected:
        raise InputError(
            f"{path}: not a ResNet-18 state_dict (missing: {', '.join(missing[:5]) or '-'}; "
            f"unexpected: {', '.join(unexpected[:5]) or '-'})"
        )
