"""One pruning level of one method as one run: make the mask and start weights, then train.

The level's job in the stage table (stages.level_job) names what it reads, as its method says; the
method's ticket function (methods.py: `ticket`) makes the mask and start weights from those files.
Each level writes mask.pt, final.pt, history.csv and metrics.json through the same trainer as the
dense baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from deepfake_lth import methods, phases, stages
from deepfake_lth.config import sparsity_at_level
from deepfake_lth.errors import ConfigError, InputError
from deepfake_lth.io import save_tensors
from deepfake_lth.lottery.pruning import prune_by_magnitude
from deepfake_lth.lottery.rewinding import read_state, rewind_weights
from deepfake_lth.models.masking import Mask, full_mask, load_mask
from deepfake_lth.models.registry import prunable_parameter_names
from deepfake_lth.training.inputs import FaceSplits, RunIdentity, load_face_splits
from deepfake_lth.training.run import new_model, train_run


@dataclass(frozen=True)
class TicketContext:
    """What a method's ticket function is given to make one level's mask and start weights."""

    params: dict
    job: stages.Job  # the level's record: its input files by name (stages.level_inputs)
    method: methods.Method
    model: str
    seed: int
    level: int
    net: nn.Module  # a fresh model of the run (θ0's architecture), to load checkpoints into
    names: list[str]  # its prunable tensors
    image_size: int
    splits: FaceSplits | None = None  # the run's faces (pruning at initialisation scores a batch of them)

    @property
    def sparsity(self) -> float:
        """The level's nominal sparsity (pruning.rate, pruning.rate_of)."""
        pruning = self.params["pruning"]
        return sparsity_at_level(self.level, pruning["rate"], pruning["rate_of"])


def require_inputs(job: stages.Job) -> None:
    """Raise InputError naming the first checkpoint `job` reads that does not exist (the face store
    is checked when it is opened)."""
    for name, path in job.inputs.items():
        if name != "faces" and not Path(path).is_file():
            raise InputError(f"{path}: input not found (its stage must run first)")


def check_level(params: dict, method: str, level: int, allowed: tuple[str, ...] | None = None) -> None:
    allowed = methods.level_methods() if allowed is None else allowed
    if method not in allowed:
        raise ConfigError(f"unknown pruning method '{method}' (allowed: {', '.join(allowed)})")
    if not 1 <= level <= params["pruning"]["levels"]:
        raise ConfigError(f"level {level} outside 1..{params['pruning']['levels']} (pruning.levels)")


def pruned_ticket(ctx: TicketContext) -> tuple[Mask, dict]:
    """Magnitude pruning (IMP level L: level L-1's trained weights under its mask; one-shot: the dense
    weights) to the level's sparsity, in the method's scope, rewound to the rewind point."""
    inputs = ctx.job.inputs
    mask = load_mask(inputs["mask"], ctx.net, ctx.names) if "mask" in inputs else full_mask(ctx.net, ctx.names)
    scope = ctx.method.scope or ctx.params["pruning"]["oneshot_scope"]
    mask = prune_by_magnitude(read_state(inputs["weights"], ctx.net), mask, ctx.sparsity, scope)
    return mask, rewind_weights(inputs["rewind"], ctx.net, mask)


def make_ticket(params: dict, dataset: str, model: str, seed: int, method: str, level: int,
                net: nn.Module, image_size: int, splits: FaceSplits | None = None) -> tuple[Mask, dict]:
    """The mask of level `level` of `method` and the state training starts from (masked weights zero)."""
    job = stages.level_job(params, dataset, model, seed, method, level)
    require_inputs(job)
    names = prunable_parameter_names(net, params["pruning"]["prune_output_layer"])
    spec = methods.method(method)
    return spec.make_ticket()(TicketContext(params, job, spec, model, seed, level, net, names, image_size, splits))


def run_level(params: dict, dataset: str, model: str, seed: int, method: str, level: int) -> dict:
    """Make and train one level; write mask.pt, final.pt, history.csv and metrics.json; return the metrics."""
    check_level(params, method, level)
    job = stages.level_job(params, dataset, model, seed, method, level)
    splits = load_face_splits(job.inputs["faces"], params["normalization"])
    phases.mark("store")
    net = new_model(params, model, splits.image_size, seed)
    mask, start = make_ticket(params, dataset, model, seed, method, level, net, splits.image_size, splits)
    net.load_state_dict(start)
    phases.mark("model")  # with the mask made from the level below
    save_tensors(job.outputs["mask"], mask)
    phases.mark("writes")
    identity = RunIdentity(stage="prune", dataset=dataset, model=model, seed=seed, method=method, level=level)
    return train_run(params, identity, net, splits, job.outputs, mask=mask,
                     held_zero=held_zero(params, method, net, splits.image_size, mask))


def held_zero(params: dict, method: str, net: nn.Module, image_size: int, mask: Mask) -> Mask | None:
    """What a ticket of `method` holds at zero beside its mask: a structured method's removed channels'
    biases and BatchNorm entries (lottery/channels.py); nothing for the others."""
    if not methods.method(method).structured:
        return None
    from deepfake_lth.lottery.channels import held_at_zero

    return held_at_zero(net, image_size, prunable_parameter_names(net, params["pruning"]["prune_output_layer"]), mask)
