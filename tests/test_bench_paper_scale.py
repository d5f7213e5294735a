"""benchmarks/bench_paper_scale.py at its --quick size: it runs end to end on this device and writes its
JSON (also its last printed line) with every field the issue asks for."""

from __future__ import annotations

import json

import torch

from conftest import REPO, benchmark_module
from deepfake_lth.config import load_params

MODEL_FIELDS = {"resident_images_per_s", "dataloader_images_per_s", "resident_vs_dataloader",
                "training_gflop_per_image", "achieved_tflops", "peak_tflops", "fraction_of_peak"}


def test_quick_benchmark_writes_every_field(tmp_path, capsys):
    """Run in this process (its MesoNet runs are processes of their own): no second torch import."""
    out, threads = tmp_path / "paper_scale.json", torch.get_num_threads()
    try:
        assert benchmark_module("bench_paper_scale").main(["--quick", "--device", "cpu", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out
    written = json.loads(out.read_text())
    assert json.loads(printed.strip().splitlines()[-1]) == written
    assert {"device", "models", "concurrent_speedup", "projected_study_gpu_hours", "startup_s",
            "projection"} <= set(written)
    assert written["device"] == "cpu"
    assert set(written["models"]) == set(load_params(REPO / "params.paper.yaml")["models"])
    for name, model in written["models"].items():
        assert MODEL_FIELDS <= set(model), name
        assert model["resident_images_per_s"] > 0 and model["dataloader_images_per_s"] > 0
        assert model["training_gflop_per_image"] > 0 and model["peak_tflops"] is None  # no known peak on a CPU
    assert written["concurrent_speedup"] > 0 and written["projected_study_gpu_hours"] > 0
    assert {"imports_s", "store_s", "model_s", "faces_to_device_s", "total_s"} <= set(written["startup_s"])
    # the stage table's training jobs of the paper study (test_job_graph: 24 + 384 + 192 + 96 + 48)
    assert written["projection"]["training_jobs"] == 744
