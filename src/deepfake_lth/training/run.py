"""One training run, dense or masked, and its metrics.json.

One code path serves the dense run, every pruning level and every transfer cell (`train_run`):
Adam (or SGD) on binary cross-entropy of one logit, early stopping with patience on validation
loss, the weights of the best validation epoch selected, the test split evaluated once at the end.
An interrupted run resumes from its last epoch checkpoint (see `checkpoints`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Callable

import torch
from torch import nn

import deepfake_lth
from deepfake_lth import phases, stages
from deepfake_lth.config import sparsity_at_level
from deepfake_lth.device import choose_device, derive_seed, seed_everything, use_torch_threads
from deepfake_lth.io import save_tensors, write_csv
from deepfake_lth.predictions import write_predictions
from deepfake_lth.records import MetricsRecord, collapsed_layers
from deepfake_lth.models.masking import Mask, MaskKeeper, full_mask, sparsity_summary
from deepfake_lth.models.registry import (
    build_model,
    count_parameters,
    model_weights,
    prunable_parameter_names,
)
from deepfake_lth.training.checkpoints import (
    RESUME,
    DenseCheckpoints,
    Progress,
    _fingerprint,
    _load_resume,
    _save_resume,
    cpu_state,
)
from deepfake_lth.training.execution import (
    Forward,
    configure_kernels,
    execution_record,
    prepare_model,
    reset_peak_memory,
    resolve_execution,
)
from deepfake_lth.training.feeds import make_feeds
from deepfake_lth.training.inputs import FaceSplits, RunIdentity, load_face_splits, params_record
from deepfake_lth.training.loop import (
    _FLIPS,
    _TORCH,
    EpochShuffle,
    evaluate,
    make_optimizer,
    recalibrate_batchnorm,
    score,
    train_epoch,
)

log = logging.getLogger(__name__)


class _Fit:
    """One training run's state: model, optimiser, mask keeper, batch feeds, progress and best weights."""

    def __init__(self, params, identity: RunIdentity, model: nn.Module, splits: FaceSplits, outputs: dict,
                 mask: Mask | None, dense_checkpoints: DenseCheckpoints | None, held_zero: Mask | None = None):
        self.params, self.identity, self.splits = params, identity, splits
        self.training = params["training"]
        self.device = choose_device(params["device"])
        use_torch_threads(params)
        self.outputs = outputs
        self.out_dir = Path(outputs["final"]).parent
        names = prunable_parameter_names(model, params["pruning"]["prune_output_layer"])
        self.mask = mask if mask is not None else full_mask(model, names)
        self.record = params_record(params, identity, splits.image_size)
        self.key = _fingerprint(identity, self.record, model, self.mask)
        self.checkpoints = dense_checkpoints
        self.execution = resolve_execution(self.training, self.device, identity.model)
        configure_kernels(self.execution, self.device)
        reset_peak_memory(self.device)
        self.model = prepare_model(model, self.execution, self.device)
        self.forward = Forward(self.model, self.execution, self.device)
        self.keeper = MaskKeeper(self.model, {**self.mask, **(held_zero or {})})
        self.keeper.zero_weights()
        self.optimizer = make_optimizer(self.model, self.training)
        self.progress, self.best_state = Progress(), None
        self.sampler = EpochShuffle(len(splits.train), identity.seed)
        self.label = "/".join([identity.dataset, identity.model, identity.method]
                              + ([f"L{identity.level}"] if identity.level else []))
        self.feeds = make_feeds(splits, self.training, identity.seed, self.device, self.sampler, self.label)

    @property
    def resume_path(self) -> Path:
        return self.out_dir / RESUME

    def start(self) -> None:
        """Resume from resume.pt if it is this run's; otherwise save θ0 (and θk when k is 0)."""
        log.info("%s: training on %s (%s)", self.out_dir, self.device, self.execution)
        collapsed = collapsed_layers(sparsity_summary(self.mask)["per_layer"])
        if collapsed:
            log.warning("%s: layer collapse at level %d: %s keep no weight, so the output no longer depends on "
                        "the input; the report marks this run", self.out_dir, self.identity.level, ", ".join(collapsed))
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
            self.model, self.feeds.train, self.optimizer, self.device, self.keeper, flips, self._on_step,
            desc=f"{self.label} epoch {epoch}/{self.training['max_epochs']}", forward=self.forward,
        )
        if self.feeds.calibration is not None:
            recalibrate_batchnorm(self.model, self.feeds.calibration, self.device, self.forward)
        val = evaluate(self.model, self.feeds.validation, self.device, forward=self.forward)
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
        metrics, predictions = self._final_metrics()
        phases.mark("evaluation")
        save_tensors(self.outputs["final"], self.best_state)
        write_csv(self.outputs["history"], self.progress.history)
        write_predictions(self.outputs["predictions"], predictions)
        metrics.write(self.outputs["metrics"])
        self.resume_path.unlink(missing_ok=True)
        phases.mark("writes")
        return metrics.to_dict()

    def _final_metrics(self) -> tuple[MetricsRecord, dict]:
        """Evaluate the selected weights on validation and, once, on test; return the metrics record and
        each split's (labels, fake probabilities, groups) for predictions.csv."""
        split_results, predictions = {}, {}
        for split in ("validation", "test"):
            groups = getattr(self.splits, split).store.groups
            split_results[split], labels, probs = score(self.model, self.feeds.final(split), self.device, groups,
                                                        self.forward)
            predictions[split] = (labels, probs, groups)
        metrics = _metrics_document(self.params, self.identity, self.model, self.mask, self.progress, self.record,
                                    split_results, execution_record(self.execution, self.device, self.feeds.resident))
        return metrics, predictions


