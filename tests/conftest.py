"""Shared test helpers: repository paths, the real-media fixtures folder, and params in a tmp folder."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
TINY_PARAMS = REPO / "tests" / "tiny_params.yaml"


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"real-media fixtures not found at {FIXTURES}")
    return FIXTURES
