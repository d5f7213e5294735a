"""CPU training steps in fp32/NCHW against bf16 autocast with channels-last, for every registered model.

For each model, at the demo's face size (params.yaml) and the paper's (params.paper.yaml), with one torch
thread and with all of them: one training step (forward, BCE, backward, Adam step, batch 32, as the
trainer runs it through training/execution.py's Forward and its fused optimiser) in each execution variant, alternated round by
round, the best round of each kept. With one thread the clock is the process's CPU time (a shared
machine's neighbours then cost nothing); with all threads it is wall time. Variants:
  fp32        fp32, NCHW: what every CPU job ran before bf16 was the default where native
  bf16+cl     bf16 autocast, channels-last (the fast path on a CPU with native bf16)
  bf16        bf16 autocast, NCHW
  default     what `precision: auto` and `channels_last: auto` resolve to for this model on this CPU
It prints per model and size the images/s of each, default/fp32, and the achieved GFLOP/s (training FLOPs
per image, FlopCounterMode, times images/s) beside the CPU's peak where known.

    python benchmarks/bench_cpu_precision.py [--quick] [--rounds R]

Writes benchmarks/out/cpu_precision.json.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from deepfake_lth.io import write_json
from deepfake_lth.models.registry import MODEL_NAMES, build_model
from deepfake_lth.training.loop import make_optimizer
from deepfake_lth.training.execution import (
    Execution, Forward, cpu_bf16_support, prepare_model, resolve_execution,
)

REPO = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out" / "cpu_precision.json"
BATCH = 32
VARIANTS = {"fp32": ("fp32", False), "bf16+cl": ("bf16", True), "bf16": ("bf16", False)}
# Peak bf16 multiply-accumulate throughput per core and cycle, by the unit that runs it: AMX's tile
# multiply does 1024 bf16 MACs per cycle (Intel's optimisation manual), AVX-512 BF16's vdpbf16ps 32 per
# instruction on two FMA ports (64); fp32 AVX-512 FMA 32 (two ports x 16). A FLOP is half a MAC.
PEAK_FLOP_PER_CYCLE = {"amx": 2048, "avx512_bf16": 128, None: 64}


def face_sizes() -> dict[str, int]:
    """The demo's and the paper's face sizes, as their params files state them."""
    sizes = {}
    for name, file in (("demo", "params.yaml"), ("paper", "params.paper.yaml")):
        sizes[name] = yaml.safe_load((REPO / file).read_text())["faces"]["image_size"]
    return sizes


def training_flops_per_image(model, size: int) -> float:
    """3 x the forward's FLOPs (a backward costs about twice a forward), as FlopCounterMode counts them."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.eval()(torch.zeros(2, 3, size, size))
    return 3 * counter.get_total_flops() / 2


def step_runner(name: str, size: int, execution: Execution):
    """A callable doing one training step of a fresh model (seed 0) in `execution`."""
    torch.manual_seed(0)
    device = torch.device("cpu")
    model = prepare_model(build_model(name, size), execution, device).train()
    forward = Forward(model, execution, device)
    optimizer = make_optimizer(model, {"optimizer": "adam", "learning_rate": 1e-4, "weight_decay": 0.0})
    images = torch.randn(BATCH, 3, size, size)
    labels = (torch.arange(BATCH) % 2).float()

    def step():
        loss = F.binary_cross_entropy_with_logits(forward(images).squeeze(1), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # first-call allocations and oneDNN's kernel choice are not what we measure
    return step


def best_times(runners: dict, rounds: int, cpu_clock: bool) -> dict[str, float]:
    """Each runner's best of `rounds` timed calls, alternated."""
    clock = time.process_time if cpu_clock else time.perf_counter
    best = dict.fromkeys(runners, math.inf)
    for _ in range(rounds):
        for variant, run in runners.items():
            start = clock()
            run()
            best[variant] = min(best[variant], clock() - start)
    return best


def cpu_mhz() -> float | None:
    """The CPU's nominal clock from /proc/cpuinfo (None where it says nothing)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1])
    except OSError:
        pass
    return None


def bench(name: str, size: int, threads: int, rounds: int) -> dict:
    torch.set_num_threads(threads)
    default = resolve_execution({"precision": "auto", "channels_last": "auto", "deterministic": "auto",
                                 "compile": False}, torch.device("cpu"), name)
    executions = {v: Execution(p, cl, True, False) for v, (p, cl) in VARIANTS.items()}
    runners = {v: step_runner(name, size, e) for v, e in executions.items()}
    times = best_times(runners, rounds, cpu_clock=threads == 1)
    resolved = next((v for v, e in executions.items() if e == default), "fp32")
    rate = {v: BATCH / t for v, t in times.items()}
    flops = training_flops_per_image(build_model(name, size), size)
    mhz, support = cpu_mhz(), cpu_bf16_support()
    peak = PEAK_FLOP_PER_CYCLE[support] * mhz * 1e6 * threads / 1e9 if mhz else None
    achieved = {v: flops * r / 1e9 for v, r in rate.items()}
    return {"threads": threads, "rounds": rounds, "images_per_s": rate, "default": resolved,
            "default_vs_fp32": rate[resolved] / rate["fp32"], "bf16_cl_vs_fp32": rate["bf16+cl"] / rate["fp32"],
            "training_gflop_per_image": flops / 1e9, "achieved_gflops": achieved, "peak_gflops": peak,
            "clock": "process_cpu_time" if threads == 1 else "wall_time"}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one model, the demo's size, one thread, 2 rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=None, help="default: every registered model")
    parser.add_argument("--threads", nargs="+", type=int, default=None, help="default: 1 and all CPUs")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    sizes = face_sizes()
    models = MODEL_NAMES[:1] if args.quick else (args.models or MODEL_NAMES)
    size_items = list(sizes.items())[:1] if args.quick else list(sizes.items())
    thread_counts = [1] if args.quick else (args.threads or sorted({1, os.cpu_count() or 1}))
    rounds = 2 if args.quick else args.rounds
    results = []
    print(f"{'model':<14}{'size':>5}{'thr':>4}{'fp32 img/s':>12}{'bf16+cl':>9}{'bf16':>8}{'default':>9}"
          f"{'ratio':>7}{'GFLOP/s':>9}{'peak':>7}")
    for name in models:
        for size_name, size in size_items:
            for threads in thread_counts:
                r = {"model": name, "size": size_name, "image_size": size, **bench(name, size, threads, rounds)}
                results.append(r)
                rate, achieved = r["images_per_s"], r["achieved_gflops"][r["default"]]
                print(f"{name:<14}{size:>5}{threads:>4}{rate['fp32']:>12.1f}{rate['bf16+cl']:>9.1f}{rate['bf16']:>8.1f}"
                      f"{r['default']:>9}{r['default_vs_fp32']:>7.2f}{achieved:>9.1f}"
                      f"{r['peak_gflops'] or float('nan'):>7.0f}", flush=True)
    write_json(args.out, {
        "batch_size": BATCH, "cpu_bf16": cpu_bf16_support(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpus": os.cpu_count(), "machine": platform.platform(), "processor": platform.processor(),
        "torch": torch.__version__, "results": results,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
