"""Streaming STFT shared by the echo chain: 640-sample √Hann window, 320-sample hop, 321 bins at 16 kHz.

The periodic Hann window sums to one at 50 % overlap, so √Hann analysis followed by √Hann
synthesis and overlap-add reconstructs the input exactly, delayed by one hop (320 samples).
Analysis and synthesis are separate objects because a chain analyses several signals (mic,
reference, LAEC output) and synthesises others (the ASR and VAD outputs).
"""

from __future__ import annotations

import numpy as np

from models.aec.fft import irfft, rfft

WINDOW = 640
HOP = 320
BINS = WINDOW // 2 + 1


def power(spectrum: np.ndarray) -> np.ndarray:
    """|z|² of a complex array (faster than ``np.abs(z) ** 2``, which takes a square root first)."""
    return spectrum.real**2 + spectrum.imag**2


def mean_square(block: np.ndarray) -> float:
    """Mean of x² over a 1-D block (a dot product: ``np.mean`` costs several µs of overhead per call)."""
    return float(np.dot(block, block)) / max(block.shape[0], 1)


def sqrt_hann(n: int = WINDOW) -> np.ndarray:
    """Square root of the periodic Hann window of length ``n`` (float64)."""
    return np.sin(np.pi * np.arange(n) / n)


class StftAnalyzer:
    """One 320-sample block in, one 321-bin complex spectrum out (window spans this block and the last)."""

    hop = HOP
    bins = BINS

    def __init__(self) -> None:
        self._win = sqrt_hann()
        self._frame = np.zeros(WINDOW)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Spectrum (complex128, shape (321,)) of the window ending with ``block`` (shape (320,))."""
        self._frame[:HOP] = self._frame[HOP:]
        self._frame[HOP:] = block
        return rfft(self._frame * self._win)

    def reset(self) -> None:
        self._frame[:] = 0.0


class StftSynthesizer:
    """One spectrum in, one 320-sample block out (overlap-add; output lags the analysed input by one hop)."""

    hop = HOP
    latency_samples = HOP

    def __init__(self) -> None:
        self._win = sqrt_hann()
        self._tail = np.zeros(HOP)

    def process(self, spectrum: np.ndarray) -> np.ndarray:
        """Time block (float64, shape (320,)) from a 321-bin spectrum."""
        y = irfft(spectrum, WINDOW) * self._win
        out = self._tail + y[:HOP]
        self._tail = y[HOP:].copy()
        return out

    def reset(self) -> None:
        self._tail[:] = 0.0
