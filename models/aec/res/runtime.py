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

FORMAT_VERSION = "1"
SHIPPED_MODEL = Path(__file__).with_name("res_dfsmn.onnx")
REQUIRED_METADATA = {"sample_rate": "16000", "hop": "320", "window": "640", "bins": str(BINS),
                     "features": str(FEATURES), "format_version": FORMAT_VERSION}


class ResModelError(ValueError):
    """The RES model file is missing, unreadable, or does not fit this runtime."""


class ResidualEchoSuppressor:
    """Streaming neural mask source for the PWF; see the module doc."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise ResModelError(f"RES model not found: {path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises several types for a bad file
            raise ResModelError(f"{path} is not a readable ONNX model: {exc}") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        for key, want in REQUIRED_METADATA.items():
            if meta.get(key) != want:
                raise ResModelError(f"{path}: metadata {key}={meta.get(key)!r}, this runtime needs {want!r}")
        try:
            self.state_shape = tuple(int(v) for v in meta["state_shape"].split(","))
        except (KeyError, ValueError):
            raise ResModelError(f"{path}: metadata state_shape is missing or malformed") from None
        self.metadata = dict(meta)
        self.path = path
        self.features = FrameFeatures()
        self.reset()

    def init_state(self) -> np.ndarray:
        return np.zeros((1, *self.state_shape), dtype=np.float32)

    def reset(self) -> None:
        self._state = self.init_state()

    def process(self, y_spec: np.ndarray, r_spec: np.ndarray, e_spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Masks (M_x, M_r), each (321,) float32 in [0, 1], for one frame of spectra (321 bins each)."""
        feats = self.features.process(y_spec, r_spec, e_spec)[None, :]
        m_x, m_r, self._state = self.session.run(None, {"features": feats, "state": self._state})
        return m_x[0], m_r[0]
