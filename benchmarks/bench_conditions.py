"""The conditions stage (robustness) at the paper's test sizes: what one scored run costs, per model.

For each model of params.paper.yaml, at its image size and with the precision and layout its runs
resolve to on this device, through the stage's own functions on one run (a fresh network: the cost
does not depend on the weights):
  corruptions  the clean pass and every corruption severity of params.paper.yaml's grid over a sample of
               test faces (score_corruptions), as seconds per 1,000 test faces
  attacks      FGSM and PGD at every ε of the grid (score_attacks) over a sample of faces, as seconds
               for robustness.adversarial_faces faces
Then per run at each paper dataset's test size (PAPER_TEST_FACES, PAPER.md), and the whole stage of
params.paper.yaml: its conditions jobs x scored runs per job, in device-hours. The projection is
linear in faces (scoring is batched: time per face is flat past one batch).

    python benchmarks/bench_conditions.py [--quick] [--device auto|cpu|cuda]

Prints a table, writes benchmarks/out/conditions.json, and prints that JSON as its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out" / "conditions.json"
PAPER_PARAMS = REPO / "params.paper.yaml"
PAPER_TEST_FACES = {"openforensic_kaggle": 10_905, "ffpp_kaggle": 2_400}  # PAPER.md: the two test splits
# Faces timed: corruptions (every severity of the grid) and attacks (every ε); `quick` is the test suite's smoke run.
SIZES = {"quick": {"image_size": 32, "faces": 8, "attacked": 4},
         "cpu": {"image_size": None, "faces": 32, "attacked": 8},
         "cuda": {"image_size": None, "faces": 2048, "attacked": 500}}


def clock(device) -> float:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def bench_model(name: str, params: dict, store_dir: Path, size: dict, device) -> dict:
    """Seconds per 1,000 faces for the corruption passes and per adversarial subset for the attacks, of one run."""
    from deepfake_lth.conditions.perturbations import configured
    from deepfake_lth.conditions.scoring import ScoredRun, Scorer, score_attacks, score_corruptions
    from deepfake_lth.data.face_store import FaceStore
    from deepfake_lth.models.registry import build_model
    from deepfake_lth.training.execution import Forward, prepare_model, resolve_execution

    image_size = params["faces"]["image_size"]
    execution = resolve_execution(params["training"], device, name)
    network = prepare_model(build_model(name, image_size), execution, device).eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    store = FaceStore(store_dir / "test")
    grid = configured(params["robustness"])
    corruptions, attacks = [c for c in grid if not c[0].attack], [c for c in grid if c[0].attack]
    scorer = Scorer(params, device)

    def run() -> ScoredRun:
        return ScoredRun(name, network, Forward(network, execution, device), None, [])

    score_corruptions([run()], store, corruptions, scorer, 0)  # warm-up: kernels chosen, caches filled
    began = clock(device)
    score_corruptions([run()], store, corruptions, scorer, 0)
    corrupted = clock(device) - began
    robustness = {**params["robustness"], "adversarial_faces": size["attacked"]}
    began = clock(device)
    score_attacks([run()], store, attacks, scorer, robustness)
    attacked = clock(device) - began
    passes = 1 + sum(len(g) for _, g in corruptions)
    return {"precision": execution.precision, "channels_last": execution.channels_last,
            "corruption_passes": passes, "corruption_s_per_1000_faces": 1000 * corrupted / len(store),
            "attack_s_per_subset": attacked * params["robustness"]["adversarial_faces"] / size["attacked"]}


def project(params: dict, models: dict) -> dict:
    """Per run at each paper test size, and the whole stage of params.paper.yaml (device-hours)."""
    from deepfake_lth import stages
    from deepfake_lth.config import scored_runs

    runs_per_job = len(scored_runs(params))
    per_run = {name: {dataset: m["corruption_s_per_1000_faces"] * faces / 1000 + m["attack_s_per_subset"]
                      for dataset, faces in PAPER_TEST_FACES.items()} for name, m in models.items()}
    jobs = [job for job in stages.study(params) if job.rule == "conditions"]
    seconds = sum(per_run[job.wildcards["model"]][job.wildcards["dataset"]] * runs_per_job for job in jobs)
    return {"runs_per_job": runs_per_job, "jobs": len(jobs), "per_run_s": per_run, "stage_hours": seconds / 3600}


def write_store(root: Path, n: int, size: int) -> None:
    import numpy as np

    from deepfake_lth.data.face_store import FaceStoreWriter

    rng = np.random.default_rng(0)
    writer = FaceStoreWriter(root / "test", n, size)
    for i in range(n):
        writer.add(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), i % 2, f"video{i // 4}", f"{i}.png")
    writer.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke-test size (32 px, a few faces): seconds")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    import torch

    from deepfake_lth.config import load_params
    from deepfake_lth.device import choose_device
    from deepfake_lth.io import write_json

    device = choose_device(args.device)
    size = SIZES["quick" if args.quick else device.type]
    torch.set_num_threads(1)
    params = load_params(PAPER_PARAMS)
    if size["image_size"]:
        params["faces"]["image_size"] = size["image_size"]
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        write_store(Path(tmp), size["faces"], params["faces"]["image_size"])
        for name in params["models"]:
            began = time.perf_counter()
            models[name] = bench_model(name, params, Path(tmp), size, device)
            print(f"{name}: {models[name]['corruption_s_per_1000_faces']:.1f} s per 1,000 faces x "
                  f"{models[name]['corruption_passes']} passes, attacks {models[name]['attack_s_per_subset']:.1f} s "
                  f"({time.perf_counter() - began:.0f} s)", file=sys.stderr, flush=True)
    result = {"device": device.type,
              "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
              "cpus": os.cpu_count(), "torch": torch.__version__, "size": "quick" if args.quick else "full",
              "image_size": params["faces"]["image_size"], "faces_timed": size["faces"],
              "attacked_faces_timed": size["attacked"], "models": models, "projection": project(params, models)}
    print(f"\n{'model':<10} {'s/1k faces':>11} {'attacks s':>10} " + " ".join(f"{d:>22}" for d in PAPER_TEST_FACES))
    for name, m in models.items():
        per_run = result["projection"]["per_run_s"][name]
        print(f"{name:<10} {m['corruption_s_per_1000_faces']:>11.1f} {m['attack_s_per_subset']:>10.1f} "
              + " ".join(f"{per_run[d]:>20.0f} s" for d in PAPER_TEST_FACES))
    print(f"stage of params.paper.yaml: {result['projection']['jobs']} jobs x {result['projection']['runs_per_job']} "
          f"runs: {result['projection']['stage_hours']:.1f} device-hours on {result['device_name']}")
    write_json(args.out, result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
