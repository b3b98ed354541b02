"""ONNX export shared by the recipes: one streaming step with metadata, and the checked export command."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch

MAX_DIFFERENCE = 1e-4  # largest |torch − onnxruntime| an export may show


def metadata_from_checkpoint(ckpt_path: Path) -> dict:
    """``train_step`` and ``valid_metrics`` of a checkpoint, for the exported file's metadata."""
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    meta = {"train_step": ckpt.get("step", "")}
    metrics = json.loads(ckpt.get("metrics") or "null")
    if metrics:
        meta["valid_metrics"] = json.dumps(metrics)
    return meta


def export_checked(checkpoint: Path, out: Path, load_model: Callable[[Path], torch.nn.Module],
                   export_onnx: Callable[..., Path], max_difference: Callable[[torch.nn.Module, Path], float]) -> int:
    """The ``export`` sub-command: checkpoint → ONNX, compared with torch; exit code (1 on a bad checkpoint or a
    difference above :data:`MAX_DIFFERENCE`)."""
    try:
        model = load_model(checkpoint)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    path = export_onnx(model, out, metadata_from_checkpoint(checkpoint))
    diff = max_difference(model, path)
    print(f"exported {path} ({path.stat().st_size / 1e6:.2f} MB); max |torch - onnx| = {diff:.2e}")
    return 0 if diff <= MAX_DIFFERENCE else 1
