"""Paper scale near the hardware limit: training throughput per model, GPU sharing, job start-up, and
the projected device-hours of params.paper.yaml's study.

For each model of params.paper.yaml (at its 128 px, batch and precision as the run would resolve them
on this device), through the trainer's own inner loop (`train_epoch` with a run's `Forward`):
  resident     faces resident on the device (training.resident: the batches gathered, flipped and
               normalised there)
  dataloader   today's path, a DataLoader over the face store (num_workers 0 on a CPU, params'
               num_workers on CUDA)
  FLOP/s       FLOPs per training image counted by torch's FlopCounterMode (forward and backward),
               times the resident images/s, against the device's dense bf16 peak where it is known
Then N concurrent MesoNet runs (separate processes, as Snakemake's jobs are) against one, the time a
job spends before its first training step (interpreter, imports, store opening, model build, faces to
the device), and the study's projected hours: for every training job of the stage table (train,
prune_*, transfer), epochs x (training faces / images/s + validation faces / forward images/s),
divided by the concurrent speedup for models that share a GPU (gpu_slots below the GPU's slots).

Assumptions (documented, not measured): EPOCHS_PER_RUN epochs per run (early stopping with the
paper's patience 10 runs the best epoch plus 10; the paper's runs at lr 1e-4 converge within 10-20
epochs); face counts from the face stores when extracted, else PAPER.md's figures (PAPER_FACES);
a validation pass at EVAL_SPEEDUP x the training rate (a forward is about a third of a step);
Grad-CAM and the report are left out (minutes).

    python benchmarks/bench_paper_scale.py [--quick] [--device auto|cpu|cuda] [--epochs-per-run E]

Prints a table, writes benchmarks/out/paper_scale.json, and prints that JSON as its last line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The trainer's per-batch progress bars would bury the table (read by tqdm when first imported; children inherit it).
os.environ.setdefault("TQDM_DISABLE", "1")

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out" / "paper_scale.json"
PAPER_PARAMS = REPO / "params.paper.yaml"
GPU_PROFILE = REPO / "workflow" / "profiles" / "gpu" / "config.yaml"
EPOCHS_PER_RUN = 25
EVAL_SPEEDUP = 3.0
PAPER_FACES = {"openforensic_kaggle": (140_002, 39_428), "ffpp_kaggle": (11_600, 2_400)}  # (train, validation)
# Dense bf16 tensor-core peaks (TFLOP/s, vendor datasheets, no sparsity), by a substring of the
# device name; the first match wins, so the more specific names come first.
PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100", 989.0), ("H200", 989.0), ("GH200", 989.0),
                    ("A100", 312.0), ("L40S", 362.0), ("A10", 125.0))
TARGETS = {"resident_vs_dataloader": 0.97, "resnet18_fraction_of_peak": 0.25, "concurrent_speedup": 3.0,
           "projected_study_gpu_hours": 12.0}
# The two sizes: `quick` (the test suite's smoke run, seconds) and the full one (`make bench`).
SIZES = {
# Rounds stop early once a model's rounds took `budget_s` (at least two rounds; one at quick size).
    "quick": {"image_size": 32, "batch_size": 4, "batches": 1, "rounds": 1, "budget_s": 0, "concurrent_epochs": 1},
    "cpu": {"image_size": 128, "batch_size": 32, "batches": 2, "rounds": 8, "budget_s": 60, "concurrent_epochs": 6},
    "cuda": {"image_size": 128, "batch_size": 64, "batches": 40, "rounds": 5, "budget_s": 60, "concurrent_epochs": 5},
}


# --------------------------------------------------------------------------------------------- set-up
def write_store(root: Path, n_train: int, n_eval: int, size: int) -> Path:
    """A face store of random faces (fakes with a brighter left half) with the three splits."""
    import numpy as np

    from deepfake_lth.data.face_store import FaceStoreWriter

    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("validation", n_eval), ("test", n_eval)):
        writer = FaceStoreWriter(root / split, n, size)
        for i in range(n):
            image = rng.integers(0, 140, (size, size, 3), dtype=np.uint8)
            image[:, : size // 2] += 100 * (i % 2)
            writer.add(image, i % 2, f"video{i // 4}", f"{i}.png")
        writer.close()
    return root


def run_settings(size: dict, device_name: str) -> tuple[dict, dict]:
    """params.paper.yaml's params, with the benchmark's batch size, and its training block for `device_name`."""
    from deepfake_lth.config import load_params

    params = load_params(PAPER_PARAMS)
    training = {**params["training"], "batch_size": size["batch_size"], "bn_recalibration": False}
    if device_name == "cpu":
        training["num_workers"] = 0  # a CPU job's loader workers only compete with its own compute
    return params, training


def synced(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def clock(device) -> float:
    """On a CPU the process's CPU time (one torch thread: what the code costs, not what the neighbours
    on a shared machine take); on CUDA wall time."""
    synced(device)
    return time.process_time() if device.type == "cpu" else time.perf_counter()


# ------------------------------------------------------------------------------------- per model
def flops_per_image(model, size: int) -> float:
    """Training FLOPs per image: 3 x the forward's, as FlopCounterMode counts them (a backward costs
    about two forwards; torch's counter overcounts the backward of grouped convolutions, XceptionNet's
    depthwise ones, about fivefold, so the backward is not counted directly)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    images = torch.zeros(2, 3, size, size, device=next(model.parameters()).device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.eval()(images)
    return 3 * counter.get_total_flops() / len(images)


def peak_tflops(device) -> float | None:
    import torch

    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_TFLOPS if key in name), None)


