"""Small pieces every training loop here uses: atomic checkpoints, log truncation on resume, cosine LR."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch


def cosine_lr(step: int, steps: int, lr: float, lr_final: float) -> float:
    """Learning rate at ``step`` of ``steps``: cosine decay from ``lr`` to ``lr_final``."""
    return lr_final + 0.5 * (lr - lr_final) * (1 + math.cos(math.pi * min(step, steps) / max(steps, 1)))


def save_atomic(payload: dict, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a crash never leaves half a checkpoint."""
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def truncate_logs(out: Path, step: int) -> None:
    """Drop rows of ``out/log.csv`` and ``out/valid.jsonl`` written after ``step`` (about to be redone)."""
    if (out / "log.csv").exists():
        lines = (out / "log.csv").read_text().splitlines()
        keep = lines[:1] + [ln for ln in lines[1:] if int(ln.split(",")[0]) <= step]
        (out / "log.csv").write_text("\n".join(keep) + "\n")
    if (out / "valid.jsonl").exists():
        rows = [ln for ln in (out / "valid.jsonl").read_text().splitlines() if json.loads(ln)["step"] <= step]
        (out / "valid.jsonl").write_text("".join(r + "\n" for r in rows))
