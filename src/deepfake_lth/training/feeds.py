"""Where a run's batches come from: DataLoaders over the face store, or the faces resident on the device.

The resident path reads each split's uint8 faces into one N x 3 x H x W tensor on the device once;
a batch is then an index_select, and normalisation runs on the device (airbench's recipe: no
DataLoader, no worker processes, no host-to-device copy per batch). Both paths give the same batches
bit for bit: the same order (`EpochShuffle.permutation`), the same normalisation arithmetic
(`face_store.normalise`), and the flips drawn by `train_epoch` from the same generator. So the
choice changes speed and memory, never a number. Nothing per batch waits for the device: the
constants are on it once, and host-to-device copies are non-blocking.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch

from deepfake_lth.data.face_store import FaceDataset, normalise
from deepfake_lth.training.inputs import FaceSplits
from deepfake_lth.training.loop import EpochShuffle, make_loader

log = logging.getLogger(__name__)

# On a CPU the "device" is the job's RAM, which the rules and profiles budget (mem_mb 4000 locally):
# 1 GiB of faces (~21k faces of 128 px) leaves room for torch, the model and its batches.
CPU_RESIDENT_BYTES = 1 << 30
# On CUDA: at most half of the memory free when the job starts, the rest for weights, activations
# and the other runs sharing the GPU (gpu_slots).
CUDA_FREE_SHARE = 0.5
READ_CHUNK = 2048  # faces read from the store per host-to-device copy: bounds the host memory used


def store_bytes(splits: FaceSplits) -> int:
    """The uint8 bytes of all three splits' faces."""
    return sum(getattr(splits, s).store.images.nbytes for s in ("train", "validation", "test"))


def choose_resident(setting, splits: FaceSplits, device: torch.device) -> tuple[bool, str]:
    """Whether to keep the faces on the device (params `training.resident`), and why, for the job's log."""
    need = store_bytes(splits)
    if setting != "auto":
        return bool(setting), f"training.resident is {str(setting).lower()} ({need / 2**20:.0f} MiB of faces)"
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget, where = int(free * CUDA_FREE_SHARE), f"half of the {free / 2**30:.1f} GiB free on {device}"
    else:
        budget, where = CPU_RESIDENT_BYTES, "the 1 GiB a CPU job may hold in RAM"
    fits = need <= budget
    return fits, f"{need / 2**20:.0f} MiB of faces {'fit' if fits else 'do not fit'} in {where}"


class ResidentSplit:
    """One split's faces (uint8, N x 3 x H x W), labels (float32) and normalisation constants on the device."""

    def __init__(self, dataset: FaceDataset, device: torch.device):
        store = dataset.store
        n, size = len(store), store.images.shape[1]
        self.dataset = dataset  # len() for predict
        self.mean, self.std = dataset.mean.to(device), dataset.std.to(device)
        self.images = torch.empty((n, 3, size, size), dtype=torch.uint8, device=device)
        for start in range(0, n, READ_CHUNK):
            chunk = torch.from_numpy(store.read(np.arange(start, min(n, start + READ_CHUNK))))
            self.images[start:start + len(chunk)] = chunk.permute(0, 3, 1, 2)
        self.labels = torch.from_numpy(store.labels.astype(np.float32)).to(device)


class ResidentBatches:
    """Batches of a resident split, in the sampler's order (None: in store order), normalised on the device."""

    def __init__(self, split: ResidentSplit, batch_size: int, sampler: EpochShuffle | None = None):
        self.split, self.batch_size, self.sampler = split, batch_size, sampler
        self.dataset = split.dataset

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        split = self.split
        images, labels = split.images, split.labels
        order = None if self.sampler is None else self.sampler.permutation().to(images.device, non_blocking=True)
        for start in range(0, len(self.dataset), self.batch_size):
            end = min(start + self.batch_size, len(self.dataset))
            if order is None:
                batch, y = images[start:end], labels[start:end]
            else:
                index = order[start:end]
                batch, y = images.index_select(0, index), labels.index_select(0, index)
            yield normalise(batch, split.mean, split.std), y


@dataclass
class Feeds:
    """A run's batch sources: shuffled training, validation, BatchNorm calibration (None: off), and
    `final(split)` for the one pass over validation and test at the end."""

    train: Iterable
    validation: Iterable
    calibration: Iterable | None
    final: Callable[[str], Iterable]
    resident: bool


def dataloader_feeds(splits: FaceSplits, training: dict, seed: int, device: torch.device,
                     sampler: EpochShuffle) -> Feeds:
    bs, workers = training["batch_size"], training["num_workers"]

    def loader(dataset, num_workers=workers, order=None):
        return make_loader(dataset, bs, num_workers, seed, device, order)

    return Feeds(
        train=loader(splits.train, order=sampler),
        validation=loader(splits.validation),
        # unshuffled and unflipped: the statistics the evaluation-mode network will see
        calibration=loader(splits.train) if training["bn_recalibration"] else None,
        final=lambda split: loader(getattr(splits, split), num_workers=0),  # one pass: workers cost more than they save
        resident=False,
    )


def resident_feeds(splits: FaceSplits, training: dict, device: torch.device, sampler: EpochShuffle) -> Feeds:
    bs = training["batch_size"]
    resident = {s: ResidentSplit(getattr(splits, s), device) for s in ("train", "validation", "test")}
    return Feeds(
        train=ResidentBatches(resident["train"], bs, sampler),
        validation=ResidentBatches(resident["validation"], bs),
        calibration=ResidentBatches(resident["train"], bs) if training["bn_recalibration"] else None,
        final=lambda split: ResidentBatches(resident[split], bs),
        resident=True,
    )


def make_feeds(splits: FaceSplits, training: dict, seed: int, device: torch.device, sampler: EpochShuffle,
               label: str) -> Feeds:
    """The resident feeds when params `training.resident` (or `auto` and the faces fit) says so, else
    DataLoaders; logs which and why."""
    resident, why = choose_resident(training["resident"], splits, device)
    log.info("%s: faces %s: %s", label, "resident on the device" if resident else "through a DataLoader", why)
    if resident:
        return resident_feeds(splits, training, device, sampler)
    return dataloader_feeds(splits, training, seed, device, sampler)
