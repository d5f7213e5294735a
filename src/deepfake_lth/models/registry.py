"""The model registry: one entry per model carrying its facts, and the functions every stage asks.

An entry (`ModelSpec`) holds the model's name (as in params.yaml and folder names), its display name,
its builder, its Grad-CAM target layer, its prunable-tensor rule and its jobs' share of a GPU. Any model
may start from a local state_dict file (params.yaml `model_weights: {name: file}`). Adding a model is its
module plus one entry here (or one `register` call); nothing else keeps a list of models.

Torch-free at import on purpose: the Snakefile validates params.yaml (model names) while parsing, and
the builders import their model modules only when a model is built. Each model returns one logit per
image (shape [B, 1]) for square RGB faces of side `image_size`.
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from deepfake_lth.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    from torch import nn

Builder = Callable[[int, "str | Path | None"], "nn.Module"]  # (image_size, weights file) -> fresh model
TargetLayer = Callable[["nn.Module"], "list[nn.Module]"]  # model -> the layers Grad-CAM weighs
PrunableRule = Callable[["nn.Module", bool], "list[str]"]  # (model, prune_output_layer) -> parameter names
NAME_ATTRIBUTE = "registered_model_name"  # set by build_model: the model's entry, for its prunable rule


def output_layer_name(model: nn.Module) -> str:
    """The module producing the logit: the last linear layer registered in the model."""
    from torch import nn

    linears = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no linear output layer")
    return linears[-1]


def conv_and_linear_weights(model: nn.Module, prune_output_layer: bool = False) -> list[str]:
    """The default prunable rule: conv and linear weights in model order; never biases or BatchNorm.

    The output layer's weight is included only with `prune_output_layer`.
    """
    from torch import nn

    output = output_layer_name(model)
    return [
        f"{name}.weight"
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear)) and (prune_output_layer or name != output)
    ]


def last_block_output(model: nn.Module) -> list[nn.Module]:
    """Grad-CAM target of the MesoNet family and CNN-5 (PAPER.md's default, the last conv block): the
    last block of `features`, at its output before pooling (MesoNet: after its BatchNorm, which follows
    the ReLU; CNN-5: its ReLU), which keeps a map 2x (CNN-5) or 4x (MesoNet) finer than the pooled
    output. No later layer modifies it in place."""
    from torch import nn

    block = list(model.features[-1])
    pools = [i for i, m in enumerate(block) if isinstance(m, nn.MaxPool2d)]
    return [block[pools[-1] - 1]]


def last_residual_block(model: nn.Module) -> list[nn.Module]:
    """Grad-CAM target of ResNet-18: the last block, `layer4[-1]`."""
    return [model.layer4[-1]]


def last_exit_flow_activation(model: nn.Module) -> list[nn.Module]:
    """Grad-CAM target of XceptionNet: `act4`, the ReLU after the exit flow's last separable conv and its
    BatchNorm (`conv4`, `bn4`), the last feature map before global pooling (10x10 at 299 px)."""
    return [model.act4]


@dataclass(frozen=True)
class ModelSpec:
    """One model's facts: every stage asks its entry instead of keeping a list by model name."""

    name: str  # as in params.yaml, folder names and metrics.json
    label: str  # as in tables and figures
    build: Builder
    target_layer: TargetLayer
    prunable: PrunableRule = conv_and_linear_weights
    keras_original: str | None = None  # the class of the MesoNet authors' classifiers.py whose .h5 import-weights reads
    # Its training jobs' share of one GPU, in slots (`snakemake --resources gpu_slots=N`: N slots make the
    # GPU; the GPU profile gives 4). A small model leaves a GPU mostly idle, so several of its runs share one;
    # a large one fills the GPU alone (by FLOPs per image, see benchmarks/bench_paper_scale.py).
    gpu_slots: int = 1
    defaults: tuple[str, ...] = ()  # the params keys whose default names this model
    description: str = ""  # for the report: where Grad-CAM looks in it (its target layer, in words)
    paper_gradcam: bool = False  # the model of the paper's Grad-CAM figure (Fig. 3), which the report draws first
    # What `auto` resolves to on a CPU with native bf16 (training/execution.py): bf16 autocast and channels-last
    # once benchmarks/bench_precision_parity.py shows its bf16 runs within a seed's reach of fp32 and
    # bench_cpu_precision.py faster; fp32/NCHW until then, or where either fails (docs/performance.md).
    cpu_bf16: bool = False
    cpu_channels_last: bool = False

    @property
    def module(self) -> str:
        """The module its builder imports (a job building it depends on that file, see code_deps.py)."""
        return getattr(self.build, "module", self.build.__module__)


def lazy_builder(path: str, loads_weights: bool = False) -> Builder:
    """A builder for the callable at 'module:attribute', imported on first use.

    It is called as `attribute(image_size)` and a weights file is then loaded strictly (`load_weights`),
    or, with `loads_weights`, as `attribute(image_size, weights)` (it loads its own file).
    """
    module, _, attribute = path.partition(":")

    def build(image_size: int, weights: str | Path | None = None) -> nn.Module:
        make = getattr(importlib.import_module(module), attribute)
        if loads_weights:
            return make(image_size, weights)
        model = make(image_size)
        if weights is not None:
            load_weights(model, Path(weights))
        return model

    build.__qualname__ = build.__name__ = f"build_{attribute}"
    build.module = module
    return build


_MESO_TARGET = ("the output of the last conv block before its pooling, after its BatchNorm, which follows the ReLU "
                "as in the authors' Keras model")
_REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in (  # the study's models, in report order
    ModelSpec("mesonet", "MesoNet", lazy_builder("deepfake_lth.models.mesonet:MesoNet"), last_block_output,
              keras_original="Meso4", description=_MESO_TARGET, cpu_bf16=True, cpu_channels_last=True),
    ModelSpec("mesoinception", "MesoInception-4", lazy_builder("deepfake_lth.models.mesonet:MesoInception"),
              last_block_output, keras_original="MesoInception4", description=_MESO_TARGET),
    ModelSpec("cnn5", "CNN-5", lazy_builder("deepfake_lth.models.cnn5:CNN5"), last_block_output,
              description="the output of the last conv block before its pooling, its ReLU", cpu_bf16=True,
              cpu_channels_last=True),
    ModelSpec("resnet18", "ResNet-18", lazy_builder("deepfake_lth.models.resnet18:build_resnet18", loads_weights=True),
              last_residual_block, gpu_slots=4, defaults=("gradcam.models",), description="`layer4[-1]`",
              paper_gradcam=True),
    ModelSpec("xception", "XceptionNet", lazy_builder("deepfake_lth.models.xception:build_xception"),
              last_exit_flow_activation, gpu_slots=4, description="`act4`, the exit flow's last activation"),
)}
MODEL_NAMES = tuple(_REGISTRY)  # the built-in models; model_names() includes later registrations


