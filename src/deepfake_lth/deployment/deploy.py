"""The deploy stage: one setting's (dataset x model x seed) dense run and its runs at the controls' levels
(config.scored_runs), each as it would be deployed, measured: parameters, multiply-accumulates, bytes on
disk, and CPU latency per image in PyTorch and in ONNX Runtime (deployment.csv in the setting's folder).

An unstructured ticket is deployed as its masked network: its zeros are multiplied like any weight, so it
is timed once, as the dense network ("architecture" dense), and its sizes are its own. A structured
(channel) ticket is deployed shrunk (lottery/channels.py): its removed channels are gone, and it is timed
as the smaller network it is. Each distinct network is timed at batch 1 and 32, on one thread and on every
core the job has (its rule takes them all, so nothing runs beside it). The timing is on the CPU even where
the study trains on a GPU: CPU inference is what the paper's "resource-limited environments" means.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

from deepfake_lth import methods, phases, stages
from deepfake_lth.config import scored_runs
from deepfake_lth.deployment import latency
from deepfake_lth.deployment.deployment_file import RUNTIMES, write_deployment
from deepfake_lth.deployment.macs import count_macs
from deepfake_lth.deployment.sparse_format import sizes_on_disk
from deepfake_lth.errors import InputError
from deepfake_lth.io import load_tensors
from deepfake_lth.models.masking import check_mask, masked_state, sparsity_summary
from deepfake_lth.models.registry import build_model, count_parameters, load_weights, prunable_parameter_names

log = logging.getLogger(__name__)


def job_threads() -> list[int]:
    """One thread, and every core the job may use (its CPU affinity: a SLURM allocation, say)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return sorted({1, cores})


def deployed_network(params: dict, model: str, image_size: int, weights: Path, mask: Path | None,
                     method: str) -> tuple[nn.Module, float]:
    """The run as deployed (fp32, CPU, eval): final.pt with its mask applied, shrunk for a structured method;
    and its mask's sparsity."""
    from deepfake_lth.lottery.channels import shrink

    network = build_model(model, image_size, weights=None)
    load_weights(network, weights)
    if mask is None:
        return network.eval(), 0.0
    names = prunable_parameter_names(network, params["pruning"]["prune_output_layer"])
    keep = check_mask(load_tensors(mask), network, names, str(mask))
    network.load_state_dict(masked_state(network.state_dict(), keep))
    sparsity = sparsity_summary(keep)["sparsity"]
    if methods.method(method).structured:
        network = shrink(network, keep, image_size, names)
    return network.eval(), sparsity


def sizes(network: nn.Module, image_size: int, prunable: list[str], dense_prunable: int) -> dict:
    """Parameters, MACs and bytes of `network`; its effective sparsity (non-zero prunable weights against the
    dense architecture's prunable weights)."""
    macs, effective_macs = count_macs(network, image_size)
    named = dict(network.named_parameters())
    nonzero_prunable = sum(int(torch.count_nonzero(named[name])) for name in prunable)
    return {
        "effective_sparsity": 1.0 - nonzero_prunable / dense_prunable,
        "total_parameters": count_parameters(network),
        "nonzero_parameters": sum(int(torch.count_nonzero(p)) for p in network.parameters()),
        "macs": macs, "effective_macs": effective_macs,
        **sizes_on_disk(network.state_dict()),
    }


def timings(network: nn.Module, image_size: int, min_run_time: float) -> list[dict]:
    """The network's latency per image in each runtime and thread count, at batch 1 and 32."""
    model_bytes = latency.onnx_model(network, image_size)
    rows = []
    for runtime in RUNTIMES:
        for threads in job_threads():
            if runtime == "torch":
                def measure(batch):
                    return latency.torch_latency(network, image_size, threads, batch, min_run_time)
            else:
                session = latency.onnx_session(model_bytes, threads)

                def measure(batch):
                    return latency.onnx_latency(session, image_size, threads, batch, min_run_time)
            one, many = measure(1), measure(32)
            rows.append({"runtime": runtime, "threads": threads, "latency_ms_b1": one.median_ms,
                         "latency_iqr_ms_b1": one.iqr_ms, "latency_ms_b32": many.median_ms,
                         "latency_iqr_ms_b32": many.iqr_ms})
    return rows


def run_deployment(params: dict, dataset: str, model: str, seed: int) -> Path:
    """Deploy stage: measure every scored run of the setting and write its deployment.csv; return its path."""
    job = stages.deploy_job(params, dataset, model, seed)
    for path in (*job.inputs["weights"], *job.inputs["masks"]):
        if not Path(path).is_file():
            raise InputError(f"{path}: input not found (its stage must run first)")
    image_size, min_run_time = params["faces"]["image_size"], params["deployment"]["min_run_time"]
    masks = iter(job.inputs["masks"])
    timed: dict[str, list[dict]] = {}
    rows, dense_prunable = [], None
    for (method, level), weights in zip(scored_runs(params), job.inputs["weights"]):
        network, mask_sparsity = deployed_network(params, model, image_size, Path(weights),
                                                  Path(next(masks)) if level else None, method)
        prunable = prunable_parameter_names(network, params["pruning"]["prune_output_layer"])
        if dense_prunable is None:  # the dense run comes first
            dense_prunable = count_parameters(network, prunable)
        architecture = f"{method} level {level}" if level and methods.method(method).structured else methods.DENSE
        if architecture not in timed:
            timed[architecture] = timings(network, image_size, min_run_time)
            phases.mark(f"timing {architecture}")
        measured = {"dataset": dataset, "model": model, "seed": seed, "method": method, "level": level,
                    "architecture": architecture, "mask_sparsity": mask_sparsity,
                    **sizes(network, image_size, prunable, dense_prunable)}
        rows += [{**measured, **times} for times in timed[architecture]]
    output = job.outputs["deployment"]
    write_deployment(output, rows)
    log.info("%s/%s seed %s: %d runs, %d networks timed", dataset, model, seed, len(rows) // len(timed["dense"]),
             len(timed))
    phases.mark("writes")
    return output
