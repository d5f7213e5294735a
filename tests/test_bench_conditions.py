"""benchmarks/bench_conditions.py at its --quick size: it times the stage's own functions on every model of
params.paper.yaml and projects the paper's stage, writing its JSON (also its last printed line)."""

from __future__ import annotations

import json

import torch

from conftest import REPO, benchmark_module
from deepfake_lth.config import load_params


def test_quick_benchmark_times_every_model_and_projects_the_paper_stage(tmp_path, capsys):
    module = benchmark_module("bench_conditions")
    out, threads = tmp_path / "conditions.json", torch.get_num_threads()
    try:
        assert module.main(["--quick", "--device", "cpu", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    written = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == written
    paper = load_params(REPO / "params.paper.yaml")
    assert set(written["models"]) == set(paper["models"])
    for model in written["models"].values():
        assert model["corruption_s_per_1000_faces"] > 0 and model["attack_s_per_subset"] > 0
        assert model["corruption_passes"] == 1 + sum(len(paper["robustness"][p]) for p in ("jpeg", "blur", "noise", "resize"))
    projection = written["projection"]
    assert projection["jobs"] == 24 and projection["stage_hours"] > 0
    assert set(projection["per_run_s"]["mesonet"]) == set(module.PAPER_TEST_FACES)
