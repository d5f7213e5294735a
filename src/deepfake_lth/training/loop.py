"""The epoch loop and evaluation: seeded data order and flips, one pass of training, predictions.

Every random draw of an epoch is a pure function of (seed, epoch): the data order (`EpochShuffle`),
the flips and dropout, each from its own sub-stream. Flips are drawn here, in the main process,
rather than inside the dataset, because persistent DataLoader workers would carry their RNG state
across epochs.
"""

from __future__ import annotations

import inspect
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Sampler
from tqdm import tqdm

from deepfake_lth.device import derive_seed
from deepfake_lth.metrics import split_metrics
from deepfake_lth.models.masking import MaskKeeper
from deepfake_lth.training.execution import Forward

# Sub-streams of an epoch's randomness, mixed with (seed, epoch) by derive_seed.
_ORDER, _FLIPS, _TORCH = 0, 1, 2


class EpochShuffle(Sampler[int]):
    """A permutation of range(n) that is a pure function of (seed, epoch); call `set_epoch` first."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def permutation(self) -> torch.Tensor:
        """This epoch's order as a tensor (the resident path gathers with it on the device)."""
        generator = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch, _ORDER))
        return torch.randperm(self.n, generator=generator)

    def __iter__(self):
        return iter(self.permutation().tolist())

    def __len__(self) -> int:
        return self.n


def make_loader(dataset, batch_size: int, num_workers: int, seed: int, device: torch.device,
                sampler: Sampler | None = None) -> DataLoader:
    """A DataLoader whose own seeded generator (not torch's global RNG) seeds its workers."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        shuffle=False,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(seed),
    )


def random_hflip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image of a batch left-right with probability 0.5 drawn from `generator` (in place)."""
    chosen = (torch.rand(len(images), generator=generator) < 0.5).nonzero().squeeze(1)
    chosen = chosen.to(images.device, non_blocking=True)  # a blocking copy would wait for the GPU every batch
    return images.index_copy_(0, chosen, images.index_select(0, chosen).flip(-1))


def train_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer, device: torch.device,
                keeper: MaskKeeper | None = None, flips: torch.Generator | None = None,
                on_step: Callable[[], None] | None = None, desc: str = "train",
                forward: Forward | None = None) -> tuple[float, float]:
    """One pass over `loader` (a DataLoader or resident batches); returns the mean training loss and
    accuracy (sums kept on the device). `forward` calls the model (default: `model` itself)."""
    model.train()
    forward = forward or model
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    seen = 0
    for images, labels in tqdm(loader, desc=desc, unit="batch", leave=False, mininterval=2.0):
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        if flips is not None:
            images = random_hflip(images, flips)
        logits = forward(images).squeeze(1)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if keeper is not None:
            keeper.zero_gradients()
        optimizer.step()
        if keeper is not None:
            keeper.zero_weights()
        loss_sum += loss.detach() * len(labels)
        correct += ((logits.detach() >= 0) == (labels >= 0.5)).sum()
        seen += len(labels)
        if on_step is not None:
            on_step()
    return float(loss_sum) / seen, int(correct) / seen


@torch.no_grad()
def predict(model: nn.Module, loader: Iterable, device: torch.device,
            forward: Forward | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Logits (float64) and labels of every image of `loader`, in order."""
    model.eval()
    forward = forward or model
    # Filled in place, not collected in a list: small long-lived tensors allocated between each
    # batch's large ones pin glibc's heap, which then keeps every batch (~13 MB at 128 px: GBs for
    # a large split).
    logits = torch.empty(len(loader.dataset), dtype=torch.float64)
    labels = torch.empty(len(loader.dataset), dtype=torch.int64)
    start = 0
    for images, y in loader:
        end = start + len(y)
        logits[start:end] = forward(images.to(device, non_blocking=True)).squeeze(1)
        labels[start:end] = y
        start = end
    return logits.numpy(), labels.numpy()


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, loader: Iterable, device: torch.device,
                          forward: Forward | None = None) -> None:
    """Replace every BatchNorm layer's running statistics by their exact mean over `loader`.

    With few optimiser steps the exponential running averages (momentum 0.1) still describe the
    first weights, so evaluation-mode outputs are off and validation selects poorly. Only the
    BatchNorm layers run in training mode here: dropout stays off, and no weight changes.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    forward = forward or model
    model.eval()
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches that follow
        m.train()
    for images, _ in loader:
        forward(images.to(device, non_blocking=True))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()


def bce_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary cross-entropy of logits, computed stably in float64."""
    return float(np.mean(np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))))


def evaluate(model: nn.Module, loader: Iterable, device: torch.device, groups=None,
             forward: Forward | None = None) -> dict:
    """The metrics.json entry of one split (see metrics.split_metrics)."""
    return score(model, loader, device, groups, forward)[0]


def score(model: nn.Module, loader: Iterable, device: torch.device, groups=None,
          forward: Forward | None = None) -> tuple[dict, np.ndarray, np.ndarray]:
    """The split's metrics.json entry, and each image's label and fake probability in `loader` order
    (what predictions.csv keeps)."""
    logits, labels = predict(model, loader, device, forward)
    probs = 1.0 / (1.0 + np.exp(-logits))
    return split_metrics(labels, probs, groups, loss=bce_loss(logits, labels)), labels, probs


class _WithoutCompilerHooks:
    """torch's own optimiser methods, called past their torch._dynamo wrappers.

    torch.optim wraps step, zero_grad, add_param_group and the state_dict methods so that torch.compile
    can trace around them; the wrappers import torch._dynamo (and with it sympy and the inductor, 1-2 s)
    on first call and do nothing else outside a compiled region. No job compiles its optimiser, so
    the same functions run, on the same tensors, without that import.
    """

    def step(self, closure=None):
        with torch.no_grad():  # what the wrapper sets for a non-differentiable optimiser
            return inspect.unwrap(self._torch_class.step)(self, closure)

    def zero_grad(self, set_to_none: bool = True) -> None:
        inspect.unwrap(torch.optim.Optimizer.zero_grad)(self, set_to_none)

    def add_param_group(self, param_group: dict) -> None:
        inspect.unwrap(torch.optim.Optimizer.add_param_group)(self, param_group)

    def state_dict(self) -> dict:
        return inspect.unwrap(torch.optim.Optimizer.state_dict)(self)

    def load_state_dict(self, state_dict: dict) -> None:
        inspect.unwrap(torch.optim.Optimizer.load_state_dict)(self, state_dict)


class Adam(_WithoutCompilerHooks, torch.optim.Adam):
    _torch_class = torch.optim.Adam


class SGD(_WithoutCompilerHooks, torch.optim.SGD):
    _torch_class = torch.optim.SGD


def make_optimizer(model: nn.Module, training: dict) -> torch.optim.Optimizer:
    """The optimiser, fused (one kernel over every tensor): on a CPU, Adam's per-tensor loop took 43 ms of
    a ResNet-18 step at 40 px, the fused kernel 6 ms (benchmarks/bench_cpu_precision.py runs it)."""
    lr, wd = training["learning_rate"], training["weight_decay"]
    if training["optimizer"] == "sgd":
        return SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=wd, fused=True)
    return Adam(model.parameters(), lr=lr, weight_decay=wd, fused=True)
