"""Input features of the residual echo suppressor, shared by training (torch) and the runtime (numpy).

Per 20 ms frame the RES sees three 321-bin spectra of the shared STFT (640/320, √Hann): the mic Y,
the aligned reference R and the LAEC output X_laec. Each becomes 80 log-mel band powers, so a frame
is 240 values: ``[logmel(Y), logmel(R), logmel(X_laec)]``. The log is natural, of the band power
plus :data:`POWER_FLOOR` (about −100 dBFS per band, so silence does not run to −∞).
"""

from __future__ import annotations

import numpy as np

from models.mel import mel_matrix as shared_mel_matrix

SAMPLE_RATE = 16000
BINS = 321
MEL_BANDS = 80
STREAMS = ("mic", "ref", "laec")
FEATURES = MEL_BANDS * len(STREAMS)
POWER_FLOOR = 1e-10


def mel_matrix(bands: int = MEL_BANDS, bins: int = BINS) -> np.ndarray:
    """The RES's mel filterbank: (80, 321) float32 over 0–8 kHz."""
    return shared_mel_matrix(bands, bins, SAMPLE_RATE)


class FrameFeatures:
    """``process(Y, R, X_laec) -> (240,) float32`` for one frame of complex spectra (321 bins each)."""

    def __init__(self) -> None:
        self.mel = mel_matrix()

    def process(self, y_spec: np.ndarray, r_spec: np.ndarray, e_spec: np.ndarray) -> np.ndarray:
        power = np.stack([np.abs(s) ** 2 for s in (y_spec, r_spec, e_spec)]).astype(np.float32)  # (3, 321)
        return np.log(power @ self.mel.T + POWER_FLOOR).reshape(-1)