def bench_model(name: str, store: Path, params: dict, training: dict, size: dict, device) -> dict:
    """Images/s of one model's training epoch through both feeds, best of interleaved rounds."""
    import torch

    from deepfake_lth.training.execution import Forward, configure_kernels, prepare_model, resolve_execution
    from deepfake_lth.training.feeds import dataloader_feeds, resident_feeds
    from deepfake_lth.training.inputs import load_face_splits
    from deepfake_lth.training.loop import EpochShuffle, make_optimizer, train_epoch
    from deepfake_lth.training.run import new_model

    splits = load_face_splits(store, params["normalization"])
    execution = resolve_execution(training, device, name)
    model = prepare_model(new_model(params, name, size["image_size"], 0), execution, device)
    configure_kernels(execution, device)
    forward = Forward(model, execution, device)
    optimizer = make_optimizer(model, training)
    sampler = EpochShuffle(len(splits.train), 0)
    feeds = {"resident": resident_feeds(splits, training, device, sampler).train,
             "dataloader": dataloader_feeds(splits, training, 0, device, sampler).train}
    flips = torch.Generator()
    for feed in feeds.values():  # warm-up: first-call allocations, cuDNN's kernel choice, loader workers
        train_epoch(model, feed, optimizer, device, flips=flips, forward=forward, desc=name)
    best, began = {path: math.inf for path in feeds}, time.perf_counter()
    for round_ in range(size["rounds"]):
        if round_ >= min(2, size["rounds"]) and time.perf_counter() - began > size["budget_s"]:
            break
        for path, feed in feeds.items():
            sampler.set_epoch(round_ + 1)
            start = clock(device)
            train_epoch(model, feed, optimizer, device, flips=flips, forward=forward, desc=name)
            best[path] = min(best[path], clock(device) - start)
    n = len(splits.train)
    rate = {path: n / seconds for path, seconds in best.items()}
    flops = flops_per_image(model, size["image_size"])
    peak = peak_tflops(device)
    achieved = flops * rate["resident"] / 1e12
    return {
        "resident_images_per_s": rate["resident"], "dataloader_images_per_s": rate["dataloader"],
        "resident_vs_dataloader": rate["resident"] / rate["dataloader"],
        "training_gflop_per_image": flops / 1e9, "achieved_tflops": achieved, "peak_tflops": peak,
        "fraction_of_peak": achieved / peak if peak else None, "precision": execution.precision,
        "channels_last": execution.channels_last, "images_per_epoch": n,
    }


