"""Training one model on one face store: the dense baseline, and the same loop for masked tickets.

One code path serves the dense run, every pruning level and every transfer cell (`train_run`):
Adam (or SGD) on binary cross-entropy of one logit, early stopping with patience on validation
loss, the weights of the best validation epoch selected, the test split evaluated once at the end.

Determinism and resuming: every random draw of an epoch (the data order, the flips, dropout) is
a pure function of (seed, epoch), so a run resumed from its last epoch checkpoint (`resume.pt`,
written atomically after each epoch) replays exactly what the uninterrupted run would have done,
whatever `num_workers` is. Flips are drawn here, in the main process, rather than inside the
dataset, because persistent DataLoader workers would carry their RNG state across epochs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Sampler
from tqdm import tqdm

import deepfake_lth
from deepfake_lth import paths
from deepfake_lth.config import dataset_params, sparsity_at_level
from deepfake_lth.data.face_store import FaceDataset, FaceStore
from deepfake_lth.device import choose_device, derive_seed, seed_everything
from deepfake_lth.errors import InputError
from deepfake_lth.io import atomic_path, load_tensors, save_tensors, write_json
from deepfake_lth.metrics import split_metrics
from deepfake_lth.models.masking import Mask, MaskKeeper, full_mask, sparsity_summary
from deepfake_lth.models.registry import (
    build_model,
    count_parameters,
    model_weights,
    prunable_parameter_names,
)

log = logging.getLogger(__name__)

RESUME = "resume.pt"
# Sub-streams of an epoch's randomness, mixed with (seed, epoch) by derive_seed.
_ORDER, _FLIPS, _TORCH = 0, 1, 2


@dataclass(frozen=True)
class RunIdentity:
    """What a run is: the fields metrics.json identifies it by."""

    stage: str  # dense | prune | transfer
    dataset: str  # trained and evaluated on (for transfer: the target)
    model: str
    seed: int
    method: str = "dense"
    level: int = 0
    source_dataset: str | None = None


@dataclass
class FaceSplits:
    """The three splits of one face store as datasets (normalised, unflipped; groups in `.store.groups`)."""

    train: FaceDataset
    validation: FaceDataset
    test: FaceDataset
    image_size: int


@dataclass
class Progress:
    """Everything about a run that resume.pt must restore besides the model and optimiser."""

    epoch: int = 0  # epochs completed
    steps: int = 0  # optimiser steps taken
    best_epoch: int = 0
    best_loss: float = math.inf
    bad_epochs: int = 0
    history: list[dict] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- data
def load_face_splits(params: dict, dataset: str) -> FaceSplits:
    """Open data/faces/<dataset>/{train,validation,test}; raise InputError if one is empty or sizes differ."""
    dataset_params(params, dataset)  # a clear error for an unknown dataset name
    norm = params["normalization"]
    root = paths.face_store_dir(params, dataset)
    stores = {split: FaceStore(root / split) for split in paths.SPLITS}
    for split, store in stores.items():
        if len(store) == 0:
            raise InputError(f"{root / split}: the face store split is empty")
    sizes = {split: store.images.shape[1] for split, store in stores.items()}
    if len(set(sizes.values())) != 1:
        raise InputError(f"{root}: splits hold faces of different sizes {sizes}")
    datasets = {split: FaceDataset(store, norm["mean"], norm["std"], hflip=False) for split, store in stores.items()}
    return FaceSplits(**datasets, image_size=sizes["train"])


class EpochShuffle(Sampler[int]):
    """A permutation of range(n) that is a pure function of (seed, epoch); call `set_epoch` first."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch, _ORDER))
        return iter(torch.randperm(self.n, generator=generator).tolist())

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
    chosen = (torch.rand(len(images), generator=generator) < 0.5).nonzero().squeeze(1).to(images.device)
    return images.index_copy_(0, chosen, images.index_select(0, chosen).flip(-1))


