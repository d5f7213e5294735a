"""CPU latency of a network per image, in PyTorch and in ONNX Runtime on its ONNX export, measured with
`torch.utils.benchmark.Timer` (warm-up, then blocks of runs until `min_run_time`; the median and the
interquartile range over the blocks).

The network runs in fp32 and eval mode, in the NCHW layout, under `torch.inference_mode`: a deployment
setting, not the training one. ONNX Runtime is given `threads` intra-op threads and one inter-op thread;
PyTorch `threads` through the Timer. The exported graph has a dynamic batch dimension.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils import benchmark

WARM_UP = 3  # calls before timing: the first calls allocate and pick kernels
BATCH_SIZES = (1, 32)


@dataclass(frozen=True)
class Latency:
    """Milliseconds per image: the median over the timed blocks and their interquartile range."""

    median_ms: float
    iqr_ms: float


def _inputs(batch: int, image_size: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(batch)
    return torch.randn(batch, 3, image_size, image_size, generator=generator)


def _measure(stmt: str, scope: dict, threads: int, batch: int, min_run_time: float) -> Latency:
    timer = benchmark.Timer(stmt=stmt, globals=scope, num_threads=threads)
    for _ in range(WARM_UP):
        timer.timeit(1)
    measured = timer.blocked_autorange(min_run_time=min_run_time)
    return Latency(1e3 * measured.median / batch, 1e3 * measured.iqr / batch)


def torch_latency(net: nn.Module, image_size: int, threads: int, batch: int, min_run_time: float) -> Latency:
    """`net` (fp32, CPU, eval) on a batch of `batch` images, per image."""
    net = net.float().cpu().eval()
    scope = {"net": net, "x": _inputs(batch, image_size), "torch": torch}
    return _measure("with torch.inference_mode():\n    net(x)", scope, threads, batch, min_run_time)


def onnx_model(net: nn.Module, image_size: int) -> bytes:
    """The ONNX export of `net` (fp32, CPU, eval) with a dynamic batch dimension (torch.onnx's dynamo exporter)."""
    net = net.float().cpu().eval()
    for name in ("torch.onnx", "torch.export", "onnxscript", "onnx_ir"):  # the exporter reports every step at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    program = torch.onnx.export(net, (_inputs(1, image_size),), dynamo=True, verbose=False,
                                dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    return program.model_proto.SerializeToString()


def onnx_session(model: bytes, threads: int):
    """An ONNX Runtime CPU session of `model` on `threads` intra-op threads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def onnx_outputs(session, inputs: torch.Tensor):
    return session.run(None, {session.get_inputs()[0].name: inputs.numpy()})[0]


def onnx_latency(session, image_size: int, threads: int, batch: int, min_run_time: float) -> Latency:
    """`session` on a batch of `batch` images, per image."""
    scope = {"run": onnx_outputs, "session": session, "x": _inputs(batch, image_size)}
    return _measure("run(session, x)", scope, threads, batch, min_run_time)