# ---------------------------------------------------------------------- concurrent runs and start-up
def worker(store: str, image_size: int, batch_size: int, epochs: int, spawned: float) -> None:
    """One MesoNet run as a job would start it: report the start-up phases, then for each `go` line on
    stdin time `epochs` epochs (after one untimed epoch: first-call allocations)."""
    started = time.time()
    import torch

    import deepfake_lth.cli  # noqa: F401 (what `deepfake-lth train` imports)
    from deepfake_lth.device import choose_device
    from deepfake_lth.training.execution import Forward, configure_kernels, prepare_model, resolve_execution
    from deepfake_lth.training.feeds import resident_feeds
    from deepfake_lth.training.inputs import load_face_splits
    from deepfake_lth.training.loop import EpochShuffle, make_optimizer, train_epoch
    from deepfake_lth.training.run import new_model

    imported = time.time()
    device = choose_device(os.environ.get("BENCH_DEVICE", "auto"))
    torch.set_num_threads(1)
    params, training = run_settings({"batch_size": batch_size}, device.type)
    splits = load_face_splits(Path(store), params["normalization"])
    opened = time.time()
    execution = resolve_execution(training, device, "mesonet")
    model = prepare_model(new_model(params, "mesonet", image_size, 0), execution, device)
    configure_kernels(execution, device)
    built = time.time()
    sampler = EpochShuffle(len(splits.train), 0)
    feed = resident_feeds(splits, training, device, sampler).train
    forward, optimizer = Forward(model, execution, device), make_optimizer(model, training)
    synced(device)
    ready = time.time()
    print(json.dumps({"python_s": started - spawned, "imports_s": imported - started, "store_s": opened - imported,
                      "model_s": built - opened, "faces_to_device_s": ready - built, "total_s": ready - spawned}),
          flush=True)
    train_epoch(model, feed, optimizer, device, forward=forward, desc="mesonet")
    for _ in sys.stdin:  # go: the runs of a group start their timed epochs together
        synced(device)
        begin = time.time()
        for epoch in range(epochs):
            sampler.set_epoch(epoch)
            train_epoch(model, feed, optimizer, device, forward=forward, desc="mesonet")
        synced(device)
        print(json.dumps({"begin": begin, "end": time.time(), "images": epochs * len(splits.train)}), flush=True)


def concurrent_runs(n: int, store: Path, size: dict, device) -> tuple[float, float, dict]:
    """Images/s of one MesoNet run alone and of `n` runs together (separate processes, as jobs are; the
    best of alternating rounds), and the start-up phases of the first run. All n + 1 processes start at
    once, as Snakemake starts jobs; one trains alone, then the other n together."""
    env = {**os.environ, "BENCH_DEVICE": device.type, "OMP_NUM_THREADS": "1"}
    args = [store, size["image_size"], size["batch_size"], size["concurrent_epochs"]]
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", *map(str, args), repr(time.time())],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(n + 1)]
    startups = [json.loads(p.stdout.readline()) for p in procs]

    def train(group) -> float:
        for p in group:
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [json.loads(p.stdout.readline()) for p in group]
        return sum(r["images"] for r in results) / (max(r["end"] for r in results) - min(r["begin"] for r in results))

    alone = together = 0.0
    for _ in range(max(1, min(3, size["rounds"]))):
        alone, together = max(alone, train(procs[:1])), max(together, train(procs[1:]))
    for p in procs:
        p.stdin.close()
        if p.wait() != 0:
            raise RuntimeError(f"a MesoNet run failed ({p.returncode})")
    return alone, together, startups[0]


# ------------------------------------------------------------------------------------------ projection
def study_faces(params: dict) -> dict[str, tuple[int, int]]:
    """(training, validation) faces per enabled dataset: the face store's manifest, else PAPER_FACES."""
    from deepfake_lth.config import enabled_datasets
    from deepfake_lth.plan import training_faces

    faces = {}
    for dataset in enabled_datasets(params):
        n, _ = training_faces(params, dataset)
        train, validation = PAPER_FACES[dataset]
        faces[dataset] = (train, validation) if n is None else (n, round(validation * n / train))
    return faces


def profile_gpu_slots() -> int:
    """The slots that make one GPU: workflow/profiles/gpu's `gpu_slots` resource."""
    import yaml

    resources = yaml.safe_load(GPU_PROFILE.read_text())["resources"]
    return int(dict(item.split("=") for item in resources)["gpu_slots"])


