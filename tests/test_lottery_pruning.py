"""The magnitude-pruning strategy as a pure function: exact counts, magnitudes, scopes, ties."""

from __future__ import annotations

import pytest
import torch

from deepfake_lth.config import sparsity_at_level
from deepfake_lth.lottery.controls import random_mask_like
from deepfake_lth.lottery.pruning import prune_by_magnitude

SHAPES = {"conv1.weight": (8, 3, 3, 3), "conv2.weight": (16, 8, 5, 5), "fc.weight": (16, 256)}


def random_weights(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    # different scales per tensor, as trained layers have: global and local scopes then differ
    return {n: torch.randn(s, generator=generator) * (i + 1) for i, (n, s) in enumerate(SHAPES.items())}


def all_kept() -> dict[str, torch.Tensor]:
    return {n: torch.ones(s, dtype=torch.bool) for n, s in SHAPES.items()}


@pytest.mark.parametrize("scope", ["global", "local"])
def test_eight_levels_reach_one_minus_0_8_to_the_level_within_one_weight_per_tensor(scope):
    mask = all_kept()
    total = sum(m.numel() for m in mask.values())
    for level in range(1, 9):
        # IMP: each level prunes the weights retrained after the previous level
        new = prune_by_magnitude(random_weights(level), mask, sparsity_at_level(level, 0.2), scope)
        assert all((new[n] <= mask[n]).all() for n in mask), "a pruned weight came back"
        mask = new
        if scope == "global":
            remaining = sum(int(m.sum()) for m in mask.values())
            assert abs(remaining - total * 0.8**level) <= len(mask)
        else:
            for m in mask.values():
                assert abs(int(m.sum()) - m.numel() * 0.8**level) <= 1


def test_global_scope_keeps_the_largest_magnitudes_across_tensors():
    weights = random_weights(0)
    mask = prune_by_magnitude(weights, all_kept(), 0.5, "global")
    kept = torch.cat([weights[n][mask[n]].abs() for n in SHAPES])
    pruned = torch.cat([weights[n][~mask[n]].abs() for n in SHAPES])
    assert kept.min() >= pruned.max()
    # the layer with the largest weights loses the fewest
    sparsities = [1 - mask[n].float().mean().item() for n in SHAPES]
    assert sparsities[0] > sparsities[2]


def test_local_scope_prunes_each_tensor_by_its_own_threshold():
    weights = random_weights(0)
    mask = prune_by_magnitude(weights, all_kept(), 0.36, "local")
    for name, keep in mask.items():
        assert weights[name][keep].abs().min() >= weights[name][~keep].abs().max()
        assert int(keep.sum()) == keep.numel() - round(0.36 * keep.numel())


def test_only_surviving_weights_compete_and_ties_give_the_exact_count():
    weights = {"w": torch.ones(10)}  # all tied
    mask = {"w": torch.tensor([True] * 8 + [False] * 2)}
    new = prune_by_magnitude(weights, mask, 0.5, "global")
    assert int(new["w"].sum()) == 5
    assert not new["w"][8:].any()  # already pruned stays pruned despite its magnitude
    assert torch.equal(new["w"], prune_by_magnitude(weights, mask, 0.5, "global")["w"])


def test_the_mask_covers_only_the_tensors_it_was_given():
    weights = {**random_weights(1), "fc.bias": torch.zeros(16), "bn.weight": torch.zeros(8)}
    mask = prune_by_magnitude(weights, all_kept(), 0.2, "global")
    assert set(mask) == set(SHAPES)


def test_random_mask_keeps_each_tensors_count_but_not_its_positions():
    ticket = prune_by_magnitude(random_weights(2), all_kept(), 0.59, "global")
    control = random_mask_like(ticket, seed=0, level=4)
    for name in SHAPES:
        assert int(control[name].sum()) == int(ticket[name].sum())
    assert any(not torch.equal(control[n], ticket[n]) for n in SHAPES)
    assert all(torch.equal(control[n], random_mask_like(ticket, 0, 4)[n]) for n in SHAPES)


def test_keeping_the_top_scores_chooses_what_a_stable_descending_sort_chooses():
    """The linear-time selection (kthvalue, then ties earliest first) equals the sort it replaced, ties,
    scores of weights already pruned and all, so masks and every result stay byte-identical."""
    from deepfake_lth.lottery.pruning import _keep_top

    generator = torch.Generator().manual_seed(0)
    for trial in range(50):
        n = int(torch.randint(1, 400, (1,), generator=generator))
        scores = torch.randint(0, 6, (n,), generator=generator).double() - 2.0  # many ties, some negative
        keep = torch.rand(n, generator=generator) < 0.7
        count = int(torch.randint(0, int(keep.sum()) + 1, (1,), generator=generator))
        masked = torch.where(keep, scores, torch.tensor(-torch.inf, dtype=torch.float64))
        expected = torch.zeros(n, dtype=torch.bool)
        expected[torch.sort(masked, descending=True, stable=True).indices[:count]] = True
        assert torch.equal(_keep_top(scores, keep, count), expected), trial