# ----------------------------------------------------------------------------------------- the loop
def train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer, device: torch.device,
                keeper: MaskKeeper | None = None, flips: torch.Generator | None = None,
                on_step: Callable[[], None] | None = None, desc: str = "train") -> tuple[float, float]:
    """One pass over `loader`; returns the mean training loss and accuracy (sums kept on the device)."""
    model.train()
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    seen = 0
    for images, labels in tqdm(loader, desc=desc, unit="batch", leave=False, mininterval=2.0):
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        if flips is not None:
            images = random_hflip(images, flips)
        logits = model(images).squeeze(1)
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
def predict(model: nn.Module, loader: DataLoader, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Logits (float64) and labels of every image of `loader`, in order."""
    model.eval()
    # Filled in place, not collected in a list: small long-lived tensors allocated between each
    # batch's large ones pin glibc's heap, which then keeps every batch (~13 MB at 128 px: GBs for
    # a large split).
    logits = torch.empty(len(loader.dataset), dtype=torch.float64)
    labels = torch.empty(len(loader.dataset), dtype=torch.int64)
    start = 0
    for images, y in loader:
        end = start + len(y)
        logits[start:end] = model(images.to(device, non_blocking=True)).squeeze(1)
        labels[start:end] = y
        start = end
    return logits.numpy(), labels.numpy()


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, loader: DataLoader, device: torch.device) -> None:
    """Replace every BatchNorm layer's running statistics by their exact mean over `loader`.

    With few optimiser steps the exponential running averages (momentum 0.1) still describe the
    first weights, so evaluation-mode outputs are off and validation selects poorly. Only the
    BatchNorm layers run in training mode here: dropout stays off, and no weight changes.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    model.eval()
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches that follow
        m.train()
    for images, _ in loader:
        model(images.to(device, non_blocking=True))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()


def bce_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary cross-entropy of logits, computed stably in float64."""
    return float(np.mean(np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))))


def evaluate(model: nn.Module, loader: DataLoader, device: torch.device, groups=None) -> dict:
    """The metrics.json entry of one split (see metrics.split_metrics)."""
    logits, labels = predict(model, loader, device)
    probs = 1.0 / (1.0 + np.exp(-logits))
    return split_metrics(labels, probs, groups, loss=bce_loss(logits, labels))


def make_optimizer(model: nn.Module, training: dict) -> torch.optim.Optimizer:
    lr, wd = training["learning_rate"], training["weight_decay"]
    if training["optimizer"] == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=wd)
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)


# -------------------------------------------------------------------------------------- checkpoints
def cpu_state(model: nn.Module) -> dict:
    """A detached CPU copy of the model's state_dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


@dataclass
class DenseCheckpoints:
    """θ0 and θk of a dense run: init.pt before the first step, rewind.pt after `rewind_step` steps."""

    init: Path
    rewind: Path
    rewind_step: int


def _fingerprint(identity: RunIdentity, record: dict, model: nn.Module, mask: Mask) -> str:
    """Identifies a run's inputs, so a stale resume.pt (other params or start weights) is never used."""
    digest = hashlib.sha256(json.dumps([asdict(identity), record], sort_keys=True, default=str).encode())
    for tensors in (model.state_dict(), mask):
        for name, value in tensors.items():
            digest.update(name.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _save_resume(path: Path, key: str, model, optimizer, progress: Progress, best_state: dict) -> None:
    save_tensors(path, {
        "key": key, "model": cpu_state(model), "optimizer": optimizer.state_dict(),
        "progress": asdict(progress), "best_state": best_state,
    })


def _load_resume(path: Path, key: str, model, optimizer) -> tuple[Progress, dict] | None:
    """Restore model and optimiser from resume.pt if it belongs to this run; else None."""
    if not path.is_file():
        return None
    try:
        saved = load_tensors(path)
    except InputError as e:
        log.warning("%s; starting the run afresh", e)
        return None
    if saved.get("key") != key:
        log.warning("%s: left by a run with other inputs; starting afresh", path)
        return None
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    log.info("%s: resuming after epoch %d", path, saved["progress"]["epoch"])
    return Progress(**saved["progress"]), saved["best_state"]


# ------------------------------------------------------------------------------------------ the run
def params_record(params: dict, identity: RunIdentity, image_size: int) -> dict:
    """The resolved parameters that produce this run's numbers (metrics.json 'params')."""
    record = {
        "dataset": dataset_params(params, identity.dataset),
        "model": identity.model,
        "image_size": image_size,
        "normalization": params["normalization"],
        "training": params["training"],
        "device": params["device"],
    }
    if identity.model == "resnet18":
        record["resnet18_weights"] = params["resnet18_weights"]
    if identity.stage != "dense":
        record["pruning"] = params["pruning"]
    if identity.source_dataset is not None:
        record["source_dataset_params"] = dataset_params(params, identity.source_dataset)
    return record


class _Fit:
    """One training run's state: model, optimiser, mask keeper, loaders, progress and best weights."""

    def __init__(self, params, identity: RunIdentity, model: nn.Module, splits: FaceSplits, out_dir: Path,
                 mask: Mask | None, dense_checkpoints: DenseCheckpoints | None):
        self.params, self.identity, self.splits = params, identity, splits
        self.training = params["training"]
        self.device = choose_device(params["device"])
        self.out_dir = Path(out_dir)
        names = prunable_parameter_names(model, params["pruning"]["prune_output_layer"])
        self.mask = mask if mask is not None else full_mask(model, names)
        self.record = params_record(params, identity, splits.image_size)
        self.key = _fingerprint(identity, self.record, model, self.mask)
        self.checkpoints = dense_checkpoints
        self.model = model.to(self.device)
        self.keeper = MaskKeeper(self.model, self.mask)
        self.keeper.zero_weights()
        self.optimizer = make_optimizer(self.model, self.training)
        self.progress, self.best_state = Progress(), None
        self.sampler = EpochShuffle(len(splits.train), identity.seed)
        bs, workers = self.training["batch_size"], self.training["num_workers"]
        self.train_loader = make_loader(splits.train, bs, workers, identity.seed, self.device, self.sampler)
        self.val_loader = make_loader(splits.validation, bs, workers, identity.seed, self.device)
        # unshuffled and unflipped: the statistics the evaluation-mode network will see
        self.calibration_loader = (make_loader(splits.train, bs, workers, identity.seed, self.device)
                                   if self.training["bn_recalibration"] else None)
        self.label = "/".join([identity.dataset, identity.model, identity.method]
                              + ([f"L{identity.level}"] if identity.level else []))

    @property
    def resume_path(self) -> Path:
        return self.out_dir / RESUME

    def start(self) -> None:
        """Resume from resume.pt if it is this run's; otherwise save θ0 (and θk when k is 0)."""
        log.info("%s: training on %s", self.out_dir, self.device)
        resumed = _load_resume(self.resume_path, self.key, self.model, self.optimizer)
        if resumed:
            self.progress, self.best_state = resumed
        elif self.checkpoints is not None:
            save_tensors(self.checkpoints.init, cpu_state(self.model))
            if self.checkpoints.rewind_step == 0:
                save_tensors(self.checkpoints.rewind, cpu_state(self.model))

    def should_continue(self) -> bool:
        return (self.progress.epoch < self.training["max_epochs"]
                and self.progress.bad_epochs < self.training["patience"])

    def _on_step(self) -> None:
        self.progress.steps += 1
        if self.checkpoints is not None and self.progress.steps == self.checkpoints.rewind_step:
            save_tensors(self.checkpoints.rewind, cpu_state(self.model))

    def run_epoch(self) -> None:
        """Train one epoch (its randomness drawn from (seed, epoch)), validate, select, checkpoint."""
        epoch, seed = self.progress.epoch + 1, self.identity.seed
        self.sampler.set_epoch(epoch)
        torch.manual_seed(derive_seed(seed, epoch, _TORCH))  # dropout
        flips = torch.Generator().manual_seed(derive_seed(seed, epoch, _FLIPS)) if self.training["hflip"] else None
        train_loss, train_acc = train_epoch(
            self.model, self.train_loader, self.optimizer, self.device, self.keeper, flips, self._on_step,
            desc=f"{self.label} epoch {epoch}/{self.training['max_epochs']}",
        )
        if self.calibration_loader is not None:
            recalibrate_batchnorm(self.model, self.calibration_loader, self.device)
        val = evaluate(self.model, self.val_loader, self.device)
        self.progress.history.append({
            "epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc,
            "validation_loss": val["loss"], "validation_accuracy": val["accuracy"], "validation_auc": val["auc"],
        })
        self.progress.epoch = epoch
        self._select(epoch, val["loss"])
        log.info("%s epoch %d: train loss %.4f acc %.3f, validation loss %s acc %.3f",
                 self.label, epoch, train_loss, train_acc, val["loss"], val["accuracy"])
        _save_resume(self.resume_path, self.key, self.model, self.optimizer, self.progress, self.best_state)

    def _select(self, epoch: int, val_loss: float | None) -> None:
        """Keep this epoch's weights if its validation loss is the lowest yet; else count patience."""
        loss = val_loss if val_loss is not None else math.inf  # a diverged (NaN) loss never wins
        if self.best_state is None or loss < self.progress.best_loss:
            self.progress.best_epoch, self.progress.best_loss, self.progress.bad_epochs = epoch, loss, 0
            self.best_state = cpu_state(self.model)
        else:
            self.progress.bad_epochs += 1

    def finish(self) -> dict:
        """Load the selected weights, test once, write final.pt, history.csv, metrics.json; drop resume.pt."""
        if self.checkpoints is not None and self.progress.steps < self.checkpoints.rewind_step:
            log.warning("training ran %d steps, fewer than training.rewind_iteration %d: "
                        "rewind.pt holds the last weights", self.progress.steps, self.checkpoints.rewind_step)
            save_tensors(self.checkpoints.rewind, cpu_state(self.model))
        self.model.load_state_dict(self.best_state)
        metrics = _final_metrics(self.params, self.identity, self.model, self.mask, self.splits, self.device,
                                 self.progress, self.record)
        save_tensors(self.out_dir / "final.pt", self.best_state)
        with atomic_path(self.out_dir / "history.csv") as tmp:
            pd.DataFrame(self.progress.history).to_csv(tmp, index=False)
        write_json(self.out_dir / "metrics.json", metrics)
        self.resume_path.unlink(missing_ok=True)
        return metrics


def train_run(params: dict, identity: RunIdentity, model: nn.Module, splits: FaceSplits, out_dir: Path,
              mask: Mask | None = None, dense_checkpoints: DenseCheckpoints | None = None,
              on_epoch_end: Callable[[int], None] | None = None) -> dict:
    """Train `model` (already holding its start weights) under `mask` (None: dense); write final.pt,
    history.csv and metrics.json into `out_dir` and return the metrics.

    Resumes from `out_dir/resume.pt` when an interrupted run of the same inputs left it.
    `on_epoch_end(epoch)` is called after each epoch's resume checkpoint is written.
    """
    fit = _Fit(params, identity, model, splits, out_dir, mask, dense_checkpoints)
    fit.start()
    while fit.should_continue():
        fit.run_epoch()
        if on_epoch_end is not None:
            on_epoch_end(fit.progress.epoch)
    return fit.finish()


def _final_metrics(params, identity, model, mask, splits, device, progress, record) -> dict:
    """Evaluate the selected weights on validation and, once, on test; assemble metrics.json."""
    training, pruning = params["training"], params["pruning"]
    bs, workers = training["batch_size"], 0  # one pass each: workers would cost more than they save
    split_results = {
        split: evaluate(model, make_loader(getattr(splits, split), bs, workers, identity.seed, device),
                        device, getattr(splits, split).store.groups)
        for split in ("validation", "test")
    }
    return {
        "stage": identity.stage,
        "dataset": identity.dataset,
        "source_dataset": identity.source_dataset,
        "model": identity.model,
        "seed": identity.seed,
        "method": identity.method,
        "level": identity.level,
        "nominal_sparsity": sparsity_at_level(identity.level, pruning["rate"], pruning["rate_of"]),
        **sparsity_summary(mask),
        "total_parameters": count_parameters(model),
        "epochs": progress.epoch,
        "best_epoch": progress.best_epoch,
        "stopped_early": progress.epoch < training["max_epochs"],
        "splits": split_results,
        "params": record,
        "version": deepfake_lth.__version__,
    }


def new_model(params: dict, name: str, image_size: int, seed: int) -> nn.Module:
    """Seed everything with `seed` and build a fresh model (θ0 of that seed)."""
    seed_everything(seed)
    return build_model(name, image_size, model_weights(params, name))


def train_dense(params: dict, dataset: str, model: str, seed: int, *,
                on_epoch_end: Callable[[int], None] | None = None) -> dict:
    """Train the dense model into results/runs/<dataset>/<model>/seed_<s>/dense/ and return its metrics.

    Writes init.pt (θ0, before the first step), rewind.pt (θk after training.rewind_iteration
    steps), final.pt (the best validation epoch), history.csv and metrics.json.
    """
    out = paths.dense_dir(params, dataset, model, seed)
    splits = load_face_splits(params, dataset)
    net = new_model(params, model, splits.image_size, seed)
    identity = RunIdentity(stage="dense", dataset=dataset, model=model, seed=seed)
    checkpoints = DenseCheckpoints(out / "init.pt", out / "rewind.pt", params["training"]["rewind_iteration"])
    return train_run(params, identity, net, splits, out, dense_checkpoints=checkpoints, on_epoch_end=on_epoch_end)