def train_run(params: dict, identity: RunIdentity, model: nn.Module, splits: FaceSplits, outputs: dict,
              mask: Mask | None = None, dense_checkpoints: DenseCheckpoints | None = None,
              on_epoch_end: Callable[[int], None] | None = None, held_zero: Mask | None = None) -> dict:
    """Train `model` (already holding its start weights) under `mask` (None: dense), with the tensor entries
    `held_zero` marks False (a channel ticket's biases and BatchNorm entries) kept at zero too; write the job's
    `outputs` "final", "history", "predictions" and "metrics" (final.pt, history.csv, predictions.csv,
    metrics.json) and return the metrics as written (MetricsRecord.to_dict).

    Resumes from resume.pt beside them when an interrupted run of the same inputs left it.
    `on_epoch_end(epoch)` is called after each epoch's resume checkpoint is written.
    """
    fit = _Fit(params, identity, model, splits, outputs, mask, dense_checkpoints, held_zero)
    phases.mark("store")  # the faces ready for training (on the device when resident)
    fit.start()
    phases.mark("writes")
    while fit.should_continue():
        fit.run_epoch()
        if on_epoch_end is not None:
            on_epoch_end(fit.progress.epoch)
    phases.mark("training")  # with each epoch's validation pass and resume checkpoint
    return fit.finish()


def _metrics_document(params, identity, model, mask, progress, record, split_results, execution) -> MetricsRecord:
    """metrics.json: the run's identity, sparsity, epochs, split metrics, parameters and execution."""
    training, pruning = params["training"], params["pruning"]
    return MetricsRecord(
        stage=identity.stage, dataset=identity.dataset, source_dataset=identity.source_dataset,
        model=identity.model, seed=identity.seed, method=identity.method, level=identity.level,
        nominal_sparsity=sparsity_at_level(identity.level, pruning["rate"], pruning["rate_of"]),
        **sparsity_summary(mask),
        total_parameters=count_parameters(model),
        epochs=progress.epoch,
        best_epoch=progress.best_epoch,
        stopped_early=progress.epoch < training["max_epochs"],
        splits=split_results,
        params=record,
        execution=execution,
        version=deepfake_lth.__version__,
    )


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
    job = stages.train_job(params, dataset, model, seed)
    splits = load_face_splits(job.inputs["faces"], params["normalization"])
    phases.mark("store")
    net = new_model(params, model, splits.image_size, seed)
    phases.mark("model")
    identity = RunIdentity(stage="dense", dataset=dataset, model=model, seed=seed)
    out = job.outputs
    checkpoints = DenseCheckpoints(out["init"], out["rewind"], params["training"]["rewind_iteration"])
    return train_run(params, identity, net, splits, out, dense_checkpoints=checkpoints, on_epoch_end=on_epoch_end)
