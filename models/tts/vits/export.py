"""VITS → ONNX voice (``NAME.onnx`` + Piper-style ``NAME.onnx.json``), float or int8 (QDQ from QAT), checked against torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from models.onnx_export import export_step
from models.tts.text import TextFrontEnd
from models.tts.vits import Vits, VitsOnnx
from models.tts.vits.model import folded_copy
from models.tts.voice import VOICE_FORMAT, SynthesisSettings
from models.tts.voices.tokens import PIPER_BOS, PIPER_EOS, PIPER_PAD, CharTokenizer, CharTokens

CHECK_TEXT = "আমি তোমাকে একটা গল্প বলব, শোনো।"
DEFAULT_SCALES = {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8}


def _inference_copy(model: Vits) -> Vits:
    """Weight norm folded on a copy; a model without it (QAT-prepared) is used as it is, in eval mode."""
    has_wn = any(torch.nn.utils.parametrize.is_parametrized(m) for m in model.modules())
    return folded_copy(model) if has_wn else model.eval()


def piper_id_map(symbols: list[str], tokens: CharTokens | None) -> dict[str, list[int]]:
    """Piper's ``phoneme_id_map`` giving the same ids as this voice's own tokenizer: every symbol its id, and
    Piper's pad/begin/end (``_ ^ $``) the blank and begin/end ids (or nothing), since Piper writes
    ``^ _ p1 _ p2 … pn _ $``. Piper decomposes text (NFD), so ড় ঢ় য় reach a Piper runtime as letter + nukta."""
    id_map = {s: [i] for i, s in enumerate(symbols)}
    blank = tokens.blank_id if tokens else None
    id_map[PIPER_PAD] = [] if blank is None else [blank]
    id_map[PIPER_BOS] = [] if tokens is None or tokens.bos_id is None else [tokens.bos_id]
    id_map[PIPER_EOS] = [] if tokens is None or tokens.eos_id is None else [tokens.eos_id]
    return id_map


def voice_json(model: torch.nn.Module, frontend: TextFrontEnd, quality: str, extra: dict,
               tokens: CharTokens | None = None, settings: SynthesisSettings | None = None, arch: str = "vits") -> dict:
    """The voice's description, readable by this project (``project``, ``text``, ``symbols``) and by Piper
    (``audio``, ``espeak``, ``phoneme_type: text``, ``phoneme_id_map``, ``num_speakers``, ``inference``).

    ``tokens``: another model's character vocabulary (a converted Coqui or MMS voice) instead of the project's;
    ``arch``: the key under which the model's config is written (``vits``, ``aligntts``)."""
    symbols = list(tokens.vocab) if tokens else list(frontend.symbols)
    text = {"latin": frontend.latin, "lakh": frontend.lakh,
            "interleave_pad": bool(tokens and tokens.blank_id is not None)}
    if tokens:
        text["tokens"] = tokens.to_dict()
    scales = DEFAULT_SCALES if settings is None else {
        "noise_scale": settings.noise_scale, "length_scale": settings.length_scale, "noise_w": settings.noise_w}
    return {
        "audio": {"sample_rate": model.config.sample_rate, "quality": quality},
        "espeak": {"voice": "bn"},
        "inference": dict(scales),
        "phoneme_type": "text",
        "num_symbols": len(symbols),
        "num_speakers": 1,
        "speaker_id_map": {},
        "symbols": symbols,
        "phoneme_id_map": piper_id_map(symbols, tokens),
        "language": {"code": "bn_BD", "name": "Bangla"},
        "text": text,
        arch: model.config.to_dict(),
        "project": {"voice_format": VOICE_FORMAT, **extra},
    }


def export_voice(model: Vits, out: Path, metadata: dict | None = None, quality: str = "small",
                 frontend: TextFrontEnd | None = None, tokens: CharTokens | None = None,
                 settings: SynthesisSettings | None = None) -> Path:
    """Export ``model`` (weight norm folded on a copy) to ``out`` (.onnx) and ``out``.json; returns ``out``.

    ``tokens``/``settings``: the vocabulary and default scales of a converted voice (see :func:`voice_json`)."""
    out = Path(out)
    frontend = frontend or TextFrontEnd()
    tokenizer = CharTokenizer(tokens, frontend) if tokens else frontend
    plain = _inference_copy(model)
    ids = torch.tensor([tokenizer.ids(" ".join(tokenizer.sentences(CHECK_TEXT)))])
    meta = {"voice_format": VOICE_FORMAT, "sample_rate": str(model.config.sample_rate)} | {
        k: str(v) for k, v in (metadata or {}).items()}
    export_step(VitsOnnx(plain), (ids, torch.tensor([ids.shape[1]]), torch.tensor([0.667, 1.0, 0.8])),
                ["input", "input_lengths", "scales"], ["output"], out, meta,
                dynamic_axes={"input": {0: "batch", 1: "symbols"}, "input_lengths": {0: "batch"},
                              "output": {0: "batch", 2: "samples"}})
    desc = voice_json(model, frontend, quality, {k: v for k, v in (metadata or {}).items()}, tokens, settings)
    out.with_name(out.name + ".json").write_text(json.dumps(desc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return out


def max_difference(model: Vits, path: Path, text: str = CHECK_TEXT) -> float:
    """Largest |torch − onnxruntime| on ``text`` with the noise switched off (scales 0, 1, 0)."""
    from models.tts.voice import SynthesisSettings, Voice

    voice = Voice.load(path)
    ids = voice.frontend.ids(" ".join(voice.frontend.sentences(text)))
    plain = _inference_copy(model)
    with torch.no_grad():
        ref = plain.infer(torch.tensor([ids]), torch.tensor([len(ids)]), 0.0, 1.0, 0.0).reshape(-1).numpy()
    got = voice.synthesize_ids(ids, SynthesisSettings(0.0, 1.0, 0.0))
    if got.shape != ref.shape:
        return float("inf")
    return float(np.max(np.abs(np.clip(ref, -1, 1) - got)))
