"""Write a training checkpoint as a FunASR model folder (with its card when the run has metrics)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from training.asr.folder import write_model_folder


def export_folder(checkpoint: Path, out: Path, card: dict | None = None) -> Path:
    """``config.yaml``, ``model.pt``, ``tokens.json``, ``am.mvn`` of ``checkpoint`` (a run's best.pt or
    checkpoint.pt; the run folder must hold ``config.json`` and ``cmvn.npz``) into ``out``."""
    checkpoint = Path(checkpoint)
    run = checkpoint.parent
    for need in ("config.json", "cmvn.npz"):
        if not (run / need).exists():
            raise FileNotFoundError(f"{run / need} not found: {checkpoint} is not in an ASR training run folder")
    try:
        ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
        state = ckpt["model"]
    except FileNotFoundError:
        raise FileNotFoundError(f"ASR checkpoint not found: {checkpoint}") from None
    except Exception as exc:
        raise ValueError(f"{checkpoint} is not an ASR checkpoint: {exc}") from None
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))["model"]
    with np.load(run / "cmvn.npz") as z:
        mean, std = z["mean"], z["std"]
    # Weights in float16 halve the folder; FunASR copies them into its float32 model when it loads.
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
    return write_model_folder(out, config, half, mean, std, card)
