"""Runtime of the residual echo suppressor on onnxruntime (no torch): one 20 ms frame at a time.

``ResidualEchoSuppressor(path).process(Y, R, X_laec) -> (M_x, M_r)`` takes the three 321-bin
spectra of one frame (mic, aligned reference, LAEC output), computes the 240 log-mel features,
runs the exported streaming DFSMN step and keeps its state (9 × 19 × 128 past projections).
The model file carries its contract as ONNX metadata (rates, hop, window, feature layout, state
shape, version); a file that is missing, corrupt or made for another contract gives a clear error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.aec.res.features import BINS, FEATURES, FrameFeatures
from models.onnx_model import BoundStep, open_onnx_model, state_shape_from

FORMAT_VERSION = "1"
SHIPPED_MODEL = Path(__file__).with_name("res_dfsmn.onnx")
REQUIRED_METADATA = {"sample_rate": "16000", "hop": "320", "window": "640", "bins": str(BINS),
                     "features": str(FEATURES), "format_version": FORMAT_VERSION}


class ResModelError(ValueError):
    """The RES model file is missing, unreadable, or does not fit this runtime."""


class ResidualEchoSuppressor:
    """Streaming neural mask source for the PWF; see the module doc."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        path = Path(path)
        self.session, meta = open_onnx_model(path, REQUIRED_METADATA, ResModelError, "RES", threads)
        self.state_shape = state_shape_from(meta, path, ResModelError)
        self.metadata = dict(meta)
        self.path = path
        self.features = FrameFeatures()
        self._step = BoundStep(self.session, self.state_shape)
        self.reset()

    def reset(self) -> None:
        self._step.reset()

    def process(self, y_spec: np.ndarray, r_spec: np.ndarray, e_spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Masks (M_x, M_r), each (321,) float32 in [0, 1], for one frame of spectra (321 bins each)."""
        m_x, m_r = self._step.run({"features": self.features.process(y_spec, r_spec, e_spec)})
        return m_x[0], m_r[0]
