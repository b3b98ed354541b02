"""Export a trained VAD to ONNX: one streaming frame step with explicit state input and output.

Graph: ``features`` (1, 40) float32 [, ``echo`` (1, 40) for an echo-aware model] and ``state``
(1, 6, 36, 64) → ``probs`` (1, 2) [speech, end of turn] and ``state_out``. Metadata: sample_rate, hop,
features, echo_features (40 or 0), outputs, state_shape, format_version, power_floor (the feature floor the
model was trained with, :mod:`models.vad.power_floor`), and the training step and
validation metrics when known.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from models.aec.stft import HOP
from models.onnx_export import export_step
from models.vad.features import FEATURES, MEL_BANDS, SAMPLE_RATE
from models.vad.net import OUTPUTS, VadDfsmn
from models.vad.runtime import FORMAT_VERSION


class _Step(torch.nn.Module):
    def __init__(self, model: VadDfsmn) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor, state: torch.Tensor):  # noqa: ANN201
        return self.model.streaming_forward(features, state)


class _EchoStep(_Step):
    def forward(self, features: torch.Tensor, echo: torch.Tensor, state: torch.Tensor):  # noqa: ANN201
        return self.model.streaming_forward(torch.cat([features, echo], dim=-1), state)


def export_onnx(model: VadDfsmn, out: Path, extra_metadata: dict | None = None) -> Path:
    """Write ``out`` (ONNX, opset 17) and return it."""
    echo = model.echo_input
    meta = {"sample_rate": str(SAMPLE_RATE), "hop": str(HOP), "window": "640", "features": str(FEATURES),
            "echo_features": str(FEATURES if echo else 0), "mel_bands": str(MEL_BANDS), "outputs": ",".join(OUTPUTS),
            "state_shape": ",".join(str(s) for s in model.state_shape), "format_version": FORMAT_VERSION,
            "model": "DFSMN VAD, 6 layers, dim 64, hidden 128, memory 10 taps, strides 1,1,2,2,4,4"
                     + (", echo-aware (input: VAD output and echo estimate)" if echo else ""),
            "power_floor": repr(float(model.power_floor)), **(extra_metadata or {})}
    frame = torch.zeros(1, FEATURES)
    if echo:
        return export_step(_EchoStep(model.eval()), (frame, frame, model.init_state(1)), ["features", "echo", "state"],
                           ["probs", "state_out"], out, meta)
    return export_step(_Step(model.eval()), (frame, model.init_state(1)), ["features", "state"],
                       ["probs", "state_out"], out, meta)


def max_difference(model: VadDfsmn, onnx_path: Path, seconds: float = 3.0, seed: int = 0) -> float:
    """Largest |torch − onnxruntime| over the probabilities of random audio (and a random echo estimate for an
    echo-aware model), state carried along."""
    from models.vad.features import file_features
    from models.vad.runtime import SemanticVad

    rng = np.random.default_rng(seed)
    audio = rng.standard_normal(int(seconds * SAMPLE_RATE)) * 0.05
    echo = rng.standard_normal(audio.shape[0]) * 0.02 if model.echo_input else None
    feats = file_features(audio, model.power_floor)
    if echo is not None:
        feats = np.concatenate([feats, file_features(echo, model.power_floor)], axis=1)
    with torch.no_grad():
        ref = torch.sigmoid(model(torch.from_numpy(feats)[None]))[0].numpy()
    vad = SemanticVad(onnx_path)
    got = np.array([vad.process(audio[i : i + HOP], None if echo is None else echo[i : i + HOP])
                    for i in range(0, ref.shape[0] * HOP, HOP) if audio[i : i + HOP].shape[0] == HOP])
    return float(np.abs(ref[: got.shape[0]] - got).max())
