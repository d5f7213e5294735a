"""The model registry: every model by name, its prunable tensors, and the parameter table.

Each model returns one logit per image (shape [B, 1]) for square RGB faces of side `image_size`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd
from torch import nn

from deepfake_lth.errors import InputError
from deepfake_lth.io import load_tensors
from deepfake_lth.models.cnn5 import CNN5
from deepfake_lth.models.mesonet import MesoNet
from deepfake_lth.models.resnet18 import build_resnet18

_BUILDERS: dict[str, Callable[[int], nn.Module]] = {
    "mesonet": MesoNet,
    "cnn5": CNN5,
    "resnet18": build_resnet18,
}
MODEL_NAMES = tuple(_BUILDERS)


def build_model(name: str, image_size: int, weights: str | Path | None = None) -> nn.Module:
    """A fresh model drawn from torch's global RNG (seed it first), optionally loaded from a local file."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model '{name}' (allowed: {', '.join(MODEL_NAMES)})")
    if name == "resnet18":
        return build_resnet18(image_size, weights)
    model = _BUILDERS[name](image_size)
    if weights is not None:
        load_weights(model, Path(weights))
    return model


def model_weights(params: dict, name: str) -> str | None:
    """The local weights file params.yaml names for this model (only ResNet-18 has one)."""
    return params.get("resnet18_weights") if name == "resnet18" else None


def load_weights(model: nn.Module, path: Path) -> None:
    """Load a plain state_dict file into `model`, raising InputError naming the file on any mismatch."""
    try:
        model.load_state_dict(load_tensors(path))
    except (RuntimeError, TypeError, AttributeError) as e:
        raise InputError(f"{path}: does not fit {type(model).__name__}: {e}") from None


def output_layer_name(model: nn.Module) -> str:
    """The module producing the logit: the last linear layer registered in the model."""
    linears = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no linear output layer")
    return linears[-1]


def prunable_parameter_names(model: nn.Module, prune_output_layer: bool = False) -> list[str]:
    """Names of the conv and linear weights, in model order; never biases or BatchNorm.

    The output layer's weight is included only with `prune_output_layer`.
    """
    output = output_layer_name(model)
    return [
        f"{name}.weight"
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear)) and (prune_output_layer or name != output)
    ]


def count_parameters(model: nn.Module, names: list[str] | None = None) -> int:
    """Number of parameter elements, of all parameters or of the named ones."""
    params = dict(model.named_parameters())
    return sum(params[n].numel() for n in (names if names is not None else params))


def parameter_table(params: dict) -> pd.DataFrame:
    """One row per registered model at the configured face size: total and prunable parameters."""
    size = params["faces"]["image_size"]
    rows = []
    for name in MODEL_NAMES:
        model = build_model(name, size)
        prunable = prunable_parameter_names(model, params["pruning"]["prune_output_layer"])
        rows.append({
            "model": name,
            "image_size": size,
            "total_parameters": count_parameters(model),
            "prunable_parameters": count_parameters(model, prunable),
        })
    return pd.DataFrame(rows)
