"""Mel filterbank shared by the models' log-mel features (HTK mel scale, triangular bands)."""

from __future__ import annotations

import numpy as np


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK mel scale."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_matrix(bands: int, bins: int, sample_rate: int = 16000, low_hz: float = 0.0,
               high_hz: float | None = None) -> np.ndarray:
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
