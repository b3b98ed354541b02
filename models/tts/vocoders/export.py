"""Vocoder → ONNX (``NAME.onnx`` + ``NAME.onnx.json`` with its config), weight norm folded, checked against torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from models.onnx_export import export_step
from models.tts.vits.model import remove_weight_norm
from models.tts.vocoders.config import UnivNetConfig, config_to_dict, vocoder_from_config
from models.tts.voice import VOICE_FORMAT


def _inputs(model: torch.nn.Module, frames: int = 40, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    c = model.config
    mel = torch.randn(1, c.n_mels, frames, generator=g) - 5.0
    if isinstance(c, UnivNetConfig):
        return mel, torch.randn(1, c.noise_channels, frames, generator=g)
    return (mel,)


def folded(model: torch.nn.Module) -> torch.nn.Module:
    """An inference copy with weight norm folded (the original keeps training)."""
    plain = vocoder_from_config(model.config)
    plain.load_state_dict(model.state_dict())
    return remove_weight_norm(plain).eval()


def export_vocoder(model: torch.nn.Module, out: Path, metadata: dict | None = None) -> Path:
    """Export a HiFi-GAN or UnivNet module to ``out`` (.onnx) and ``out``.json; returns ``out``."""
    out = Path(out)
    plain = folded(model)
    inputs = _inputs(plain)
    names = ["mel", "noise"][: len(inputs)]
    meta = {"voice_format": VOICE_FORMAT, "stage": "vocoder", "kind": plain.config.kind} | {
        k: str(v) for k, v in (metadata or {}).items()}
    export_step(plain, inputs, names, ["audio"], out, meta,
                dynamic_axes={**{n: {2: "frames"} for n in names}, "audio": {2: "samples"}})
    desc = {"vocoder": config_to_dict(plain.config),
            "project": {"voice_format": VOICE_FORMAT, "stage": "vocoder", **(metadata or {})}}
    out.with_name(out.name + ".json").write_text(json.dumps(desc, indent=1) + "\n", encoding="utf-8")
    return out


def max_difference(model: torch.nn.Module, path: Path) -> float:
    """Largest |torch − onnxruntime| of the audio from the same random mel (and noise), 57 frames."""
    from models.tts.vocoders.runtime import Vocoder

    plain = folded(model)
    inputs = _inputs(plain, 57, seed=1)
    with torch.no_grad():
        ref = plain(*inputs).reshape(-1).numpy()
    vocoder = Vocoder(path)
    feed = {"mel": inputs[0].numpy()} | ({"noise": inputs[1].numpy()} if len(inputs) > 1 else {})
    got = vocoder.session.run(None, feed)[0].reshape(-1)
    if got.shape != ref.shape:
        return float("inf")
    return float(np.max(np.abs(ref - got)))
