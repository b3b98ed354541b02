"""Export a trained VAD to ONNX: one streaming frame step with explicit state input and output.

Graph: ``features`` (1, 40) float32 [, ``echo`` (1, 40) for an echo-aware model] [, ``laec`` (1, 40) for a LAEC-aware
one] [, ``pitch`` (1, 3) for a prosody-aware one] and ``state`` (1, 6, 36, 64) → ``probs`` (1, 2) [speech, end of
turn] and ``state_out``.
Metadata: sample_rate, hop, features, echo_features (40 or 0), laec_features (40 or 0), pitch_features (3 or 0), outputs,
state_shape, format_version, power_floor (the feature floor the
model was trained with, :mod:`models.vad.power_floor`), and the training step and
validation metrics when known.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from models.aec.stft import HOP
from models.dfsmn import FusedStack
from models.onnx_export import export_step
from models.vad.features import FEATURES, MEL_BANDS, SAMPLE_RATE
from models.vad.net import OUTPUTS, VadDfsmn
from models.vad.pitch import PITCH_FEATURES
from models.vad.runtime import FORMAT_VERSION


class _Step(torch.nn.Module):
    """One streaming step (:class:`models.dfsmn.FusedStack`, the same numbers as ``streaming_forward`` in fewer graph
    nodes); its inputs are the model's feature groups (as named by ``input_names``), then the state."""

    def __init__(self, model: VadDfsmn) -> None:
        super().__init__()
        self.stack = FusedStack(model.input, model.feature_mean, model.feature_std, model.layers, model.state_shape)
        self.output = model.output

    def forward(self, *inputs: torch.Tensor):  # noqa: ANN201
        m, state = self.stack(torch.cat(inputs[:-1], dim=-1), inputs[-1])
        return torch.sigmoid(self.output(m)), state


def input_names(model: VadDfsmn) -> list[str]:
    """The graph's inputs: ``features`` [, ``echo``] [, ``laec``] [, ``pitch``], ``state``."""
    return [name for name, _, _ in model.groups] + ["state"]


def export_onnx(model: VadDfsmn, out: Path, extra_metadata: dict | None = None) -> Path:
    """Write ``out`` (ONNX, opset 17) and return it."""
    echo, pitch, laec = model.echo_input, model.pitch_input, model.laec_input
    meta = {"sample_rate": str(SAMPLE_RATE), "hop": str(HOP), "window": "640", "features": str(FEATURES),
            "echo_features": str(FEATURES if echo else 0), "laec_features": str(FEATURES if laec else 0),
            "pitch_features": str(PITCH_FEATURES if pitch else 0), "mel_bands": str(MEL_BANDS), "outputs": ",".join(OUTPUTS),
            "state_shape": ",".join(str(s) for s in model.state_shape), "format_version": FORMAT_VERSION,
            "model": "DFSMN VAD, 6 layers, dim 64, hidden 128, memory 10 taps, strides 1,1,2,2,4,4"
                     + (", echo-aware (input: VAD output and echo estimate)" if echo else "")
                     + (", LAEC-aware (input: the linear canceller's output)" if laec else "")
                     + (", prosody-aware (input: the output's pitch features)" if pitch else ""),
            "power_floor": repr(float(model.power_floor)), **(extra_metadata or {})}
    names = input_names(model)
    args = tuple(torch.zeros(1, width) for _, width, _ in model.groups) + (model.init_state(1),)
    return export_step(_Step(model.eval()), args, names, ["probs", "state_out"], out, meta)


def max_difference(model: VadDfsmn, onnx_path: Path, seconds: float = 3.0, seed: int = 0) -> float:
    """Largest |torch − onnxruntime| over the probabilities of random audio with a gliding voiced tone in it (and
    a random echo estimate for an echo-aware model), state carried along."""
    from models.vad.features import file_features
    from models.vad.pitch import file_pitch
    from models.vad.runtime import SemanticVad

    rng = np.random.default_rng(seed)
    audio = rng.standard_normal(int(seconds * SAMPLE_RATE)) * 0.05
    t = np.arange(audio.shape[0]) / SAMPLE_RATE
    f0 = 100 + 60 * t / seconds  # Hz: voiced frames for the pitch features
    audio += 0.2 * np.sin(2 * np.pi * np.cumsum(f0) / SAMPLE_RATE) * (np.sin(2 * np.pi * 0.7 * t) > 0)
    echo = rng.standard_normal(audio.shape[0]) * 0.02 if model.echo_input else None
    laec = audio + rng.standard_normal(audio.shape[0]) * 0.01 if model.laec_input else None
    signals = {"features": audio, "echo": echo, "laec": laec}
    feats = np.concatenate([file_pitch(audio) if name == "pitch" else file_features(signals[name], model.power_floor)
                            for name, _, _ in model.groups], axis=1)
    with torch.no_grad():
        ref = torch.sigmoid(model(torch.from_numpy(feats)[None]))[0].numpy()
    vad = SemanticVad(onnx_path)
    block = lambda x, i: None if x is None else x[i : i + HOP]  # noqa: E731
    got = np.array([vad.process(audio[i : i + HOP], block(echo, i), block(laec, i))
                    for i in range(0, ref.shape[0] * HOP, HOP) if audio[i : i + HOP].shape[0] == HOP])
    return float(np.abs(ref[: got.shape[0]] - got).max())


def model_from_unfused_onnx(path: Path) -> tuple[VadDfsmn, dict[str, str]]:
    """The torch model and metadata of a VAD file exported before the fused step (``streaming_forward`` traced as
    it is): its weights read back from the graph (:func:`training.common.export.read_unfused_dfsmn`), so that a
    shipped file whose checkpoint is not kept can be re-exported in the current form. Checked: the rebuilt model must
    give the file's own probabilities (ValueError otherwise, or when the graph is not such an export)."""
    import onnx

    from training.common.export import read_unfused_dfsmn

    try:
        meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    except Exception as exc:  # onnx raises several types for a bad file
        raise ValueError(f"{path} is not a readable ONNX file: {exc}") from None
    model = VadDfsmn(echo_input=meta.get("echo_features", "0") != "0", pitch_input=meta.get("pitch_features", "0") != "0",
                     laec_input=meta.get("laec_features", "0") != "0")
    model.power_floor = float(meta.get("power_floor", model.power_floor))
    read_unfused_dfsmn(path, model)
    diff = max_difference(model, path)
    if diff > 1e-4:
        raise ValueError(f"{path}: the weights read back give other probabilities (max difference {diff:.2e})")
    return model, meta
