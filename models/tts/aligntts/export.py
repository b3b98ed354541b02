"""AlignTTS → ONNX acoustic model (``NAME.onnx`` + ``NAME.onnx.json`` naming its default vocoder), checked against torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from models.onnx_export import export_step
from models.tts.aligntts.model import AlignTts, AlignTtsOnnx
from models.tts.text import TextFrontEnd
from models.tts.vits.export import CHECK_TEXT, voice_json
from models.tts.voice import VOICE_FORMAT


def export_acoustic(model: AlignTts, out: Path, metadata: dict | None = None, quality: str = "small",
                    vocoder: str = "tts_bn_hifigan.onnx") -> Path:
    """Export ``model`` to ``out`` (.onnx) and ``out``.json; ``vocoder``: the file name (next to ``out``) of the
    vocoder the voice uses by default. Returns ``out``."""
    out = Path(out)
    frontend = TextFrontEnd()
    model = model.eval()
    ids = torch.tensor([frontend.ids(" ".join(frontend.sentences(CHECK_TEXT)))])
    meta = {"voice_format": VOICE_FORMAT, "sample_rate": str(model.config.sample_rate), "stage": "acoustic"} | {
        k: str(v) for k, v in (metadata or {}).items()}
    export_step(AlignTtsOnnx(model), (ids, torch.tensor([ids.shape[1]]), torch.tensor([0.0, 1.0, 0.0])),
                ["input", "input_lengths", "scales"], ["mel"], out, meta,
                dynamic_axes={"input": {0: "batch", 1: "symbols"}, "input_lengths": {0: "batch"},
                              "mel": {0: "batch", 2: "frames"}})
    desc = voice_json(model, frontend, quality, {"stage": "acoustic", "vocoder": vocoder, **(metadata or {})},
                      arch="aligntts")
    desc["inference"] = {"noise_scale": 0.0, "length_scale": 1.0, "noise_w": 0.0}
    desc["mel"] = model.config.mel_settings()
    out.with_name(out.name + ".json").write_text(json.dumps(desc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return out


def max_difference(model: AlignTts, path: Path, text: str = CHECK_TEXT) -> float:
    """Largest |torch − onnxruntime| of the log-mel of ``text``."""
    from models.onnx_model import open_onnx_model

    session, _ = open_onnx_model(path, {}, ValueError, "acoustic")  # the first stage alone: mels, no vocoder
    frontend = TextFrontEnd()
    ids = frontend.ids(" ".join(frontend.sentences(text)))
    with torch.no_grad():
        ref = model.eval().infer(torch.tensor([ids]), torch.tensor([len(ids)])).numpy()
    got = session.run(None, {"input": np.asarray([ids], dtype=np.int64), "input_lengths": np.asarray([len(ids)]),
                             "scales": np.asarray([0.0, 1.0, 0.0], dtype=np.float32)})[0]
    if got.shape != ref.shape:
        return float("inf")
    return float(np.max(np.abs(ref - got)))
