"""Export a trained VAD to ONNX: one streaming frame step with explicit state input and output.

Graph: ``features`` (1, 40) float32 [, ``echo`` (1, 40) for an echo-aware model] [, ``laec`` (1, 40) for a LAEC-aware
one] [, ``pitch`` (1, 3) for a prosody-aware one] and ``state`` (1, 6 + k, 36, 64) → ``probs`` (1, 2) [speech, end of
turn] and ``state_out`` (k: the layers of the end-of-turn branch, 0 without one).
Metadata: sample_rate, hop, features, echo_features (40 or 0), laec_features (40 or 0), pitch_features (3 or 0), outputs,
state_shape, eot_layers, format_version, power_floor (the feature floor the
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
from models.vad.net import OUTPUTS, VadDfsmn, add_eot_correction
from models.vad.pitch import PITCH_FEATURES
from models.vad.runtime import FORMAT_VERSION


class _Step(torch.nn.Module):
    """One streaming step (:class:`models.dfsmn.FusedStack`, the same numbers as ``streaming_forward`` in fewer graph
    nodes); its inputs are the model's feature groups (as named by ``input_names``), then the state."""

    def __init__(self, model: VadDfsmn) -> None:
        super().__init__()
        count, past, dim = model.state_shape
        self.trunk = len(model.layers)
        self.stack = FusedStack(model.input, model.feature_mean, model.feature_std, model.layers,
                                (self.trunk, past, dim))
        self.output = model.output
        self.branch = (FusedStack(None, None, None, model.eot_layers, (count - self.trunk, past, dim))
                       if len(model.eot_layers) else None)
        self.eot_output = model.eot_output

    def forward(self, *inputs: torch.Tensor):  # noqa: ANN201
        state = inputs[-1]
        m, new = self.stack(torch.cat(inputs[:-1], dim=-1), state[:, : self.trunk])
        logits = self.output(m)
        if self.branch is None:
            return torch.sigmoid(logits), new
        e, new_branch = self.branch(m, state[:, self.trunk :])
        return torch.sigmoid(add_eot_correction(logits, self.eot_output(e))), torch.cat([new, new_branch], dim=1)


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
            "eot_layers": str(len(model.eot_layers)),
            "model": "DFSMN VAD, 6 layers, dim 64, hidden 128, memory 10 taps, strides 1,1,2,2,4,4"
                     + (f", end-of-turn branch of {len(model.eot_layers)} layers, strides "
                        + ",".join(str(layer.stride) for layer in model.eot_layers) if len(model.eot_layers) else "")
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
    model = model_for_metadata(meta)
    read_unfused_dfsmn(path, model)
    return checked_read_back(model, path), meta


def model_for_metadata(meta: dict[str, str]) -> VadDfsmn:
    """An untrained model with the inputs and feature floor an exported file's metadata names."""
    model = VadDfsmn(echo_input=meta.get("echo_features", "0") != "0", pitch_input=meta.get("pitch_features", "0") != "0",
                     laec_input=meta.get("laec_features", "0") != "0")
    model.power_floor = float(meta.get("power_floor", model.power_floor))
    return model


def checked_read_back(model: VadDfsmn, path: Path) -> VadDfsmn:
    """``model`` (weights read back from ``path``) in eval mode, or a ValueError when it does not give the file's own
    probabilities."""
    model.eval()
    diff = max_difference(model, path)
    if diff > 1e-4:
        raise ValueError(f"{path}: the weights read back give other probabilities (max difference {diff:.2e})")
    return model


def model_from_fused_onnx(path: Path) -> tuple[VadDfsmn, dict[str, str]]:
    """The torch model and metadata of a VAD file of the current (fused) export without an end-of-turn branch, e.g.
    the shipped ``models/vad/vad_dfsmn.onnx``, whose checkpoint is not kept: the weights read back from the graph
    (the normalisation stays folded into the input layer: mean 0, std 1), so that a branch can be trained on it
    (``train.init_from``). Checked: the rebuilt model must give the file's own probabilities (ValueError otherwise,
    or when the graph is not such an export)."""
    import onnx
    from onnx import numpy_helper

    try:
        proto = onnx.load(str(path))
    except FileNotFoundError:
        raise FileNotFoundError(f"VAD model not found: {path}") from None
    except Exception as exc:  # onnx raises several types for a bad file
        raise ValueError(f"{path} is not a readable ONNX file: {exc}") from None
    meta = {p.key: p.value for p in proto.metadata_props}
    if meta.get("eot_layers", "0") != "0":
        raise ValueError(f"{path} already has an end-of-turn branch: start from its checkpoint instead")
    weights = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    model = model_for_metadata(meta)
    consumers: dict[str, list] = {}
    for node in proto.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    state = {"feature_mean": torch.zeros(model.in_features), "feature_std": torch.ones(model.in_features)}
    try:
        past_taps = weights["stack.past_taps"][0]  # (layers, K, dim)
        state["input.weight"], state["input.bias"] = (torch.from_numpy(weights[f"stack.input.{k}"].copy())
                                                      for k in ("weight", "bias"))
        state["output.weight"], state["output.bias"] = (torch.from_numpy(weights[f"output.{k}"].copy())
                                                        for k in ("weight", "bias"))
        for i, layer in enumerate(model.layers):
            for k in ("weight", "bias"):
                state[f"layers.{i}.expand.{k}"] = torch.from_numpy(weights[f"stack.expand.{i}.{k}"].copy())
            (matmul,) = [n for n in proto.graph.node if n.name == f"/stack/project.{i}/MatMul"]
            state[f"layers.{i}.project.weight"] = torch.from_numpy(weights[matmul.input[1]].T.copy())  # x @ Wᵀ
            (scale,) = [n for n in consumers[matmul.output[0]] if n.op_type == "Mul"]
            current = weights[next(name for name in scale.input if name in weights)][0]  # 1 + a_N
            first = past_taps.shape[1] - layer.past_frames
            taps = [past_taps[i, first + j * layer.stride] for j in range(layer.memory - 1)] + [current - 1.0]
            state[f"layers.{i}.taps"] = torch.from_numpy(np.stack(taps, axis=1).astype(np.float32))
        model.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError, StopIteration) as exc:
        raise ValueError(f"{path}: not a fused VAD export of this model ({exc})") from None
    return checked_read_back(model, path), meta
