"""One pruning level of one method as one run: make the mask and start weights, then train.

The level's job in the stage table (stages.level_job) names what it reads: IMP level L the trained
weights and mask of level L-1 of the same method (level 1: the dense run), one-shot the dense run,
the controls the ticket's mask at level L; and the checkpoint the ticket rewinds to. Each writes
mask.pt, final.pt, history.csv and metrics.json through the same trainer as the dense baseline.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from deepfake_lth import phases, stages
from deepfake_lth.config import ConfigError, sparsity_at_level
from deepfake_lth.errors import InputError
from deepfake_lth.io import save_tensors
from deepfake_lth.lottery.controls import random_mask_like, reinit_weights
from deepfake_lth.lottery.methods import BY_NAME, LEVEL_METHODS, PRUNING_METHODS
from deepfake_lth.lottery.pruning import prune_by_magnitude
from deepfake_lth.lottery.rewinding import read_state, rewind_weights
from deepfake_lth.models.masking import Mask, full_mask, load_mask
from deepfake_lth.models.registry import prunable_parameter_names
from deepfake_lth.training.inputs import RunIdentity, load_face_splits
from deepfake_lth.training.run import new_model, train_run


def require_inputs(job: stages.Job) -> None:
    """Raise InputError naming the first checkpoint `job` reads that does not exist (the face store
    is checked when it is opened)."""
    for name, path in job.inputs.items():
        if name != "faces" and not Path(path).is_file():
            raise InputError(f"{path}: input not found (its stage must run first)")


def check_level(params: dict, method: str, level: int, allowed: tuple[str, ...] = LEVEL_METHODS) -> None:
    if method not in allowed:
        raise ConfigError(f"unknown pruning method '{method}' (allowed: {', '.join(allowed)})")
    if not 1 <= level <= params["pruning"]["levels"]:
        raise ConfigError(f"level {level} outside 1..{params['pruning']['levels']} (pruning.levels)")


def _pruned_ticket(params, job, method, level, net, names) -> tuple[Mask, dict]:
    """IMP level L (level L-1's trained weights pruned under its mask) or one-shot (the dense weights)."""
    pruning, inputs = params["pruning"], job.inputs
    mask = load_mask(inputs["mask"], net, names) if "mask" in inputs else full_mask(net, names)
    scope = BY_NAME[method].scope or pruning["oneshot_scope"]
    sparsity = sparsity_at_level(level, pruning["rate"], pruning["rate_of"])
    mask = prune_by_magnitude(read_state(inputs["weights"], net), mask, sparsity, scope)
    return mask, rewind_weights(inputs["rewind"], net, mask)


def _control_ticket(job, model, seed, method, level, net, names, image_size) -> tuple[Mask, dict]:
    """reinit: the ticket's mask, fresh weights; random_mask: its per-tensor sparsity, its initialisation."""
    ticket_mask = load_mask(job.inputs["ticket"], net, names)
    if method == "reinit":
        return ticket_mask, reinit_weights(model, image_size, seed, level, ticket_mask)
    mask = random_mask_like(ticket_mask, seed, level)
    return mask, rewind_weights(job.inputs["init"], net, mask)


def make_ticket(params: dict, dataset: str, model: str, seed: int, method: str, level: int,
                net: nn.Module, image_size: int) -> tuple[Mask, dict]:
    """The mask of level `level` of `method` and the state training starts from (masked weights zero)."""
    job = stages.level_job(params, dataset, model, seed, method, level)
    require_inputs(job)
    names = prunable_parameter_names(net, params["pruning"]["prune_output_layer"])
    if method in PRUNING_METHODS:
        return _pruned_ticket(params, job, method, level, net, names)
    return _control_ticket(job, model, seed, method, level, net, names, image_size)


def run_level(params: dict, dataset: str, model: str, seed: int, method: str, level: int) -> dict:
    """Make and train one level; write mask.pt, final.pt, history.csv and metrics.json; return the metrics."""
    check_level(params, method, level)
    job = stages.level_job(params, dataset, model, seed, method, level)
    splits = load_face_splits(job.inputs["faces"], params["normalization"])
    phases.mark("store")
    net = new_model(params, model, splits.image_size, seed)
    mask, start = make_ticket(params, dataset, model, seed, method, level, net, splits.image_size)
    net.load_state_dict(start)
    phases.mark("model")  # with the mask made from the level below
    save_tensors(job.outputs["mask"], mask)
    phases.mark("writes")
    identity = RunIdentity(stage="prune", dataset=dataset, model=model, seed=seed, method=method, level=level)
    return train_run(params, identity, net, splits, job.outputs, mask=mask)
