"""What a ticket saves when deployed, at the paper's face size: CPU latency per image and bytes on disk of
the dense network, of an unstructured ticket (IMP-Global's mask at 80%: the dense network's zeros) and of
channel tickets (shrunk) at 60% and 80%, per model, in PyTorch and ONNX Runtime.

Each network is a fresh one (latency does not depend on the weights): the unstructured ticket is pruned by
magnitude, the channel tickets by L1 norm (lottery/channels.py), both through the deploy stage's own
functions (deployment/). Latency is timed with torch.utils.benchmark (median, IQR), on one thread and on
every core, at batch 1 and 32. Timings on a shared machine are noisy: the table gives the spread, and
no test asserts a time.

    python benchmarks/bench_deployment.py [--quick] [--min-run-time S]

Prints a table, writes benchmarks/out/deployment.json, and prints that JSON as its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out" / "deployment.json"
PAPER_PARAMS = REPO / "params.paper.yaml"
SIZES = {"quick": {"image_size": 32, "models": ["mesonet", "cnn5"], "min_run_time": 0.01},
         "full": {"image_size": None, "models": None, "min_run_time": 0.5}}
CHANNEL_SPARSITIES = (0.6, 0.8)
UNSTRUCTURED_SPARSITY = 0.8


def tickets(name: str, image_size: int):
    """(label, network) of the dense model, its unstructured ticket and its channel tickets."""
    import torch

    from deepfake_lth.lottery.channels import channel_groups, companion_mask, prune_channels, shrink
    from deepfake_lth.lottery.pruning import prune_by_magnitude
    from deepfake_lth.models.masking import full_mask, masked_state
    from deepfake_lth.models.registry import build_model, prunable_parameter_names

    torch.manual_seed(0)
    dense = build_model(name, image_size).eval()
    names = prunable_parameter_names(dense)
    yield "dense", dense
    unstructured = build_model(name, image_size).eval()
    unstructured.load_state_dict(dense.state_dict())
    mask = prune_by_magnitude(dense.state_dict(), full_mask(dense, names), UNSTRUCTURED_SPARSITY, "global")
    unstructured.load_state_dict(masked_state(dense.state_dict(), mask))
    yield f"unstructured {UNSTRUCTURED_SPARSITY:.0%}", unstructured
    groups = channel_groups(dense, image_size, names)
    for sparsity in CHANNEL_SPARSITIES:
        mask = prune_channels(groups, dense.state_dict(), full_mask(dense, names), sparsity)
        ticket = build_model(name, image_size).eval()
        ticket.load_state_dict(masked_state(dense.state_dict(), {**mask, **companion_mask(dense, groups, mask)}))
        yield f"channel {sparsity:.0%}", shrink(ticket, mask, image_size, names)


def measure(network, image_size: int, min_run_time: float) -> dict:
    from deepfake_lth.deployment.deploy import timings
    from deepfake_lth.deployment.macs import count_macs
    from deepfake_lth.deployment.sparse_format import sizes_on_disk
    from deepfake_lth.models.registry import count_parameters

    macs, effective = count_macs(network, image_size)
    return {"parameters": count_parameters(network), "macs": macs, "effective_macs": effective,
            **sizes_on_disk(network.state_dict()), "timings": timings(network, image_size, min_run_time)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke-test size (32 px, two small models): seconds")
    parser.add_argument("--min-run-time", type=float, default=None, help="seconds per timing")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    import torch

    from deepfake_lth.config import load_params
    from deepfake_lth.io import write_json

    size = SIZES["quick" if args.quick else "full"]
    params = load_params(PAPER_PARAMS)
    image_size = size["image_size"] or params["faces"]["image_size"]
    min_run_time = args.min_run_time or size["min_run_time"]
    models = {}
    for name in size["models"] or params["models"]:
        models[name] = {label: measure(network, image_size, min_run_time) for label, network in tickets(name, image_size)}
    result = {"device_name": platform.processor() or "cpu", "cpus": os.cpu_count(), "torch": torch.__version__,
              "size": "quick" if args.quick else "full", "image_size": image_size, "min_run_time": min_run_time,
              "models": models}
    print(f"\n{'model':<10} {'network':<17} {'params':>11} {'MMACs eff.':>10} {'KB sparse+zlib':>14} "
          f"{'torch b1 1t ms':>15} {'ORT b1 1t ms':>13} {'ORT b32 all ms':>15}", file=sys.stderr)
    for name, networks in models.items():
        for label, m in networks.items():
            t = {(row["runtime"], row["threads"]): row for row in m["timings"]}
            cores = max(threads for _, threads in t)
            print(f"{name:<10} {label:<17} {m['parameters']:>11,} {m['effective_macs'] / 1e6:>10.1f} "
                  f"{m['bytes_compressed'] / 1024:>14.1f} {t[('torch', 1)]['latency_ms_b1']:>15.3f} "
                  f"{t[('onnxruntime', 1)]['latency_ms_b1']:>13.3f} {t[('onnxruntime', cores)]['latency_ms_b32']:>15.3f}",
                  file=sys.stderr)
    write_json(args.out, result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
