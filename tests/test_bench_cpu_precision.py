"""benchmarks/bench_cpu_precision.py and bench_precision_parity.py at their --quick size: each runs end to end
on this CPU and writes its JSON with the fields the README's figures and docs/performance.md are made of."""

from __future__ import annotations

import json

import torch

from conftest import benchmark_module
from deepfake_lth.training.execution import cpu_bf16_support


def run_benchmark(name: str, *argv: str) -> int:
    module = benchmark_module(name)
    threads = torch.get_num_threads()
    try:
        return module.main(list(argv))
    finally:
        torch.set_num_threads(threads)


def test_the_precision_benchmark_writes_every_field(tmp_path):
    out = tmp_path / "cpu_precision.json"
    assert run_benchmark("bench_cpu_precision", "--quick", "--out", str(out)) == 0
    written = json.loads(out.read_text())
    assert written["cpu_bf16"] == cpu_bf16_support() and written["cpu_capability"]
    (result,) = written["results"]
    assert {"fp32", "bf16+cl", "bf16"} == set(result["images_per_s"]) == set(result["achieved_gflops"])
    assert all(rate > 0 for rate in result["images_per_s"].values())
    assert result["default"] == ("bf16+cl" if cpu_bf16_support() else "fp32")
    assert result["default_vs_fp32"] == result["images_per_s"][result["default"]] / result["images_per_s"]["fp32"]
    assert result["training_gflop_per_image"] > 0 and result["size"] == "demo"


def test_the_parity_benchmark_compares_bf16_with_fp32_beside_a_seed(tmp_path):
    out = tmp_path / "precision_parity.json"
    assert run_benchmark("bench_precision_parity", "--quick", "--workdir", str(tmp_path / "work"),
                         "--out", str(out)) == 0
    written = json.loads(out.read_text())
    (setting,) = written["settings"]
    assert {"precision_gap", "precision_low", "precision_high", "seed_gap", "seed_low", "seed_high",
            "parity"} <= set(setting)
    assert setting["precision_low"] <= setting["precision_gap"] <= setting["precision_high"]
    runs = {run["variant"]: run for run in written["runs"]}
    assert runs["fp32"]["execution"]["precision"] == "fp32" and runs["fp32_seed1"]["seed"] == 1
    assert runs["bf16"]["execution"]["precision"] == "bf16" and runs["bf16"]["execution"]["channels_last"]
    expected = "bf16+cl" if cpu_bf16_support() else "fp32"  # MesoNet, the quick run's model, passed parity
    assert setting["default_execution"] == expected
