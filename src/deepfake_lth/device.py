"""Device choice and seeding: the two things every training run sets up first."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from deepfake_lth.errors import ConfigError


def choose_device(setting: str = "auto") -> torch.device:
    """The torch device for params `device`: auto (CUDA when present, else CPU), cpu, or cuda."""
    if setting == "cpu":
        return torch.device("cpu")
    if setting in ("auto", "cuda"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if setting == "cuda":
            raise ConfigError("params.yaml: key 'device': cuda requested but CUDA is not available")
        return torch.device("cpu")
    raise ConfigError(f"params.yaml: key 'device': unknown device '{setting}' (allowed: auto, cpu, cuda)")


def use_torch_threads(params: dict) -> None:
    """Run torch on params `torch_threads` CPU threads: the bytes a job writes on the CPU depend on the
    thread count (the order of float sums), so Snakemake, DVC or a shell must all give it the same."""
    torch.set_num_threads(params["torch_threads"])


def derive_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed that is a pure function of `parts` (e.g. run seed and epoch)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and random. Kernel choice (deterministic or fastest) is the
    run's execution setting (training/execution.py), set where the device is known."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, if it is asked for
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
