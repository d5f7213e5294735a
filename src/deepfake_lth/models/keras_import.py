"""The authors' Keras weights (.h5) as a plain state_dict of this project's Meso-4 or MesoInception-4.

Reads the weights files of Afchar et al.'s released models (Meso4_DF, Meso4_F2F, MesoInception_DF,
MesoInception_F2F: Keras 2 `save_weights`), of Keras' `model.save('*.h5')` and of Keras 3's
`save_weights('*.weights.h5')`. Nothing is downloaded: the user points at a file they have.

Keras layers are matched to the model's conv, BatchNorm and linear modules kind by kind, in the order
they were created (the number Keras appends to a layer's name: a functional model's file lists its
layers in graph order, which for an Inception layer is not the order of its branches). On the way:
conv kernels HWIO -> OIHW, dense kernels (in, out) -> (out, in), the first dense layer's rows
permuted from Keras' NHWC flatten to PyTorch's NCHW one, and BatchNorm's gamma, beta, moving mean
and moving variance carried over. The authors' models take RGB in [0, 1] (params.yaml
normalization: mean 0, std 1) and end in a sigmoid, of which these models return the logit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deepfake_lth.errors import InputError
from deepfake_lth.io import save_tensors
from deepfake_lth.models.mesonet import FEATURE_CHANNELS, flattened_features
from deepfake_lth.models.registry import build_model, keras_models, model_label

AUTHORS_IMAGE_SIZE = 256
KINDS = {nn.Conv2d: "conv", nn.BatchNorm2d: "BatchNorm", nn.Linear: "dense"}


@dataclass(frozen=True)
class KerasLayer:
    name: str
    arrays: tuple[np.ndarray, ...]  # in Keras' order: kernel, bias | gamma, beta, moving mean, moving variance

    @property
    def kind(self) -> str:
        dims = [a.ndim for a in self.arrays]
        return {(4, 1): "conv", (2, 1): "dense", (1, 1, 1, 1): "BatchNorm"}.get(tuple(dims), "other")

    def describe(self) -> str:
        return f"'{self.name}' ({self.kind}, " + " ".join("x".join(map(str, a.shape)) for a in self.arrays) + ")"


def read_keras_layers(path: Path) -> list[KerasLayer]:
    """The layers with weights of a Keras .h5 file, in the order Keras created them."""
    import h5py  # imported here: only this command needs it

    try:
        handle = h5py.File(path, "r")
    except OSError:
        raise InputError(f"{path}: not an HDF5 file (expected a Keras .h5 weights file)") from None
    with handle as f:
        if "layer_names" in f.attrs or "model_weights" in f:  # Keras 2 save_weights / model.save('*.h5')
            group = f["model_weights"] if "model_weights" in f else f
            layers = [_legacy_layer(group[_text(name)]) for name in group.attrs.get("layer_names", [])]
        elif isinstance(f.get("layers"), h5py.Group):  # Keras 3 save_weights('*.weights.h5')
            layers = [_native_layer(key, f["layers"][key]) for key in f["layers"]]
        else:
            raise InputError(f"{path}: an HDF5 file but not Keras weights (no 'layer_names' and no 'layers' group)")
    layers = [layer for layer in layers if layer.arrays]
    return sorted(layers, key=lambda layer: _creation_number(layer.name))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _legacy_layer(group) -> KerasLayer:
    names = [_text(n) for n in group.attrs.get("weight_names", [])]
    return KerasLayer(group.name.rsplit("/", 1)[-1], tuple(np.asarray(group[n]) for n in names))


def _native_layer(key: str, group) -> KerasLayer:
    variables = group.get("vars", {})
    name = _text(variables.attrs["name"]) if hasattr(variables, "attrs") and "name" in variables.attrs else key
    return KerasLayer(name, tuple(np.asarray(variables[str(i)]) for i in range(len(variables))))


def _creation_number(name: str) -> int:
    """Keras names the n-th layer of a kind `<kind>_<n>` (the first `<kind>` or `<kind>_1`)."""
    match = re.fullmatch(r".*?_(\d+)", name)
    return int(match.group(1)) if match else 0


def keras_state_dict(path: str | Path, model_name: str, image_size: int = AUTHORS_IMAGE_SIZE) -> dict:
    """The state_dict of the registry's `model_name` at `image_size` holding the weights of a Keras file.

    InputError naming the file: not HDF5, not Keras weights, a layer that does not fit the model
    (another architecture), or a dense layer made for another image size.
    """
    path = Path(path)
    if model_name not in keras_models():
        raise ValueError(f"no Keras original for model '{model_name}' (allowed: {', '.join(keras_models())})")
    model = build_model(model_name, image_size)
    label = model_label(model_name)
    layers = read_keras_layers(path)
    others = [layer for layer in layers if layer.kind == "other"]
    if others:
        raise InputError(f"{path}: layer {others[0].describe()} is not a conv, BatchNorm or dense layer of {label}")
    queues = {kind: [layer for layer in layers if layer.kind == kind] for kind in KINDS.values()}
    flatten = next(name for name, module in model.named_modules() if isinstance(module, nn.Linear))
    state = model.state_dict()
    for name, module in model.named_modules():
        kind = KINDS.get(type(module))
        if kind is None:
            continue
        if not queues[kind]:
            raise InputError(f"{path}: has no Keras {kind} layer for {label}'s '{name}': a file of another model?")
        layer = queues[kind].pop(0)
        if name == flatten:
            _check_image_size(path, layer, module, image_size)
        for suffix, tensor in _converted(layer, flattened=name == flatten).items():
            if tuple(tensor.shape) != tuple(state[f"{name}.{suffix}"].shape):
                raise InputError(f"{path}: Keras layer {layer.describe()} does not fit {label}'s '{name}' "
                                 f"({_describe(module)}): a file of another model?")
            state[f"{name}.{suffix}"] = tensor
    extra = [layer for queue in queues.values() for layer in queue]
    if extra:
        raise InputError(f"{path}: Keras layer {extra[0].describe()} has no counterpart in {label}: a file of another model?")
    return state


def _check_image_size(path: Path, layer: KerasLayer, module: nn.Linear, image_size: int) -> None:
    """The first dense layer takes 16 * side^2 features, side = ceil(image_size / 32): check `image_size`."""
    inputs = layer.arrays[0].shape[0]
    if inputs == module.in_features or layer.arrays[0].shape[1] != module.out_features:
        return  # fits, or another architecture (reported by the shape check)
    side = math.isqrt(inputs // FEATURE_CHANNELS)
    if FEATURE_CHANNELS * side * side != inputs:
        raise InputError(f"{path}: dense layer '{layer.name}' takes {inputs} features, which no image size gives "
                         f"(16 x side^2 expected): a file of another model?")
    raise InputError(f"{path}: dense layer '{layer.name}' takes {inputs} features, made for images of "
                     f"{32 * (side - 1) + 1}-{32 * side} px (the authors': {AUTHORS_IMAGE_SIZE}), not --image-size "
                     f"{image_size} ({flattened_features(image_size)} features)")


def _converted(layer: KerasLayer, flattened: bool = False) -> dict[str, torch.Tensor]:
    """A Keras layer's arrays as the PyTorch module's tensors (`flattened`: the dense layer after Flatten)."""
    arrays = [np.asarray(a, dtype=np.float32) for a in layer.arrays]
    if layer.kind == "BatchNorm":
        return dict(zip(("weight", "bias", "running_mean", "running_var"), map(torch.from_numpy, arrays)))
    kernel, bias = arrays
    side = math.isqrt(kernel.shape[0] // FEATURE_CHANNELS)
    if layer.kind == "conv":
        kernel = kernel.transpose(3, 2, 0, 1)  # HWIO -> OIHW
    elif flattened and FEATURE_CHANNELS * side * side == kernel.shape[0]:  # rows flattened NHWC -> columns NCHW
        kernel = kernel.reshape(side, side, FEATURE_CHANNELS, -1).transpose(3, 2, 0, 1).reshape(kernel.shape[1], -1)
    else:
        kernel = kernel.T
    return {"weight": torch.from_numpy(np.ascontiguousarray(kernel)), "bias": torch.from_numpy(bias)}


def _describe(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        return f"conv {module.kernel_size[0]}x{module.kernel_size[1]}, {module.in_channels} -> {module.out_channels}"
    if isinstance(module, nn.Linear):
        return f"dense {module.in_features} -> {module.out_features}"
    return f"BatchNorm of {module.num_features}"


def import_keras_weights(keras_file: str | Path, model_name: str, out: str | Path,
                         image_size: int = AUTHORS_IMAGE_SIZE) -> dict:
    """Write the Keras file's weights as a state_dict file `out` (params.yaml model_weights); return it."""
    state = keras_state_dict(keras_file, model_name, image_size)
    build_model(model_name, image_size).load_state_dict(state)  # strict: every tensor of the model is there
    save_tensors(out, state)
    return state
