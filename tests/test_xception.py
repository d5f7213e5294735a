"""XceptionNet (timm's legacy_xception, one logit): size, shapes, prunable tensors, masks through a
training step, IMP-Global sparsity, Grad-CAM; on CPU at a small batch, nothing downloaded."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
from torch import nn

from deepfake_lth.config import sparsity_at_level
from deepfake_lth.explain.gradcam import compute_maps, target_layers
from deepfake_lth.lottery.pruning import prune_by_magnitude
from deepfake_lth.models.masking import MaskKeeper, full_mask, sparsity_summary
from deepfake_lth.models.registry import build_model, count_parameters, model_label, prunable_parameter_names


@pytest.fixture(scope="module")
def xception():
    torch.manual_seed(0)
    return build_model("xception", 128)


def test_building_it_touches_no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("XceptionNet tried the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert count_parameters(build_model("xception", 299)) > 0


def test_it_is_the_faceforensics_xception_with_one_logit(xception):
    # timm's legacy_xception: 22,855,952 parameters with ImageNet's 1000 classes; here a 2048 x 1 head
    assert count_parameters(xception) == 20_809_001
    assert model_label("xception") == "XceptionNet"
    assert isinstance(xception.fc, nn.Linear) and xception.fc.out_features == 1


@pytest.mark.parametrize("size", [128, 299])
def test_it_returns_one_logit_per_image_at_128_and_299_px(xception, size):
    with torch.no_grad():
        assert xception.eval()(torch.randn(2, 3, size, size)).shape == (2, 1)


def test_depthwise_and_pointwise_conv_weights_are_prunable_not_batchnorm_biases_or_the_output(xception):
    names = prunable_parameter_names(xception)
    modules = dict(xception.named_modules())
    assert all(isinstance(modules[n.removesuffix(".weight")], nn.Conv2d) for n in names)
    assert "fc.weight" not in names and not any(n.endswith(".bias") for n in names)
    depthwise = [n for n in names if n.endswith(".conv1.weight")]
    pointwise = [n for n in names if n.endswith(".pointwise.weight")]
    assert len(depthwise) == len(pointwise) == 34  # separable convs: 6 entry, 24 middle, 2 + conv3, conv4 exit
    assert all(modules[n.removesuffix(".weight")].groups == modules[n.removesuffix(".weight")].in_channels
               for n in depthwise)
    convs = [n for n, m in modules.items() if isinstance(m, nn.Conv2d)]
    assert len(names) == len(convs) == 34 + 34 + 2 + 4  # with conv1, conv2 and the 4 strided skip convs
    assert prunable_parameter_names(xception, prune_output_layer=True) == names + ["fc.weight"]


def test_masked_weights_stay_exactly_zero_through_a_training_step(xception):
    torch.manual_seed(1)
    model = xception.train()
    names = prunable_parameter_names(model)
    mask = {n: torch.rand(m.shape) < 0.5 for n, m in full_mask(model, names).items()}
    keeper = MaskKeeper(model, mask)
    keeper.zero_weights()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = nn.functional.binary_cross_entropy_with_logits(model(torch.randn(2, 3, 128, 128)), torch.tensor([[0.], [1.]]))
    loss.backward()
    keeper.zero_gradients()
    optimizer.step()
    keeper.zero_weights()
    params = dict(model.named_parameters())
    assert all((params[n][~keep] == 0).all() and (params[n][keep] != 0).all() for n, keep in mask.items())


def test_imp_global_prunes_it_to_the_levels_sparsity(xception):
    names = prunable_parameter_names(xception)
    weights = xception.state_dict()
    level1 = prune_by_magnitude(weights, full_mask(xception, names), sparsity_at_level(1, 0.2), "global")
    level2 = prune_by_magnitude(weights, level1, sparsity_at_level(2, 0.2), "global")
    summary = sparsity_summary(level2)
    total = summary["prunable_weights"]
    assert total == count_parameters(xception, names)
    assert summary["remaining_weights"] == total - round(0.36 * total)
    assert all((level2[n] <= level1[n]).all() for n in names)  # what level 1 pruned stays pruned
    assert len({round(v["sparsity"], 2) for v in summary["per_layer"].values()}) > 1  # one threshold, not per layer


def test_grad_cam_maps_have_the_inputs_size(xception):
    model = xception.eval()
    layers = target_layers("xception", model)
    assert layers == [model.act4]
    maps, probabilities = compute_maps(model, layers, torch.randn(2, 3, 128, 128), np.array([0, 1]))
    assert maps.shape == (2, 128, 128) and probabilities.shape == (2,)
    assert np.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1
