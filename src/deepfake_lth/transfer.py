"""Ticket transfer: a mask found on one dataset, trained and evaluated on another.

The source ticket is its mask and the weights it rewinds to (pruning.rewind: the source's θ0 by
default, θk, or with `none` its trained weights at that level); it is retrained on the target's
face store with the same trainer as every other run. The target's own dense run is the baseline.
"""

from __future__ import annotations

from torch import nn

from deepfake_lth import paths
from deepfake_lth.config import ConfigError, dataset_params
from deepfake_lth.io import save_tensors
from deepfake_lth.lottery.rewinding import rewind_path, rewind_weights
from deepfake_lth.lottery.runner import PRUNING_METHODS, check_level, require_inputs
from deepfake_lth.models.masking import Mask, load_mask
from deepfake_lth.models.registry import prunable_parameter_names
from deepfake_lth.training.inputs import RunIdentity, load_face_splits
from deepfake_lth.training.run import new_model, train_run


def source_ticket(params: dict, source: str, model: str, seed: int, method: str, level: int,
                  net: nn.Module) -> tuple[Mask, dict]:
    """The source's level mask and the state it rewinds to (masked weights zero), checked against `net`."""
    dataset_params(params, source)
    ticket_dir = paths.level_dir(params, source, model, seed, method, level)
    start = rewind_path(params["pruning"]["rewind"], paths.dense_dir(params, source, model, seed),
                        ticket_dir / "final.pt")
    require_inputs(ticket_dir / "mask.pt", start)
    names = prunable_parameter_names(net, params["pruning"]["prune_output_layer"])
    mask = load_mask(ticket_dir / "mask.pt", net, names)
    return mask, rewind_weights(start, net, mask)


def run_transfer(params: dict, source: str, target: str, model: str, seed: int, method: str, level: int) -> dict:
    """Train the `source` ticket of (model, seed, method, level) on `target`; write mask.pt, final.pt,
    history.csv and metrics.json to results/transfer/<source>__to__<target>/<model>/seed_<s>/<method>/level_<LL>/."""
    if method not in PRUNING_METHODS:
        raise ConfigError(f"transfer method '{method}' is not a pruning method (allowed: {', '.join(PRUNING_METHODS)})")
    check_level(params, method, level)
    splits = load_face_splits(params, target)
    net = new_model(params, model, splits.image_size, seed)
    mask, start = source_ticket(params, source, model, seed, method, level, net)
    net.load_state_dict(start)
    out = paths.transfer_dir(params, source, target, model, seed, method, level)
    save_tensors(out / "mask.pt", mask)
    identity = RunIdentity(stage="transfer", dataset=target, model=model, seed=seed, method=method,
                           level=level, source_dataset=source)
    return train_run(params, identity, net, splits, out, mask=mask)
