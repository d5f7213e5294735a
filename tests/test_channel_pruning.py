"""Structured (channel) pruning: whole output channels by L1 norm, coupled as Torch-Pruning's dependency
graph couples them, held at zero through training, and the shrunk network equal to the masked one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepfake_lth import methods, paths
from deepfake_lth.io import load_tensors, read_json
from deepfake_lth.lottery.channels import channel_groups, companion_mask, prune_channels, shrink
from deepfake_lth.lottery.runner import run_level
from deepfake_lth.models.masking import full_mask, masked_state, sparsity_summary
from deepfake_lth.models.registry import build_model, count_parameters, prunable_parameter_names
from deepfake_lth.training.run import train_dense
from test_train_support import make_params, one_thread, single_thread  # noqa: F401 (autouse)


def random_batchnorm(net: nn.Module) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine terms: a removed channel's β would otherwise hide."""
    generator = torch.Generator().manual_seed(0)
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator))
            module.running_var.uniform_(0.5, 2.0, generator=generator)
            module.weight.data.copy_(torch.randn(module.num_features, generator=generator))
            module.bias.data.copy_(torch.randn(module.num_features, generator=generator))
    return net.eval()


def channel_ticket_net(model: str, size: int, sparsities=(0.4, 0.8)):
    """A randomly initialised `model` pruned channel-wise level by level, its companions zeroed."""
    torch.manual_seed(0)
    net = random_batchnorm(build_model(model, size))
    names = prunable_parameter_names(net)
    groups = channel_groups(net, size, names)
    mask = full_mask(net, names)
    for sparsity in sparsities:
        mask = prune_channels(groups, net.state_dict(), mask, sparsity)
    net.load_state_dict(masked_state(net.state_dict(), {**mask, **companion_mask(net, groups, mask)}))
    return net, mask, names, groups


@pytest.mark.parametrize("model, size", [("mesonet", 32), ("mesoinception", 32), ("cnn5", 32), ("resnet18", 32)])
def test_the_shrunk_network_computes_what_the_masked_one_does(model, size):
    net, mask, names, _ = channel_ticket_net(model, size)
    small = shrink(net, mask, size, names)
    inputs = torch.randn(6, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(small(inputs), net(inputs), rtol=1e-5, atol=1e-6)
    assert count_parameters(small) < count_parameters(net)


def test_a_mask_removes_whole_output_channels_at_the_level_s_sparsity_and_keeps_what_it_removed():
    torch.manual_seed(0)
    net = build_model("cnn5", 32)
    names = prunable_parameter_names(net)
    groups = channel_groups(net, 32, names)
    first = prune_channels(groups, net.state_dict(), full_mask(net, names), 0.4)
    second = prune_channels(groups, net.state_dict(), first, 0.8)
    for mask, sparsity in ((first, 0.4), (second, 0.8)):
        assert sparsity_summary(mask)["sparsity"] == pytest.approx(sparsity, abs=0.02)
        for name in names:
            rows = mask[name].reshape(mask[name].shape[0], -1)
            assert bool((rows.all(dim=1) | ~rows.any(dim=1)).all()), f"{name}: a row partly pruned"
    for name in names:
        assert bool((~first[name] <= ~second[name]).all()), f"{name}: a removed channel came back"
    # the channels removed first are those of least L1 norm
    weight = net.state_dict()["features.0.0.weight"]
    removed = (~first["features.0.0.weight"].reshape(16, -1).any(dim=1)).nonzero().flatten()
    norms = weight.abs().reshape(16, -1).sum(dim=1)
    kept = [c for c in range(16) if c not in removed.tolist()]
    assert len(removed) == round(0.4 * 16)
    assert norms[removed].max() <= norms[kept].min()


def test_the_shrunk_cnn5_counts_exactly_the_parameters_its_removed_channels_leave():
    """Hand count: removing k of the first block's 16 channels takes k filters of 3x3x3, their BatchNorm γ
    and β, and k input channels (3x3 each) from each of the second block's 32 filters."""
    torch.manual_seed(0)
    net = build_model("cnn5", 32)
    names = prunable_parameter_names(net)
    mask = full_mask(net, names)
    k = 5
    mask["features.0.0.weight"][:k] = False
    small = shrink(net, mask, 32, names)
    assert count_parameters(small) == count_parameters(net) - k * 27 - 2 * k - 32 * k * 9
    assert small.features[0][0].out_channels == 16 - k and small.features[1][0].in_channels == 16 - k


def test_resnet_residual_channels_are_removed_together_across_a_stage():
    _, mask, _, groups = channel_ticket_net("resnet18", 32, (0.5,))
    stem = next(g for g in groups if any(name == "conv1" for name, _ in g.producers))
    producers = {name for name, _ in stem.producers}
    assert {"conv1", "layer1.0.conv2", "layer1.1.conv2"} <= producers
    removed = stem.removed(mask)
    for name in producers:
        rows = mask[f"{name}.weight"].reshape(mask[f"{name}.weight"].shape[0], -1)
        assert not rows[removed].any()


@pytest.fixture(scope="module")
def channel_levels(tmp_path_factory):
    params = make_params(tmp_path_factory.mktemp("channels"), training={"max_epochs": 1},
                         pruning={"methods": ["imp_global", "channel"], "rate": 0.4, "rate_of": "original",
                                  "levels": 2})
    with single_thread():
        train_dense(params, "tiny", "mesonet", 0)
        for level in (1, 2):
            run_level(params, "tiny", "mesonet", 0, "channel", level)
    return params


def test_a_channel_level_trains_with_its_removed_channels_silent(channel_levels):
    params = channel_levels
    assert methods.method("channel").structured and methods.method("channel").rule == "prune_imp"
    for level in (1, 2):
        folder = paths.level_dir(params, "tiny", "mesonet", 0, "channel", level)
        mask, final = load_tensors(folder / "mask.pt"), load_tensors(folder / "final.pt")
        metrics = read_json(folder / "metrics.json")
        assert metrics["sparsity"] == pytest.approx(0.4 * level, abs=0.05)
        net = build_model("mesonet", 32)
        net.load_state_dict(final)
        names = prunable_parameter_names(net)
        held = companion_mask(net, channel_groups(net, 32, names), mask)
        assert held, "no companion held at zero"
        for name, keep in {**mask, **held}.items():
            assert not final[name][~keep].any(), f"{name}: a removed channel's entry moved off zero"
        small = shrink(net.eval(), mask, 32, names)
        inputs = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            torch.testing.assert_close(small(inputs), net(inputs), rtol=1e-5, atol=1e-6)
