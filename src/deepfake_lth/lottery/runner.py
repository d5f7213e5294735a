"""One pruning level of one method as one run: make the mask and start weights, then train.

Level L of IMP reads only level L-1 of the same method (level 1: the dense run); one-shot reads
only the dense run; the controls read the ticket's level L. Each writes
results/runs/<dataset>/<model>/seed_<s>/<method>/level_<LL>/{mask.pt, final.pt, metrics.json}
through the same trainer as the dense baseline.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from deepfake_lth import paths
from deepfake_lth.config import ConfigError, sparsity_at_level
from deepfake_lth.errors import InputError
from deepfake_lth.io import save_tensors
from deepfake_lth.lottery.controls import random_mask_like, reinit_weights
from deepfake_lth.lottery.pruning import prune_by_magnitude
from deepfake_lth.lottery.rewinding import read_state, rewind_path, rewind_weights
from deepfake_lth.models.masking import Mask, full_mask, load_mask
from deepfake_lth.models.registry import prunable_parameter_names
from deepfake_lth.training.inputs import RunIdentity, load_face_splits
from deepfake_lth.training.run import new_model, train_run

PRUNING_METHODS = ("imp_global", "imp_local", "oneshot")
CONTROL_METHODS = ("reinit", "random_mask")
METHODS = PRUNING_METHODS + CONTROL_METHODS


def require_inputs(*files: Path) -> None:
    """Raise InputError naming the first input file that does not exist."""
    for path in files:
        if not Path(path).is_file():
            raise InputError(f"{path}: input not found (its stage must run first)")


def check_level(params: dict, method: str, level: int) -> None:
    if method not in METHODS:
        raise ConfigError(f"unknown pruning method '{method}' (allowed: {', '.join(METHODS)})")
    if not 1 <= level <= params["pruning"]["levels"]:
        raise ConfigError(f"level {level} outside 1..{params['pruning']['levels']} (pruning.levels)")


def _pruned_ticket(params, dataset, model, seed, method, level, net, names) -> tuple[Mask, dict]:
    """IMP level L (from level L-1's trained weights and mask) or one-shot (from the dense weights)."""
    pruning = params["pruning"]
    dense = paths.dense_dir(params, dataset, model, seed)
    if method == "oneshot" or level == 1:
        trained, current = dense / "final.pt", None
    else:
        previous = paths.level_dir(params, dataset, model, seed, method, level - 1)
        trained, current = previous / "final.pt", previous / "mask.pt"
    start = rewind_path(pruning["rewind"], dense, trained)
    require_inputs(*(p for p in (trained, current, start) if p is not None))
    mask = load_mask(current, net, names) if current else full_mask(net, names)
    scope = pruning["oneshot_scope"] if method == "oneshot" else method.removeprefix("imp_")
    sparsity = sparsity_at_level(level, pruning["rate"], pruning["rate_of"])
    mask = prune_by_magnitude(read_state(trained, net), mask, sparsity, scope)
    return mask, rewind_weights(start, net, mask)


def _control_ticket(params, dataset, model, seed, method, level, net, names, image_size) -> tuple[Mask, dict]:
    """reinit: the ticket's mask, fresh weights; random_mask: its per-tensor sparsity, its initialisation."""
    pruning = params["pruning"]
    ticket = paths.level_dir(params, dataset, model, seed, pruning["controls"]["ticket"], level) / "mask.pt"
    dense = paths.dense_dir(params, dataset, model, seed)
    # The ticket's initialisation: θk when tickets rewind to iteration k, θ0 otherwise.
    init = dense / ("rewind.pt" if pruning["rewind"] == "iteration" else "init.pt")
    require_inputs(ticket, *([init] if method == "random_mask" else []))
    ticket_mask = load_mask(ticket, net, names)
    if method == "reinit":
        return ticket_mask, reinit_weights(model, image_size, seed, level, ticket_mask)
    mask = random_mask_like(ticket_mask, seed, level)
    return mask, rewind_weights(init, net, mask)


def make_ticket(params: dict, dataset: str, model: str, seed: int, method: str, level: int,
                net: nn.Module, image_size: int) -> tuple[Mask, dict]:
    """The mask of level `level` of `method` and the state training starts from (masked weights zero)."""
    names = prunable_parameter_names(net, params["pruning"]["prune_output_layer"])
    if method in PRUNING_METHODS:
        return _pruned_ticket(params, dataset, model, seed, method, level, net, names)
    return _control_ticket(params, dataset, model, seed, method, level, net, names, image_size)


def run_level(params: dict, dataset: str, model: str, seed: int, method: str, level: int) -> dict:
    """Make and train one level; write mask.pt, final.pt, history.csv and metrics.json; return the metrics."""
    check_level(params, method, level)
    out = paths.level_dir(params, dataset, model, seed, method, level)
    splits = load_face_splits(params, dataset)
    net = new_model(params, model, splits.image_size, seed)
    mask, start = make_ticket(params, dataset, model, seed, method, level, net, splits.image_size)
    save_tensors(out / "mask.pt", mask)
    net.load_state_dict(start)
    identity = RunIdentity(stage="prune", dataset=dataset, model=model, seed=seed, method=method, level=level)
    return train_run(params, identity, net, splits, out, mask=mask)
