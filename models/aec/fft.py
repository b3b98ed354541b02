"""Real FFTs along the last axis with little call overhead, for the echo chain's per-frame transforms.

The chain takes about ten FFTs of 640 points per 20 ms frame. ``numpy.fft`` and ``scipy.fft`` spend
5–7 µs per call in their Python layers (argument normalisation, backend dispatch) on a transform that
itself takes 2–3 µs; these call scipy's pocketfft binding directly. Where that private binding is missing
(another scipy), they fall back to ``scipy.fft`` with the same results. float64 in, complex128 out (and back).
"""

from __future__ import annotations

import numpy as np
import scipy.fft

try:  # scipy's own C++ binding of pocketfft (behind scipy.fft since scipy 1.4)
    from scipy.fft._pocketfft import pypocketfft as _pocketfft
except ImportError:  # pragma: no cover - depends on the installed scipy
    _pocketfft = None


def rfft(x: np.ndarray, n: int | None = None) -> np.ndarray:
    """``scipy.fft.rfft(x, n)`` along the last axis; ``n`` longer than the axis zero-pads (``n // 2 + 1`` bins)."""
    x = np.asarray(x, dtype=np.float64)
    if n is not None and n != x.shape[-1]:
        if n < x.shape[-1]:
            x = x[..., :n]
        else:
            padded = np.zeros((*x.shape[:-1], n))
            padded[..., : x.shape[-1]] = x
            x = padded
    if _pocketfft is None:
        return scipy.fft.rfft(x)
    return _pocketfft.r2c(x, (x.ndim - 1,), True, 0, None, 1)


def irfft(spectrum: np.ndarray, n: int) -> np.ndarray:
    """``scipy.fft.irfft(spectrum, n)`` along the last axis, for ``n`` = 2·(bins − 1) (even, the chain's case)."""
    spectrum = np.asarray(spectrum, dtype=np.complex128)
    if _pocketfft is None or n != 2 * (spectrum.shape[-1] - 1):
        return scipy.fft.irfft(spectrum, n)
    return _pocketfft.c2r(spectrum, (spectrum.ndim - 1,), n, False, 2, None, 1)
