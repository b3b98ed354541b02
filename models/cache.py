"""Where the project keeps what it derives at run time (converted voices, ONNX exports): one folder per kind."""

from __future__ import annotations

import os
from pathlib import Path


def project_cache(kind: str) -> Path:
    """``$DUPLEX_AGENT_CACHE/<kind>``, by default ``cache/<kind>`` in the repository (git ignores it)."""
    env = os.environ.get("DUPLEX_AGENT_CACHE")
    base = Path(env) if env else Path(__file__).resolve().parents[1] / "cache"
    return base / kind
