"""A job costs its work: a CPU training job imports no compiler stack and no pandas, reruns write the same
bytes, and benchmarks/bench_startup.py at its --quick size reports every phase beside `import torch`."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from conftest import benchmark_module
from workflow_runner import BIN, ENV

# What a CPU job must not load (torch.compile's stack; the report's table and plotting libraries).
HEAVY = ("torch._dynamo", "torch._inductor", "sympy", "triton", "pandas", "matplotlib")
LEVEL = ["prune", "--dataset", "demo_gan", "--model", "mesonet", "--seed", "0", "--method", "imp_global", "--level", "1"]
# Runs a CLI command in a fresh interpreter and prints which HEAVY modules it left loaded.
PROBE = ("import json, sys\nfrom deepfake_lth.cli import main\ncode = main(sys.argv[2:])\n"
         "print(json.dumps([m for m in json.loads(sys.argv[1]) if m in sys.modules]))\nsys.exit(code)")


def loaded_after(work, *argv) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(HEAVY), "--params", "params.yaml", *argv],
                            cwd=work, env={**ENV, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_cpu_jobs_load_no_compiler_stack_and_rerun_to_the_same_bytes(tmp_path):
    bench = benchmark_module("bench_startup")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(bench.study_params(quick=True)))
    for step in (["demo", "--dataset", "demo_gan"], ["faces", "--dataset", "demo_gan"]):
        subprocess.run([str(BIN / "deepfake-lth"), "--params", "params.yaml", *step], cwd=tmp_path, env=ENV, check=True)
    assert loaded_after(tmp_path, "train", "--dataset", "demo_gan", "--model", "mesonet", "--seed", "0") == []
    assert loaded_after(tmp_path, *LEVEL) == []
    level = tmp_path / bench.level_folder(bench.study_params(quick=True))
    first = {p.name: p.read_bytes() for p in level.iterdir()}
    for path in level.iterdir():
        path.unlink()
    assert loaded_after(tmp_path, *LEVEL) == []
    assert {p.name: p.read_bytes() for p in level.iterdir()} == first
    assert set(first) == {"mask.pt", "final.pt", "history.csv", "metrics.json", "predictions.csv"}


def test_training_compile_does_load_the_compiler():
    probe = ("import sys, torch\nfrom deepfake_lth.training.execution import Execution, Forward\n"
             "Forward(torch.nn.Linear(2, 1), Execution('fp32', False, True, True), torch.device('cpu'))\n"
             "print('torch._dynamo' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], env=ENV, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"


def test_quick_startup_benchmark_reports_every_phase(tmp_path, capsys):
    out = tmp_path / "startup.json"
    assert benchmark_module("bench_startup").main(["--quick", "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == written
    assert {"job_s", "import_torch_s", "ratio", "phases", "jsonschema_beside_torch_s"} <= set(written)
    assert {"imports", "params", "store", "model", "training", "evaluation", "writes"} <= set(written["phases"])
    assert written["ratio"] == written["job_s"] / written["import_torch_s"] and written["import_torch_s"] > 0
    assert 0 < sum(written["phases"].values()) <= written["job_s"] * 1.2  # parts of the job (medians of each)
