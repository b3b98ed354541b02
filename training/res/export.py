"""Export a trained RES to ONNX: one streaming frame step with explicit state input and output.

Graph: ``features`` (1, 240) float32 and ``state`` (1, 9, 19, 128) → ``mask_x`` (1, 321),
``mask_r`` (1, 321), ``state_out``. Metadata: sample_rate, hop, window, bins, features, mel_bands,
state_shape, format_version, and the training step/metrics when known.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from models.aec.res.dfsmn import ResDfsmn, split_masks
from models.aec.res.features import BINS, FEATURES, MEL_BANDS
from models.aec.res.runtime import FORMAT_VERSION
from models.dfsmn import FusedStack
from models.onnx_export import export_step


class _Step(torch.nn.Module):
    """One streaming step (:class:`models.dfsmn.FusedStack`: the same numbers as ``streaming_forward`` in fewer graph
    nodes)."""

    def __init__(self, model: ResDfsmn) -> None:
        super().__init__()
        self.stack = FusedStack(model.input, model.feature_mean, model.feature_std, model.layers, model.state_shape)
        self.output = model.output

    def forward(self, features: torch.Tensor, state: torch.Tensor):  # noqa: ANN201
        m, new_state = self.stack(features, state)
        m_x, m_r = split_masks(torch.sigmoid(self.output(m)))
        return m_x, m_r, new_state


def export_onnx(model: ResDfsmn, out: Path, extra_metadata: dict | None = None) -> Path:
    """Write ``out`` (ONNX, opset 17) and return it."""
    meta = {"sample_rate": "16000", "hop": "320", "window": "640", "bins": str(BINS), "features": str(FEATURES),
            "mel_bands": str(MEL_BANDS), "feature_layout": "logmel(mic),logmel(ref),logmel(laec)",
            "state_shape": ",".join(str(s) for s in model.state_shape), "format_version": FORMAT_VERSION,
            "model": "DFSMN RES, 3 stages x 3 layers, hidden 128, memory 20", **(extra_metadata or {})}
    return export_step(_Step(model.eval()), (torch.zeros(1, FEATURES), model.init_state(1)), ["features", "state"],
                       ["mask_x", "mask_r", "state_out"], out, meta)


def max_difference(model: ResDfsmn, onnx_path: Path, frames: int = 50, seed: int = 0) -> float:
    """Largest |torch − onnxruntime| over the masks of ``frames`` random frames, state carried along."""
    from models.aec.res.runtime import ResidualEchoSuppressor

    rt = ResidualEchoSuppressor(onnx_path)
    rng = np.random.default_rng(seed)
    state = model.init_state(1)
    worst = 0.0
    for _ in range(frames):
        y, r, e = (rng.standard_normal(BINS) + 1j * rng.standard_normal(BINS) for _ in range(3))
        feats = torch.from_numpy(rt.features.process(y, r, e))[None]
        with torch.no_grad():
            masks, state = model.streaming_forward(feats, state)
        m_x, m_r = rt.process(y, r, e)
        ref = masks[0].numpy()
        worst = max(worst, float(np.abs(ref - np.concatenate([m_x, m_r])).max()))
    return worst


def model_from_unfused_onnx(path: Path) -> tuple[ResDfsmn, dict[str, str]]:
    """The torch model and metadata of a RES file exported before the fused step, its weights read back from the
    graph (:func:`training.common.export.read_unfused_dfsmn`); checked against the file's own masks (ValueError
    otherwise, or when the graph is not such an export)."""
    from training.common.export import read_unfused_dfsmn

    model = ResDfsmn()
    meta = read_unfused_dfsmn(path, model)
    diff = max_difference(model, path)
    if diff > 1e-4:
        raise ValueError(f"{path}: the weights read back give other masks (max difference {diff:.2e})")
    return model, meta
