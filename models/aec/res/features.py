"""Input features of the residual echo suppressor, shared by training (torch) and the runtime (numpy).

Per 20 ms frame the RES sees three 321-bin spectra of the shared STFT (640/320, √Hann): the mic Y,
the aligned reference R and the LAEC output X_laec. Each becomes 80 log-mel band powers, so a frame
is 240 values: ``[logmel(Y), logmel(R), logmel(X_laec)]``. The log is natural, of the band power
plus :data:`POWER_FLOOR` (about −100 dBFS per band, so silence does not run to −∞).
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
BINS = 321
MEL_BANDS = 80
STREAMS = ("mic", "ref", "laec")
FEATURES = MEL_BANDS * len(STREAMS)
POWER_FLOOR = 1e-10


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK mel scale."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_matrix(bands: int = MEL_BANDS, bins: int = BINS, sample_rate: int = SAMPLE_RATE,
               low_hz: float = 0.0, high_hz: float | None = None) -> np.ndarray:
    """Triangular mel filterbank, shape (bands, bins), float32; every band has at least one bin."""
    high_hz = high_hz or sample_rate / 2
    freqs = np.linspace(0, sample_rate / 2, bins)
    edges = mel_to_hz(np.linspace(hz_to_mel(low_hz), hz_to_mel(high_hz), bands + 2))
    fb = np.zeros((bands, bins))
    for b in range(bands):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        up = (freqs - lo) / max(mid - lo, 1e-9)
        down = (hi - freqs) / max(hi - mid, 1e-9)
        fb[b] = np.clip(np.minimum(up, down), 0, None)
        if fb[b].sum() == 0:  # narrow low bands fall between bins: take the nearest bin
            fb[b, int(np.argmin(np.abs(freqs - mid)))] = 1.0
    return fb.astype(np.float32)


class FrameFeatures:
    """``process(Y, R, X_laec) -> (240,) float32`` for one frame of complex spectra (321 bins each)."""

    def __init__(self) -> None:
        self.mel = mel_matrix()

    def process(self, y_spec: np.ndarray, r_spec: np.ndarray, e_spec: np.ndarray) -> np.ndarray:
        power = np.stack([np.abs(s) ** 2 for s in (y_spec, r_spec, e_spec)]).astype(np.float32)  # (3, 321)
        return np.log(power @ self.mel.T + POWER_FLOOR).reshape(-1)
