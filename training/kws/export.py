"""ONNX export of the short-word spotter: ``features`` (1, frames, 40) → ``logits`` (1, classes), frames dynamic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from models.kws.net import SpotterNet
from models.kws.spotter import CLASSES, FORMAT_VERSION
from models.onnx_export import export_step
from models.vad.features import FEATURES, SAMPLE_RATE
from training.kws.examples import BACKCHANNEL, STOP


def export_onnx(model: SpotterNet, out: Path, extra_metadata: dict | None = None) -> Path:
    """Write ``out`` (ONNX, opset 17) with the runtime's metadata and the trained word lists; return it."""
    meta = {"sample_rate": str(SAMPLE_RATE), "features": str(FEATURES), "classes": ",".join(CLASSES),
            "inputs": ",".join(model.inputs),
            "format_version": FORMAT_VERSION, "words": json.dumps({"stop": STOP, "backchannel": BACKCHANNEL},
                                                                  ensure_ascii=False),
            "model": f"short-word spotter: {model.config['layers']} conv layers, {model.config['channels']} "
                     f"channels, mean+max pooling; inputs {', '.join(model.inputs)}",
            **(extra_metadata or {})}
    width = FEATURES * len(model.inputs)
    return export_step(model.eval(), (torch.zeros(1, 30, width),), ["features"], ["logits"], out, meta,
                       dynamic_axes={"features": {1: "frames"}})


def max_difference(model: SpotterNet, onnx_path: Path, seed: int = 0) -> float:
    """Largest |torch − onnxruntime| over class probabilities of random audio of several lengths."""
    from models.kws.spotter import ShortWordSpotter
    from models.vad.features import file_features

    rng = np.random.default_rng(seed)
    spotter = ShortWordSpotter(onnx_path)
    worst = 0.0
    for seconds in (0.1, 0.5, 1.3):
        audio = rng.standard_normal(int(seconds * SAMPLE_RATE)) * 0.05
        signals = {"output": audio, "echo": rng.standard_normal(audio.shape[0]) * 0.02,
                   "laec": audio + rng.standard_normal(audio.shape[0]) * 0.01}
        feats = np.concatenate([file_features(signals[name]) for name in model.inputs], axis=1)
        with torch.no_grad():
            ref = model(torch.from_numpy(feats.astype(np.float32))[None]).softmax(1)[0].numpy()
        got = np.array([spotter.classify(audio, signals["echo"], signals["laec"])[c] for c in CLASSES])
        worst = max(worst, float(np.max(np.abs(ref - got))))
    return worst
