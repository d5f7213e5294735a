"""Ticket transfer: a mask found on one dataset, trained and evaluated on another.

The source ticket is its mask and the weights it rewinds to (pruning.rewind: the source's θ0 by
default, θk, or with `none` its trained weights at that level), as the transfer job in the stage
table names them; it is retrained on the target's face store with the same trainer as every other
run. The target's own dense run is the baseline.
"""

from __future__ import annotations

from torch import nn

from deepfake_lth import methods, phases, stages
from deepfake_lth.io import save_tensors
from deepfake_lth.lottery.rewinding import rewind_weights
from deepfake_lth.lottery.runner import check_level, held_zero, require_inputs
from deepfake_lth.models.masking import Mask, load_mask
from deepfake_lth.models.registry import prunable_parameter_names
from deepfake_lth.training.inputs import RunIdentity, load_face_splits
from deepfake_lth.training.run import new_model, train_run


def source_ticket(params: dict, job: stages.Job, net: nn.Module) -> tuple[Mask, dict]:
    """The transfer job's source mask and the state it rewinds to (masked weights zero, and the companions of
    a structured ticket's removed channels), checked against `net`."""
    require_inputs(job)
    names = prunable_parameter_names(net, params["pruning"]["prune_output_layer"])
    mask = load_mask(job.inputs["mask"], net, names)
    held = held_zero(params, job.wildcards["method"], net, params["faces"]["image_size"], mask)
    return mask, rewind_weights(job.inputs["rewind"], net, {**mask, **(held or {})})


def run_transfer(params: dict, source: str, target: str, model: str, seed: int, method: str, level: int) -> dict:
    """Train the `source` ticket of (model, seed, method, level) on `target`; write mask.pt, final.pt,
    history.csv and metrics.json to results/transfer/<source>__to__<target>/<model>/seed_<s>/<method>/level_<LL>/."""
    check_level(params, method, level, allowed=methods.pruning_methods())
    job = stages.transfer_job(params, source, target, model, seed, method, level)
    splits = load_face_splits(job.inputs["faces"], params["normalization"])
    phases.mark("store")
    net = new_model(params, model, splits.image_size, seed)
    mask, start = source_ticket(params, job, net)
    net.load_state_dict(start)
    phases.mark("model")
    save_tensors(job.outputs["mask"], mask)
    phases.mark("writes")
    identity = RunIdentity(stage="transfer", dataset=target, model=model, seed=seed, method=method,
                           level=level, source_dataset=source)
    return train_run(params, identity, net, splits, job.outputs, mask=mask,
                     held_zero=held_zero(params, method, net, splits.image_size, mask))