def project_study(params: dict, models: dict, speedup: float, epochs: int, gpu_slots: int) -> dict:
    """Device-hours of every training job of the study (the stage table's jobs), per model and in all."""
    from deepfake_lth import stages
    from deepfake_lth.models.registry import model_spec
    from deepfake_lth.plan import trained_on, trains

    faces, hours = study_faces(params), {}
    for job in stages.study(params):
        if not trains(job):
            continue
        model = job.wildcards["model"]
        rate = models[model]["resident_images_per_s"]
        train, validation = faces[trained_on(job)]
        seconds = epochs * (train / rate + validation / (EVAL_SPEEDUP * rate))
        if model_spec(model).gpu_slots < gpu_slots:  # shares the GPU with other runs
            seconds /= speedup
        hours[model] = hours.get(model, 0.0) + seconds / 3600
    jobs = sum(trains(job) for job in stages.study(params))
    return {"training_jobs": jobs, "epochs_per_run": epochs, "faces": faces, "hours_per_model": hours,
            "total_hours": sum(hours.values())}


# ---------------------------------------------------------------------------------------------- main
def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        store, image_size, batch_size, epochs, spawned = argv[1:]
        worker(store, int(image_size), int(batch_size), int(epochs), float(spawned))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke-test size (32 px, one batch): seconds")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--epochs-per-run", type=int, default=EPOCHS_PER_RUN)
    parser.add_argument("--concurrent", type=int, default=None,
                        help="MesoNet runs at once (default: 4 on CUDA, 2 on a CPU, 1 at quick size)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    import torch

    from deepfake_lth.device import choose_device
    from deepfake_lth.io import write_json

    device = choose_device(args.device)
    size = SIZES["quick" if args.quick else device.type]
    torch.set_num_threads(1)
    params, training = run_settings(size, device.type)
    n_concurrent = args.concurrent or (1 if args.quick else 4 if device.type == "cuda" else 2)
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        n = size["batch_size"] * size["batches"]
        store = write_store(Path(tmp) / "store", n, size["batch_size"], size["image_size"])
        for name in params["models"]:
            began = time.perf_counter()
            models[name] = bench_model(name, store, params, training, size, device)
            print(f"{name}: resident {models[name]['resident_images_per_s']:.1f} img/s, dataloader "
                  f"{models[name]['dataloader_images_per_s']:.1f} ({time.perf_counter() - began:.0f} s)",
                  file=sys.stderr, flush=True)
        single, together, startup = concurrent_runs(n_concurrent, store, size, device)
    speedup = together / single
    projection = project_study(params, models, speedup, args.epochs_per_run, profile_gpu_slots())
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    result = {
        "device": device.type, "device_name": device_name, "cpus": os.cpu_count(), "torch": torch.__version__,
        "size": "quick" if args.quick else "full", **size, "models": models,
        "concurrent": {"runs": n_concurrent, "single_images_per_s": single, "together_images_per_s": together},
        "concurrent_speedup": speedup, "startup_s": startup, "projection": projection,
        "projected_study_gpu_hours": projection["total_hours"], "targets": TARGETS,
    }
    print_table(result)
    write_json(args.out, result)
    print(json.dumps(result, sort_keys=True))
    return 0


def print_table(r: dict) -> None:
    print(f"device {r['device_name']} ({r['device']}), {r['image_size']} px, batch {r['batch_size']}")
    print(f"{'model':<10}{'resident img/s':>16}{'dataloader':>12}{'ratio':>8}{'GFLOP/img':>11}{'TFLOP/s':>9}"
          f"{'of peak':>9}")
    for name, m in r["models"].items():
        peak = f"{m['fraction_of_peak']:.1%}" if m["fraction_of_peak"] is not None else "-"
        print(f"{name:<10}{m['resident_images_per_s']:>16.1f}{m['dataloader_images_per_s']:>12.1f}"
              f"{m['resident_vs_dataloader']:>8.3f}{m['training_gflop_per_image']:>11.3f}{m['achieved_tflops']:>9.3f}"
              f"{peak:>9}")
    c = r["concurrent"]
    print(f"{c['runs']} concurrent MesoNet runs: {c['together_images_per_s']:.1f} img/s against "
          f"{c['single_images_per_s']:.1f} for one: {r['concurrent_speedup']:.2f}x")
    print("before the first training step: " + ", ".join(f"{k} {v:.2f} s" for k, v in r["startup_s"].items()))
    p = r["projection"]
    print(f"projected study: {p['training_jobs']} training jobs x {p['epochs_per_run']} epochs = "
          f"{r['projected_study_gpu_hours']:.1f} {r['device']}-hours ("
          + ", ".join(f"{k} {v:.1f}" for k, v in p["hours_per_model"].items()) + ")")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
