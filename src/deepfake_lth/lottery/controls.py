"""The controls that show a ticket is a winning one (Frankle & Carbin 2019, section 2).

reinit: the ticket's mask with freshly drawn random weights; random_mask: a random mask with the
ticket's per-tensor sparsity, starting from the ticket's initialisation.
"""

from __future__ import annotations

import torch

from deepfake_lth.device import derive_seed
from deepfake_lth.lottery.rewinding import rewind_weights
from deepfake_lth.models.masking import Mask, load_mask, masked_state
from deepfake_lth.models.registry import build_model

# Streams mixed into the run seed, so a control never reuses the draws of θ0.
_REINIT, _RANDOM_MASK = 101, 102


def reinit_weights(model_name: str, image_size: int, seed: int, level: int, mask: Mask) -> dict:
    """A fresh random initialisation (a seed derived from `seed` and `level`, not θ0's) under `mask`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, _REINIT, level))
        state = build_model(model_name, image_size).state_dict()
    return masked_state(state, mask)


def random_mask_like(mask: Mask, seed: int, level: int) -> Mask:
    """A uniformly random mask keeping exactly as many weights in each tensor as `mask` does."""
    generator = torch.Generator().manual_seed(derive_seed(seed, _RANDOM_MASK, level))
    result = {}
    for name, keep in mask.items():
        chosen = torch.randperm(keep.numel(), generator=generator)[: int(keep.sum())]
        flat = torch.zeros(keep.numel(), dtype=torch.bool)
        flat[chosen] = True
        result[name] = flat.reshape(keep.shape)
    return result


def reinit_ticket(ctx) -> tuple[Mask, dict]:
    """The reinit control of a level (a runner.TicketContext): the ticket's mask, fresh weights."""
    mask = load_mask(ctx.job.inputs["ticket"], ctx.net, ctx.names)
    return mask, reinit_weights(ctx.model, ctx.image_size, ctx.seed, ctx.level, mask)


def random_mask_ticket(ctx) -> tuple[Mask, dict]:
    """The random-mask control: the ticket's per-tensor sparsity at random, from the ticket's initialisation."""
    mask = random_mask_like(load_mask(ctx.job.inputs["ticket"], ctx.net, ctx.names), ctx.seed, ctx.level)
    return mask, rewind_weights(ctx.job.inputs["init"], ctx.net, mask)
