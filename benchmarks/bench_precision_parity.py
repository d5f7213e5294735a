"""Accuracy parity of bf16 on a CPU: does bf16 training move a dense run more than a seed does?

On the demo study (params.yaml: its datasets, models, training), in a scratch folder: the demo data and
face stores, then for each dataset x model three dense runs through the real trainer: fp32/NCHW seed 0,
bf16 autocast with channels-last (the fast path on a CPU with native bf16) seed 0, and fp32/NCHW seed 1.
On the same test faces, with the report's paired bootstrap over test groups and exact McNemar test:
  precision gap   bf16 − fp32, seed 0
  seed gap        fp32 seed 1 − fp32 seed 0
Parity holds for a setting when the precision gap is no larger than the seed gap can be: |precision gap|
<= the largest |value| in the seed gap's 95% interval. A model that fails it keeps fp32 on a CPU: its
registry entry's cpu_bf16 is false, and the `default` column shows what auto resolves to. The wall time
of the fp32 and the bf16 run (the whole train_dense call) is reported beside.

    python benchmarks/bench_precision_parity.py [--workdir DIR] [--quick]

Prints a Markdown table (docs/performance.md holds the last one) and writes
benchmarks/out/precision_parity.json. On a CPU without native bf16 the bf16 runs are emulated (slower), and
the parity they show holds for the arithmetic all the same.
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from deepfake_lth import paths
from deepfake_lth.config import enabled_datasets, load_params
from deepfake_lth.io import write_json
from deepfake_lth.report.statistics.intervals import Intervals
from deepfake_lth.training.execution import cpu_bf16_support, resolve_execution

REPO = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out" / "precision_parity.json"
FP32 = {"precision": "fp32", "channels_last": False}
RUNS = {"fp32": (FP32, 0), "bf16": ({"precision": "bf16", "channels_last": True}, 0), "fp32_seed1": (FP32, 1)}


def study_params(workdir: Path, quick: bool) -> dict:
    """params.yaml's demo, every folder under `workdir`, one torch thread, on the CPU."""
    params = load_params(REPO / "params.yaml")  # a fresh dict, changed in place below
    params["device"], params["torch_threads"] = "cpu", 1
    params["paths"] = {"raw": str(workdir / "raw"), "faces": str(workdir / "faces"), "results": str(workdir / "results")}
    for dataset in enabled_datasets(params):
        params["datasets"][dataset]["root"] = str(paths.raw_dir(params, dataset))
    if quick:
        params["models"] = params["models"][:1]
        first = enabled_datasets(params)[0]
        for dataset in enabled_datasets(params)[1:]:
            params["datasets"][dataset]["enabled"] = False
        synthetic = params["datasets"][first]["synthetic"]
        synthetic["images_per_class"] = {"train": 16, "validation": 8, "test": 16}
        params["training"]["max_epochs"] = 1
    return params


def variant(params: dict, name: str) -> dict:
    """The params of one run variant: its execution settings, its own results folder."""
    settings, _ = RUNS[name]
    changed = copy.deepcopy(params)
    changed["training"].update(settings)
    changed["paths"]["results"] = str(Path(params["paths"]["results"]) / name)
    return changed


def train_variants(params: dict) -> list[dict]:
    from deepfake_lth.data.demo import generate_demo
    from deepfake_lth.data.extract import extract_with_parts
    from deepfake_lth.training.run import train_dense

    rows = []
    for dataset in enabled_datasets(params):
        generate_demo(params, dataset)
        extract_with_parts(params, dataset)
        for model in params["models"]:
            for name, (_, seed) in RUNS.items():
                run_params = variant(params, name)
                start = time.perf_counter()
                metrics = train_dense(run_params, dataset, model, seed)
                rows.append({"dataset": dataset, "model": model, "variant": name, "seed": seed,
                             "execution": metrics["execution"], "wall_s": time.perf_counter() - start,
                             "epochs": metrics["epochs"],
                             "test_accuracy": metrics["splits"]["test"]["accuracy"],
                             "outputs": paths.dense_outputs(run_params, dataset, model, seed)})
    return rows


def parity_rows(params: dict, runs: list[dict]) -> list[dict]:
    intervals = Intervals(params["statistics"])
    for run in runs:
        intervals.add_run(str(run["outputs"]["metrics"]), run["dataset"], run["outputs"]["predictions"])
    table = []
    for dataset in enabled_datasets(params):
        for model in params["models"]:
            path = {r["variant"]: str(r["outputs"]["metrics"]) for r in runs
                    if r["dataset"] == dataset and r["model"] == model}
            wall = {r["variant"]: r["wall_s"] for r in runs if r["dataset"] == dataset and r["model"] == model}
            resolved = resolve_execution(params["training"], torch.device("cpu"), model)
            precision = intervals.paired({0: path["bf16"]}, {0: path["fp32"]}, "accuracy", dataset)
            seed = intervals.paired({0: path["fp32_seed1"]}, {0: path["fp32"]}, "accuracy", dataset)
            seed_reach = max(abs(seed.low), abs(seed.high))
            table.append({
                "dataset": dataset, "model": model,
                "default_execution": resolved.precision + ("+cl" if resolved.channels_last else ""),
                "fp32": intervals.full[path["fp32"]]["accuracy"], "bf16": intervals.full[path["bf16"]]["accuracy"],
                "precision_gap": precision.delta, "precision_low": precision.low, "precision_high": precision.high,
                "precision_p": precision.p_value,
                "seed_gap": seed.delta, "seed_low": seed.low, "seed_high": seed.high, "seed_p": seed.p_value,
                "parity": abs(precision.delta) <= seed_reach,
                "fp32_wall_s": wall["fp32"], "bf16_wall_s": wall["bf16"],
            })
    return table


def markdown(table: list[dict]) -> str:
    pct = lambda v: f"{100 * v:+.1f}"  # noqa: E731
    lines = ["| dataset | model | fp32 acc % | bf16+cl acc % | bf16+cl − fp32 [95% CI], McNemar p | "
             "fp32 seed 1 − seed 0 [95% CI], p | parity | run wall s, fp32 → bf16+cl | default here |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        lines.append(
            f"| {r['dataset']} | {r['model']} | {100 * r['fp32']:.1f} | {100 * r['bf16']:.1f} | "
            f"{pct(r['precision_gap'])} [{pct(r['precision_low'])}, {pct(r['precision_high'])}], {r['precision_p']:.2f} | "
            f"{pct(r['seed_gap'])} [{pct(r['seed_low'])}, {pct(r['seed_high'])}], {r['seed_p']:.2f} | "
            f"{'yes' if r['parity'] else 'NO'} | {r['fp32_wall_s']:.1f} → {r['bf16_wall_s']:.1f} | {r['default_execution']} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--quick", action="store_true", help="one dataset and model, tiny splits, one epoch")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        params = study_params(args.workdir or Path(tmp), args.quick)
        runs = train_variants(params)
        table = parity_rows(params, runs)
    print(f"CPU bf16: {cpu_bf16_support() or 'emulated (slow here; every default is fp32)'}")
    print(markdown(table))
    write_json(args.out, {
        "cpu_bf16": cpu_bf16_support(), "machine": platform.platform(), "torch": torch.__version__,
        "bootstrap": params["statistics"]["bootstrap"], "settings": table,
        "runs": [{k: v for k, v in r.items() if k != "outputs"} for r in runs],
    })
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
