"""Pruning at initialisation: a mask found at θ0, before any training, then trained once like one-shot.

SNIP (Lee et al., ICLR 2019) keeps the weights of largest connection sensitivity |g ⊙ θ| on one batch.
GraSP (Wang et al., ICLR 2020) keeps the weights whose removal would reduce gradient flow least: it
removes the largest -(H g) ⊙ θ, i.e. keeps the largest (H g) ⊙ θ, with g the gradient of the loss at
temperature 200 (the logits divided by 200) and H g the product of that loss's Hessian with g: both passes
at the temperature, as the authors' code (Wang et al., `GraSP.py`) and Tanaka et al.'s `Pruners/pruners.py`
compute them.
SynFlow (Tanaka et al., NeurIPS 2020) needs no data: the score is |∂R/∂θ ⊙ θ| with R the summed output of
the network with |θ| on an all-ones input, re-scored over 100 rounds whose kept fraction follows the
exponential schedule d^(k/100). All three rank globally and keep exactly the level's count of weights.

Scores are computed in float64 on the CPU, so a mask is the same on any machine; BatchNorm layers use
their (initial) running statistics (eval mode), and the batch is a seeded, class-balanced draw of
training faces, the same at every level of a run.
"""

from __future__ import annotations

import torch
from torch import nn

from deepfake_lth.device import derive_seed
from deepfake_lth.lottery.pruning import prune_by_score
from deepfake_lth.models.masking import Mask, full_mask, masked_state

SYNFLOW_ROUNDS = 100
GRASP_TEMPERATURE = 200.0
_BATCH = 103  # the stream of the seeded batch, apart from θ0's and the controls' draws


def scoring_copy(net: nn.Module) -> nn.Module:
    """A float64 CPU copy of `net` in eval mode (θ0 itself is never touched)."""
    import copy

    return copy.deepcopy(net).to("cpu", torch.float64).eval()


def _loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    logits = net(x).reshape(-1) / temperature
    return nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="mean")


def snip_scores(net: nn.Module, names: list[str], x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """|∂L/∂θ ⊙ θ| of the named tensors on the batch (x, y)."""
    params = dict(net.named_parameters())
    grads = torch.autograd.grad(_loss(net, x, y), [params[n] for n in names])
    return {n: (g * params[n]).abs().detach() for n, g in zip(names, grads)}


def grasp_scores(net: nn.Module, names: list[str], x: torch.Tensor, y: torch.Tensor,
                 temperature: float = GRASP_TEMPERATURE) -> dict[str, torch.Tensor]:
    """(H g) ⊙ θ of the named tensors, both from the loss at `temperature` L_T, as Wang et al.'s and Tanaka et
    al.'s code compute them: g = ∂L_T/∂θ (held constant) and H g = ∂(g·∂L_T/∂θ)/∂θ."""
    params = [dict(net.named_parameters())[n] for n in names]
    g = [t.detach() for t in torch.autograd.grad(_loss(net, x, y, temperature), params)]
    grads = torch.autograd.grad(_loss(net, x, y, temperature), params, create_graph=True)
    hessian_g = torch.autograd.grad(sum((a * b).sum() for a, b in zip(grads, g)), params)
    return {n: (hg * p).detach() for n, hg, p in zip(names, hessian_g, params)}


def synflow_scores(net: nn.Module, names: list[str], mask: Mask, image_size: int) -> dict[str, torch.Tensor]:
    """|∂R/∂θ ⊙ θ| with every weight |θ| (masked ones zero) and R the summed output for an all-ones image."""
    params = dict(net.named_parameters())
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if tensor.is_floating_point():
                tensor.abs_()
        for name in names:
            params[name].mul_(mask[name].to(params[name].dtype))
    output = net(torch.ones(1, 3, image_size, image_size, dtype=torch.float64)).sum()
    grads = torch.autograd.grad(output, [params[n] for n in names])
    return {n: (g * params[n]).abs().detach() for n, g in zip(names, grads)}


def synflow_schedule(sparsity: float, rounds: int = SYNFLOW_ROUNDS) -> list[float]:
    """The sparsity after each round: the kept fraction d = 1 - sparsity reached as d^(k/rounds)."""
    density = 1.0 - sparsity
    return [1.0 - density ** (k / rounds) for k in range(1, rounds + 1)]


def scoring_batch(ctx) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded batch of training.batch_size faces, half of each class where the store allows."""
    train = ctx.splits.train
    labels = torch.from_numpy(train.store.labels.astype("int64"))
    generator = torch.Generator().manual_seed(derive_seed(ctx.seed, _BATCH))
    size = ctx.params["training"]["batch_size"]
    chosen = []
    for label in (0, 1):
        members = torch.nonzero(labels == label).reshape(-1)
        chosen.append(members[torch.randperm(len(members), generator=generator)[: size // 2 + size % 2 * label]])
    items = train.__getitems__(torch.cat(chosen).tolist())
    return torch.stack([x for x, _ in items]).double(), torch.stack([y for _, y in items]).double()


def _ticket(ctx, scores: dict[str, torch.Tensor]) -> tuple[Mask, dict]:
    mask = prune_by_score(scores, full_mask(ctx.net, ctx.names), ctx.sparsity)
    return mask, masked_state(ctx.net.state_dict(), mask)


def snip_ticket(ctx) -> tuple[Mask, dict]:
    """SNIP's mask at θ0 (a runner.TicketContext), and θ0 under it."""
    return _ticket(ctx, snip_scores(scoring_copy(ctx.net), ctx.names, *scoring_batch(ctx)))


def grasp_ticket(ctx) -> tuple[Mask, dict]:
    """GraSP's mask at θ0, and θ0 under it."""
    return _ticket(ctx, grasp_scores(scoring_copy(ctx.net), ctx.names, *scoring_batch(ctx)))


def synflow_ticket(ctx) -> tuple[Mask, dict]:
    """SynFlow's mask after its 100 rounds, and θ0 under it."""
    net = scoring_copy(ctx.net)
    original = {n: t.clone() for n, t in net.state_dict().items()}
    mask = full_mask(ctx.net, ctx.names)
    for sparsity in synflow_schedule(ctx.sparsity):
        net.load_state_dict(original)
        mask = prune_by_score(synflow_scores(net, ctx.names, mask, ctx.image_size), mask, sparsity)
    return mask, masked_state(ctx.net.state_dict(), mask)
