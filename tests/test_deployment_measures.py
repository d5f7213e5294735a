"""What the deploy stage measures: multiply-accumulates against a hand count, the sparse format's round trip,
the ONNX export in ONNX Runtime, and a setting's deployment.csv through the real job."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch
from torch import nn

from deepfake_lth import paths
from deepfake_lth.deployment.deploy import run_deployment
from deepfake_lth.deployment.deployment_file import COLUMNS, RUNTIMES, read_deployment
from deepfake_lth.deployment.latency import onnx_model, onnx_outputs, onnx_session, torch_latency
from deepfake_lth.deployment.macs import count_macs
from deepfake_lth.deployment.sparse_format import decode, encode, saved_bytes, sizes_on_disk
from deepfake_lth.errors import InputError
from deepfake_lth.lottery.runner import run_level
from deepfake_lth.models.registry import build_model
from deepfake_lth.training.run import train_dense
from test_train_support import make_params, one_thread, single_thread  # noqa: F401 (autouse)


def test_macs_of_one_conv_dense_and_masked_by_hand():
    """conv 3 -> 4, 3x3, stride 1, padding 1 on 8x8: 64 positions x 4 x 3 x 9 weights = 6,912 MACs; with 10
    weights zeroed, 64 x 98 = 6,272."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))
    assert count_macs(net, 8) == (6912, 6912)
    with torch.no_grad():
        net[0].weight.view(-1)[:10] = 0
    assert count_macs(net, 8) == (6912, 64 * 98)


def test_macs_count_strides_groups_and_linear_layers():
    """conv 4 -> 4, groups 2, 3x3, stride 2 on 8x8 (4x4 out): 16 x 4 x 2 x 9 = 1,152; linear 64 -> 2: 128."""
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=2), nn.Flatten(),
                        nn.Linear(64, 2))
    assert count_macs(net, 8)[0] == 64 * 4 * 3 + 1152 + 128


def test_the_sparse_format_round_trips_to_the_exact_weights():
    torch.manual_seed(0)
    state = build_model("mesonet", 32).state_dict()
    state = {name: (t * (torch.rand_like(t) > 0.9) if t.is_floating_point() and t.dim() > 1 else t)
             for name, t in state.items()}  # 90% of the weights zero, BatchNorm and counters as they are
    back = decode(encode(state))
    assert list(back) == list(state)
    for name, tensor in state.items():
        assert back[name].dtype == tensor.dtype and torch.equal(back[name], tensor), name
    sizes = sizes_on_disk(state)
    assert sizes["bytes_dense"] == len(saved_bytes(state))
    assert sizes["bytes_sparse"] < 0.3 * sizes["bytes_dense"]
    assert sizes["bytes_compressed"] == len(zlib.compress(encode(state), 9))


def test_the_sparse_format_refuses_other_bytes():
    with pytest.raises(ValueError, match="not the sparse format"):
        decode(b"PK\x03\x04 a zip file")


@pytest.mark.parametrize("model", ["mesonet", "cnn5"])
def test_the_onnx_export_runs_in_onnxruntime_and_matches_torch(model):
    torch.manual_seed(0)
    net = build_model(model, 32).eval()
    session = onnx_session(onnx_model(net, 32), threads=1)
    inputs = torch.randn(5, 3, 32, 32)  # another batch size than the export's example
    with torch.no_grad():
        np.testing.assert_allclose(onnx_outputs(session, inputs), net(inputs).numpy(), rtol=1e-4, atol=1e-5)


def test_torch_latency_is_a_median_and_spread_per_image():
    measured = torch_latency(build_model("cnn5", 32), 32, threads=1, batch=4, min_run_time=0.01)
    assert measured.median_ms > 0 and measured.iqr_ms >= 0


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    params = make_params(tmp_path_factory.mktemp("deploy"), training={"max_epochs": 1},
                         pruning={"methods": ["imp_global", "channel"], "rate": 0.4, "rate_of": "original", "levels": 2,
                                  "controls": {"methods": ["reinit"], "sparsities": [0.8]}})
    params["deployment"]["min_run_time"] = 0.01
    params["faces"]["image_size"] = 32  # the size of make_params' face stores
    with single_thread():
        train_dense(params, "tiny", "mesonet", 0)
        for method in ("imp_global", "channel"):
            for level in (1, 2):
                run_level(params, "tiny", "mesonet", 0, method, level)
        run_level(params, "tiny", "mesonet", 0, "reinit", 2)
        path = run_deployment(params, "tiny", "mesonet", 0)
    return params, path


def test_a_setting_s_deployment_file_has_a_row_per_run_runtime_and_thread_count(deployed):
    params, path = deployed
    assert path == paths.deployment_outputs(params, "tiny", "mesonet", 0)["deployment"]
    table = read_deployment(path)
    assert tuple(table.columns) == COLUMNS
    runs = [("dense", 0), ("imp_global", 2), ("channel", 2), ("reinit", 2)]
    assert sorted(set(zip(table["method"], table["level"]))) == sorted(runs)
    assert set(table["runtime"]) == set(RUNTIMES)
    assert len(table) == len(runs) * len(RUNTIMES) * table["threads"].nunique()
    rows = table[(table["runtime"] == "torch") & (table["threads"] == 1)].set_index("method")
    dense, imp, channel = rows.loc["dense"], rows.loc["imp_global"], rows.loc["channel"]
    assert dense["mask_sparsity"] == 0 and dense["effective_sparsity"] == pytest.approx(0, abs=1e-3)
    # an unstructured ticket: the dense network's size and latency, its own zeros
    assert imp["architecture"] == "dense" and imp["total_parameters"] == dense["total_parameters"]
    assert imp["latency_ms_b1"] == dense["latency_ms_b1"] and imp["macs"] == dense["macs"]
    assert imp["nonzero_parameters"] < 0.3 * dense["total_parameters"]
    assert imp["effective_macs"] < imp["macs"] and imp["bytes_sparse"] < dense["bytes_sparse"]
    assert imp["effective_sparsity"] == pytest.approx(imp["mask_sparsity"], abs=1e-3)
    # a channel ticket: timed and sized as the smaller network it is
    assert channel["architecture"] == "channel level 2"
    assert channel["total_parameters"] < 0.3 * dense["total_parameters"]
    assert channel["bytes_dense"] < dense["bytes_dense"] and channel["macs"] < dense["macs"]
    assert channel["effective_sparsity"] > channel["mask_sparsity"] > 0.7


def test_a_missing_checkpoint_is_an_input_error_naming_it(deployed, tmp_path):
    params, _ = deployed
    moved = dict(params, paths={**params["paths"], "results": str(tmp_path / "nothing")})
    with pytest.raises(InputError, match="final.pt: input not found"):
        run_deployment(moved, "tiny", "mesonet", 0)