def register(spec: ModelSpec) -> ModelSpec | None:
    """Add `spec` (replacing an entry of the same name); return the entry it replaced, if any."""
    previous = _REGISTRY.get(spec.name)
    _REGISTRY[spec.name] = spec
    return previous


@contextlib.contextmanager
def registered(spec: ModelSpec) -> Iterator[ModelSpec]:
    """`spec` registered for the duration of the block; afterwards the registry is as before."""
    previous = register(spec)
    try:
        yield spec
    finally:
        if previous is None:
            _REGISTRY.pop(spec.name, None)
        else:
            _REGISTRY[spec.name] = previous


def model_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def model_defaults() -> dict[str, list[str]]:
    """Params key -> the models its default names, in registry order (params validation fills them in)."""
    result: dict[str, list[str]] = {}
    for spec in _REGISTRY.values():
        for key in spec.defaults:
            result.setdefault(key, []).append(spec.name)
    return result


def keras_models() -> tuple[str, ...]:
    """The models whose authors' Keras weights files import-weights reads."""
    return tuple(name for name, spec in _REGISTRY.items() if spec.keras_original)


def model_spec(name: str) -> ModelSpec:
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model '{name}' (allowed: {', '.join(_REGISTRY)})")
    return _REGISTRY[name]


def model_label(name: str) -> str:
    """The display name of a registered model; an unknown name stands for itself."""
    return _REGISTRY[name].label if name in _REGISTRY else name


def build_model(name: str, image_size: int, weights: str | Path | None = None) -> nn.Module:
    """A fresh model drawn from torch's global RNG (seed it first), optionally loaded from a local file."""
    model = model_spec(name).build(image_size, weights)
    setattr(model, NAME_ATTRIBUTE, name)  # a plain attribute: not a parameter, not in the state_dict
    return model


def model_weights(params: dict, name: str) -> str | None:
    """The local state_dict file params.yaml's `model_weights` names for this model (None: random init)."""
    return params.get("model_weights", {}).get(name)


def check_model_weights(params: dict, source: str = "params.yaml") -> None:
    """Each weights file params.yaml's `model_weights` names exists, loads with weights_only=True and fits its
    model at the configured face size; else ConfigError naming the key (what train would meet, found earlier)."""
    from deepfake_lth.errors import ConfigError, InputError

    for name, path in params.get("model_weights", {}).items():
        if path is None:
            continue
        try:
            build_model(name, params["faces"]["image_size"], path)
        except (InputError, OSError) as e:
            raise ConfigError(f"{source}: key 'model_weights.{name}': {e}") from None


def load_weights(model: nn.Module, path: Path) -> None:
    """Load a plain state_dict file into `model`, raising InputError naming the file on any mismatch."""
    from deepfake_lth.errors import InputError
    from deepfake_lth.io import load_tensors

    try:
        model.load_state_dict(load_tensors(path))
    except (RuntimeError, TypeError, AttributeError) as e:
        raise InputError(f"{path}: does not fit {type(model).__name__}: {' '.join(str(e).split())}") from None


def prunable_parameter_names(model: nn.Module, prune_output_layer: bool = False) -> list[str]:
    """The prunable tensors by the rule of the model's entry (a model not from build_model: the default
    rule, conv and linear weights without the output layer unless `prune_output_layer`)."""
    name = getattr(model, NAME_ATTRIBUTE, None)
    rule = _REGISTRY[name].prunable if name in _REGISTRY else conv_and_linear_weights
    return rule(model, prune_output_layer)


def count_parameters(model: nn.Module, names: list[str] | None = None) -> int:
    """Number of parameter elements, of all parameters or of the named ones."""
    params = dict(model.named_parameters())
    return sum(params[n].numel() for n in (names if names is not None else params))


def parameter_table(params: dict) -> pd.DataFrame:
    """One row per registered model at the configured face size: total and prunable parameters."""
    import pandas as pd

    size = params["faces"]["image_size"]
    rows = []
    for name in model_names():
        model = build_model(name, size)
        prunable = prunable_parameter_names(model, params["pruning"]["prune_output_layer"])
        rows.append({
            "model": name,
            "image_size": size,
            "total_parameters": count_parameters(model),
            "prunable_parameters": count_parameters(model, prunable),
        })
    return pd.DataFrame(rows)
