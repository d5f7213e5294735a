"""Shared test helpers: repository paths, the real-media fixtures folder, and params in a tmp folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
TINY_PARAMS = REPO / "tests" / "tiny_params.yaml"


def benchmark_module(name: str) -> ModuleType:
    """benchmarks/<name>.py imported as a module (benchmarks/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"real-media fixtures not found at {FIXTURES}")
    return FIXTURES
