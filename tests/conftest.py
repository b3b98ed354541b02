"""Shared fixtures. Tests use the simulated room, WAV files and sounddevice's API (no sound card needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def python() -> str:
    """The interpreter running the tests (the project's .venv under scripts/test.sh)."""
    return sys.executable
