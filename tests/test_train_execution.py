"""How a run executes: device-resident faces against the DataLoader path, bf16 autocast with masks, and the
CUDA choices (resolved for a CUDA device object, reachable without a GPU)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from deepfake_lth import paths
from deepfake_lth.io import load_tensors
from deepfake_lth.lottery.pruning import prune_by_magnitude
from deepfake_lth.models.masking import full_mask
from deepfake_lth.models.registry import prunable_parameter_names
from deepfake_lth.training import execution, feeds
from deepfake_lth.training.inputs import RunIdentity, load_face_splits
from deepfake_lth.training.run import new_model, train_dense, train_run
from test_train_support import make_params, one_thread  # noqa: F401 (autouse)

CUDA = torch.device("cuda")  # a device object needs no GPU: the CUDA choices are pure functions of it


def numbers(metrics: dict) -> dict:
    """metrics.json without the parameters (the paths and training.resident differ) and the path taken."""
    return {k: v for k, v in metrics.items() if k not in ("params", "execution")}


def test_resident_faces_give_exactly_the_numbers_of_the_dataloader_path(tmp_path):
    training = {"hflip": True, "bn_recalibration": True, "max_epochs": 2, "batch_size": 12}  # a short last batch
    runs = {}
    for resident in (False, True):
        params = make_params(tmp_path / str(resident), models=("cnn5",), training={**training, "resident": resident})
        runs[resident] = (train_dense(params, "tiny", "cnn5", 0), paths.dense_dir(params, "tiny", "cnn5", 0))
    (loader, loader_dir), (resident, resident_dir) = runs[False], runs[True]
    assert loader["execution"]["resident"] is False and resident["execution"]["resident"] is True
    assert numbers(resident) == numbers(loader)
    assert (resident_dir / "history.csv").read_text() == (loader_dir / "history.csv").read_text()
    a, b = load_tensors(loader_dir / "final.pt"), load_tensors(resident_dir / "final.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_auto_keeps_faces_resident_when_they_fit_and_says_why(tmp_path, monkeypatch):
    params = make_params(tmp_path)
    splits = load_face_splits(paths.face_store_dir(params, "tiny"), params["normalization"])
    cpu = torch.device("cpu")
    assert feeds.choose_resident("auto", splits, cpu)[0] is True
    monkeypatch.setattr(feeds, "CPU_RESIDENT_BYTES", feeds.store_bytes(splits) - 1)
    resident, why = feeds.choose_resident("auto", splits, cpu)
    assert not resident and "do not fit" in why
    assert feeds.choose_resident(True, splits, cpu) == (True, "training.resident is true (0 MiB of faces)")
    # CUDA: half the free device memory
    free = 2 * feeds.store_bytes(splits)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (free, 4 * free))
    assert feeds.choose_resident("auto", splits, CUDA)[0] is True
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (free - 2, 4 * free))
    assert feeds.choose_resident("auto", splits, CUDA)[0] is False


def test_bf16_autocast_trains_in_bf16_and_keeps_pruned_weights_exactly_zero(tmp_path):
    """bf16 autocast and channels_last on the CPU: the CUDA defaults, on the code path every level runs."""
    fast = {"precision": "bf16", "channels_last": True}
    results = {}
    for name, training in (("fp32", {"precision": "fp32", "channels_last": False}), ("bf16", fast)):
        params = make_params(tmp_path / name, training={**training, "max_epochs": 1})
        net = new_model(params, "mesonet", 32, 0)
        names = prunable_parameter_names(net, False)
        mask = prune_by_magnitude(dict(net.named_parameters()), full_mask(net, names), 0.8, "global")
        out = paths.level_outputs(params, "tiny", "mesonet", 0, "imp_global", 1)
        splits = load_face_splits(paths.face_store_dir(params, "tiny"), params["normalization"])
        identity = RunIdentity(stage="prune", dataset="tiny", model="mesonet", seed=0, method="imp_global", level=1)
        results[name] = train_run(params, identity, net, splits, out, mask=mask)
        final = load_tensors(out["final"])
        assert all(torch.equal(final[n][~m], torch.zeros_like(final[n][~m])) for n, m in mask.items())
        assert all(v.dtype == torch.float32 and v.is_contiguous() for v in final.values() if v.is_floating_point())
    assert results["bf16"]["execution"] == {
        "device": "cpu", "precision": "bf16", "channels_last": True, "deterministic": True, "compile": False,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_bf16": execution.cpu_bf16_support(),
        "resident": True, "peak_device_memory_mb": None,
    }
    assert results["bf16"]["splits"] != results["fp32"]["splits"]  # autocast did lower the arithmetic


@pytest.mark.parametrize("native", ["amx", "avx512_bf16"])
def test_auto_means_bf16_nhwc_and_cudnn_benchmark_on_cuda_and_on_a_cpu_with_native_bf16(monkeypatch, caplog, native):
    auto = {"precision": "auto", "channels_last": "auto", "deterministic": "auto", "compile": False}
    assert execution.resolve_execution(auto, CUDA, "cnn5") == execution.Execution("bf16", True, False, False)
    monkeypatch.setattr(execution, "cpu_bf16_support", lambda: native)
    cpu = torch.device("cpu")
    assert execution.resolve_execution(auto, cpu, "cnn5") == execution.Execution("bf16", True, True, False)
    monkeypatch.setattr(execution, "cpu_bf16_support", lambda: None)  # emulated bf16: exact fp32, NCHW
    assert execution.resolve_execution(auto, cpu, "cnn5") == execution.Execution("fp32", False, True, False)
    assert "emulated" not in caplog.text
    bf16 = {**auto, "precision": "bf16"}
    assert execution.resolve_execution(bf16, cpu, "cnn5").precision == "bf16"
    assert caplog.text.count("bf16 on a CPU without native bf16") == 1  # asked for, so warned about
    pinned = {**auto, "precision": "fp32", "deterministic": True}
    assert execution.resolve_execution(pinned, CUDA, "cnn5") == execution.Execution("fp32", True, True, False)


def test_a_models_registry_entry_can_keep_its_cpu_jobs_in_fp32_nchw(monkeypatch):
    from deepfake_lth.models import registry

    monkeypatch.setattr(execution, "cpu_bf16_support", lambda: "amx")
    auto = {"precision": "auto", "channels_last": "auto", "deterministic": "auto", "compile": False}
    slow = dataclasses.replace(registry.model_spec("cnn5"), name="slow", cpu_bf16=False, cpu_channels_last=False)
    with registry.registered(slow):
        assert execution.resolve_execution(auto, torch.device("cpu"), "slow") == execution.Execution(
            "fp32", False, True, False)
        assert execution.resolve_execution(auto, CUDA, "slow").precision == "bf16"  # a CPU default only
    # ResNet-18's bf16 runs on the demo moved further from fp32 than a second seed did: it keeps fp32 on a CPU
    assert execution.resolve_execution(auto, torch.device("cpu"), "resnet18").precision == "fp32"


def test_cudnn_benchmark_or_deterministic_kernels_on_cuda_nothing_switched_on_cpu():
    benchmark = torch.backends.cudnn.benchmark
    try:
        execution.configure_kernels(execution.Execution("bf16", True, False, False), CUDA)
        assert torch.backends.cudnn.benchmark and not torch.are_deterministic_algorithms_enabled()
        execution.configure_kernels(execution.Execution("fp32", False, True, False), CUDA)
        assert not torch.backends.cudnn.benchmark and torch.are_deterministic_algorithms_enabled()
        # On a CPU nothing is switched (its kernels are deterministic; the switch imports torch's compiler).
        torch.use_deterministic_algorithms(False)
        execution.configure_kernels(execution.Execution("fp32", False, True, False), torch.device("cpu"))
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.backends.cudnn.benchmark = benchmark
        torch.use_deterministic_algorithms(False)


def test_compile_wraps_the_forward_and_leaves_the_module_and_its_state_dict_plain(monkeypatch):
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda module: compiled.append(module) or module)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.Flatten(), torch.nn.LazyLinear(1))
    forward = execution.Forward(model, execution.Execution("bf16", True, False, True), torch.device("cpu"))
    logits = forward(torch.rand(2, 3, 8, 8))
    assert compiled == [model] and logits.dtype == torch.float32
    assert not any(k.startswith("_orig_mod") for k in model.state_dict())
