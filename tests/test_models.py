"""Models: parameter counts, shapes at 64 and 128 px, prunable tensors, local weights, masks."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models import resnet18 as torchvision_resnet18

from deepfake_lth.config import validate_params
from deepfake_lth.errors import InputError
from deepfake_lth.io import save_tensors
from deepfake_lth.models.masking import MaskKeeper, check_mask, full_mask, sparsity_summary
from deepfake_lth.models.registry import (
    MODEL_NAMES,
    build_model,
    count_parameters,
    parameter_table,
    prunable_parameter_names,
)


def test_mesonet_has_the_papers_parameter_count_at_128_px():
    # Meso-4 at 128 px: convs 224 + 1,608 + 3,216 + 6,416, BatchNorm 2 x (8+8+16+16),
    # dense 256*16+16 = 4,112 and 16+1: 15,689, the paper's 0.015M.
    assert count_parameters(build_model("mesonet", 128)) == 15_689
    # ... and the authors' 256 px input gives the Keras model's 27,977.
    assert count_parameters(build_model("mesonet", 256)) == 27_977


def test_mesonet_has_four_batchnorms_and_conv_biases_of_its_own():
    model = build_model("mesonet", 128)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [n.num_features for n in norms] == [8, 8, 16, 16]
    assert len({id(n.weight) for n in norms}) == 4
    assert all(c.bias is not None for c in convs)
    assert [c.kernel_size for c in convs] == [(3, 3), (5, 5), (5, 5), (5, 5)]


def test_mesoinception_has_the_authors_layers_and_parameter_count():
    # Inception layers (1,4,4,2) on 3 channels and (2,4,4,2) on 11, BatchNorm of 11 and 12, convs 5x5 12->16
    # and 16->16 with BatchNorm, the Meso-4 head: 28,615 at the authors' 256 px (their Keras model's trainable count)
    assert count_parameters(build_model("mesoinception", 256)) == 28_615
    assert count_parameters(build_model("mesoinception", 128)) == 16_327
    model = build_model("mesoinception", 128)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.dilation[0] for c in convs[:7]] == [1, 1, 1, 1, 2, 1, 3] and all(c.bias is not None for c in convs)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert [n.num_features for n in norms] == [11, 12, 16, 16] and all(n.eps == 1e-3 for n in norms)


def test_mesonet_puts_relu_before_batchnorm_as_the_authors_keras_model():
    block = build_model("mesonet", 128).features[0]
    assert [type(m) for m in block] == [nn.Conv2d, nn.ReLU, nn.BatchNorm2d, nn.MaxPool2d]
    assert block[2].eps == 1e-3 and block[2].momentum == pytest.approx(0.01)


def test_cnn5_has_about_0_30m_parameters_at_any_size():
    assert count_parameters(build_model("cnn5", 128)) == 301_137
    assert count_parameters(build_model("cnn5", 64)) == 301_137


@pytest.mark.parametrize("size", [64, 128])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_returns_one_logit_per_image(name, size):
    model = build_model(name, size).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, size, size)).shape == (2, 1)


def test_prunable_tensors_are_conv_and_linear_weights_without_the_output_layer():
    model = build_model("mesonet", 64)
    names = prunable_parameter_names(model, prune_output_layer=False)
    assert names == ["features.0.0.weight", "features.1.0.weight", "features.2.0.weight",
                     "features.3.0.weight", "classifier.2.weight"]
    with_output = prunable_parameter_names(model, prune_output_layer=True)
    assert with_output == names + ["classifier.5.weight"]
    resnet = prunable_parameter_names(build_model("resnet18", 64), False)
    assert "fc.weight" not in resnet and "conv1.weight" in resnet
    assert not any(n.endswith("bias") or ".bn" in n or "downsample.1" in n for n in resnet)
    assert len(resnet) == 20  # conv1, 16 block convs, 3 downsample convs


def test_resnet18_loads_a_local_imagenet_state_dict_except_its_head(tmp_path):
    torch.manual_seed(3)
    imagenet = torchvision_resnet18(weights=None)  # 1000-class head, as a downloaded file would have
    save_tensors(tmp_path / "resnet18.pt", imagenet.state_dict())
    model = build_model("resnet18", 64, weights=tmp_path / "resnet18.pt")
    assert torch.equal(model.conv1.weight, imagenet.conv1.weight)
    assert torch.equal(model.layer4[1].bn2.running_var, imagenet.layer4[1].bn2.running_var)
    assert model.fc.weight.shape == (1, 512)


def test_a_weights_file_of_another_model_is_rejected_naming_it(tmp_path):
    save_tensors(tmp_path / "meso.pt", build_model("mesonet", 64).state_dict())
    with pytest.raises(InputError, match="meso.pt"):
        build_model("resnet18", 64, weights=tmp_path / "meso.pt")


def test_parameter_table_lists_every_model_at_the_configured_size():
    params = validate_params({
        "datasets": {"d": {"adapter": "synthetic", "root": "x", "synthetic": {"domain": "gan"}}},
        "models": ["mesonet"], "faces": {"image_size": 128},
    })
    table = parameter_table(params).set_index("model")
    assert list(table.index) == list(MODEL_NAMES)
    assert table.loc["mesonet", "total_parameters"] == 15_689
    # conv weights 216 + 1,600 + 3,200 + 6,400 and the hidden dense 256 x 16; not the 16 x 1 output
    assert table.loc["mesonet", "prunable_parameters"] == 216 + 1_600 + 3_200 + 6_400 + 4_096
    assert (table["image_size"] == 128).all()


def test_mask_keeper_keeps_masked_weights_exactly_zero_under_adam_with_weight_decay():
    torch.manual_seed(0)
    model = build_model("mesonet", 32)
    names = prunable_parameter_names(model)
    mask = {n: torch.rand(m.shape) < 0.5 for n, m in full_mask(model, names).items()}
    keeper = MaskKeeper(model, mask)
    keeper.zero_weights()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1, weight_decay=0.1)
    for _ in range(3):
        loss = model(torch.randn(4, 3, 32, 32)).square().mean()
        optimizer.zero_grad()
        loss.backward()
        keeper.zero_gradients()
        assert all((dict(model.named_parameters())[n].grad[~m] == 0).all() for n, m in mask.items())
        optimizer.step()
        keeper.zero_weights()
    params = dict(model.named_parameters())
    for name, keep in mask.items():
        assert (params[name][~keep] == 0).all()
        assert (params[name][keep] != 0).all()


def test_sparsity_summary_counts_overall_and_per_tensor():
    mask = {"a": torch.tensor([True, False, False, True]), "b": torch.ones(6, dtype=torch.bool)}
    summary = sparsity_summary(mask)
    assert summary["prunable_weights"] == 10 and summary["remaining_weights"] == 8
    assert summary["sparsity"] == pytest.approx(0.2)
    assert summary["per_layer"]["a"] == {"total": 4, "remaining": 2, "sparsity": 0.5}


def test_a_mask_for_another_image_size_is_rejected():
    model = build_model("mesonet", 64)
    names = prunable_parameter_names(model)
    other = full_mask(build_model("mesonet", 128), names)
    with pytest.raises(InputError, match="classifier.2.weight"):
        check_mask(other, model, names, "mask.pt")
