"""VITS → ONNX voice (``NAME.onnx`` + Piper-style ``NAME.onnx.json``), float or int8 (QDQ from QAT), checked against torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from models.tts.text import TextFrontEnd
from models.tts.vits import Vits, VitsOnnx
from models.tts.vits.model import folded_copy
from models.tts.voice import VOICE_FORMAT
from training.common.export import export_step

CHECK_TEXT = "আমি তোমাকে একটা গল্প বলব, শোনো।"
DEFAULT_SCALES = {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8}


def _inference_copy(model: Vits) -> Vits:
    """Weight norm folded on a copy; a model without it (QAT-prepared) is used as it is, in eval mode."""
    has_wn = any(torch.nn.utils.parametrize.is_parametrized(m) for m in model.modules())
    return folded_copy(model) if has_wn else model.eval()


def voice_json(model: Vits, frontend: TextFrontEnd, quality: str, extra: dict) -> dict:
    """Piper-style description: audio, inference scales, symbols (one id each, no interleaving), front-end settings."""
    return {
        "audio": {"sample_rate": model.config.sample_rate, "quality": quality},
        "inference": dict(DEFAULT_SCALES),
        "phoneme_type": "text",
        "num_symbols": len(frontend.symbols),
        "symbols": list(frontend.symbols),
        "phoneme_id_map": {s: [i] for i, s in enumerate(frontend.symbols)},
        "language": {"code": "bn_BD", "name": "Bangla"},
        "text": {"latin": frontend.latin, "lakh": frontend.lakh, "interleave_pad": False},
        "vits": model.config.to_dict(),
        "project": {"voice_format": VOICE_FORMAT, **extra},
    }


def export_voice(model: Vits, out: Path, metadata: dict | None = None, quality: str = "small",
                 frontend: TextFrontEnd | None = None) -> Path:
    """Export ``model`` (weight norm folded on a copy) to ``out`` (.onnx) and ``out``.json; returns ``out``."""
    out = Path(out)
    frontend = frontend or TextFrontEnd()
    plain = _inference_copy(model)
    ids = torch.tensor([frontend.ids(frontend.normalize(CHECK_TEXT))])
    meta = {"voice_format": VOICE_FORMAT, "sample_rate": str(model.config.sample_rate)} | {
        k: str(v) for k, v in (metadata or {}).items()}
    export_step(VitsOnnx(plain), (ids, torch.tensor([ids.shape[1]]), torch.tensor([0.667, 1.0, 0.8])),
                ["input", "input_lengths", "scales"], ["output"], out, meta,
                dynamic_axes={"input": {0: "batch", 1: "symbols"}, "input_lengths": {0: "batch"},
                              "output": {0: "batch", 2: "samples"}})
    desc = voice_json(model, frontend, quality, {k: v for k, v in (metadata or {}).items()})
    out.with_name(out.name + ".json").write_text(json.dumps(desc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return out


def max_difference(model: Vits, path: Path, text: str = CHECK_TEXT) -> float:
    """Largest |torch − onnxruntime| on ``text`` with the noise switched off (scales 0, 1, 0)."""
    from models.tts.voice import SynthesisSettings, Voice

    voice = Voice.load(path)
    ids = voice.frontend.ids(voice.frontend.normalize(text))
    plain = _inference_copy(model)
    with torch.no_grad():
        ref = plain.infer(torch.tensor([ids]), torch.tensor([len(ids)]), 0.0, 1.0, 0.0).reshape(-1).numpy()
    got = voice.synthesize_ids(ids, SynthesisSettings(0.0, 1.0, 0.0))
    if got.shape != ref.shape:
        return float("inf")
    return float(np.max(np.abs(np.clip(ref, -1, 1) - got)))
