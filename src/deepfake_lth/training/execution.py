"""How a run executes on its device: precision, memory layout, kernel choice, compilation, peak memory.

These settings change speed, not the method: weights, optimiser state and BatchNorm statistics stay
fp32 whatever the precision (bf16 autocast only lowers the convolutions' and matrix products'
arithmetic), and the mask keeper zeroes pruned weights after every fp32 optimiser step, so pruned
weights stay exact zeros. `auto` means the fast path native to the device: bf16 autocast and
channels-last on CUDA, and on a CPU that computes bf16 in hardware (AMX or AVX-512 BF16, where oneDNN
runs bf16 convolutions natively) for the models whose registry entry takes it there (shown at accuracy
parity and faster by benchmarks/bench_precision_parity.py and bench_cpu_precision.py); fp32 and NCHW
otherwise, and on any other CPU, where bf16 is emulated and slower. On one machine class and thread
count, a rerun writes the same bytes either way.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import torch
from torch import nn

from deepfake_lth.models.registry import model_spec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Execution:
    """The resolved execution settings of one run (metrics.json `execution`, with the resident path)."""

    precision: str  # fp32 | bf16
    channels_last: bool
    deterministic: bool
    compile: bool


def cpu_bf16_support() -> str | None:
    """How this CPU computes bf16 natively: "amx" (AMX tiles), "avx512_bf16" (AVX-512 BF16), or None
    (emulated: slower than fp32)."""
    cpu = torch.cpu
    if getattr(cpu, "_is_amx_tile_supported", lambda: False)():
        return "amx"
    if getattr(cpu, "_is_avx512_bf16_supported", lambda: False)():
        return "avx512_bf16"
    return None


def _resolve(setting, fast: bool) -> bool:
    return fast if setting == "auto" else bool(setting)


def resolve_execution(training: dict, device: torch.device, model: str) -> Execution:
    """params `training.precision`, `channels_last`, `deterministic`, `compile` resolved for `device` and
    `model` (its registry entry's CPU defaults)."""
    cuda = device.type == "cuda"
    native = cuda or cpu_bf16_support() is not None
    spec = model_spec(model)
    fast_bf16 = cuda or (native and spec.cpu_bf16)
    fast_layout = cuda or (native and spec.cpu_channels_last)
    precision = training["precision"] if training["precision"] != "auto" else ("bf16" if fast_bf16 else "fp32")
    if precision == "bf16" and not native:
        log.warning("training.precision bf16 on a CPU without native bf16 (no AMX or AVX-512 BF16): emulated, "
                    "slower than fp32")
    return Execution(precision, _resolve(training["channels_last"], fast_layout),
                     _resolve(training["deterministic"], not cuda), bool(training["compile"]))


def configure_kernels(execution: Execution, device: torch.device) -> None:
    """On CUDA, deterministic kernels when asked for (we only warn where an op has none), otherwise
    cuDNN times and picks the fastest ones. On a CPU nothing is set: PyTorch's CPU kernels are
    deterministic apart from a documented list that these jobs do not use (reruns are tested to write
    the same bytes), and torch's switch imports its compiler stack, which costs a CPU job 1-2 s."""
    if device.type != "cuda":
        return
    torch.use_deterministic_algorithms(execution.deterministic, warn_only=True)
    torch.backends.cudnn.benchmark = not execution.deterministic


class Forward:
    """The model as training and evaluation call it: compiled or not, NHWC input or not, under autocast.

    The module itself stays uncompiled, so its state_dict keeps its plain names (torch.compile's
    wrapper would prefix them) and the mask keeper works on the same parameters.
    """

    def __init__(self, model: nn.Module, execution: Execution, device: torch.device):
        self.module = torch.compile(model) if execution.compile else model
        self.channels_last = execution.channels_last
        self.bf16 = execution.precision == "bf16"
        self.device_type = device.type

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16):
            logits = self.module(images)
        return logits.float()  # the loss and the metrics in fp32 (a no-op in fp32)


def prepare_model(model: nn.Module, execution: Execution, device: torch.device) -> nn.Module:
    """`model` on `device`, in NHWC layout when asked (parameters stay fp32)."""
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if execution.channels_last else model


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float | None:
    """The peak of device memory torch allocated since `reset_peak_memory`, in MiB; None on a CPU,
    where torch keeps no such count (and a process's RSS would make metrics.json differ run to run)."""
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


def execution_record(execution: Execution, device: torch.device, resident: bool) -> dict:
    """metrics.json `execution`: how the numbers were computed (device, precision, path, peak memory)."""
    cpu = {} if device.type == "cuda" else {"cpu_capability": torch.backends.cpu.get_cpu_capability(),
                                            "cpu_bf16": cpu_bf16_support()}
    return {"device": device.type, **asdict(execution), **cpu, "resident": resident,
            "peak_device_memory_mb": peak_memory_mb(device)}
