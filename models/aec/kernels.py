"""Compiled inner loops of the echo chain (numba, compiled once and cached on disk).

The chain works on a few hundred frequency bins per 20 ms frame, where each numpy call costs more in
overhead (1–3 µs) than in arithmetic: the Kalman update alone was some twenty array expressions over 20 × 321
bins, each making a temporary. These functions do the same arithmetic in one pass each, in the same order of
operations as the numpy expressions they replaced (the outputs agree to rounding; ``tests/models/test_kernels.py``
checks each against its numpy form). FFTs stay in numpy/scipy. The callers own all state; these functions
read and write the arrays they are given and allocate only their results and per-call scratch arrays.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(**_JIT)
def push_spectra(X: np.ndarray, X_pow: np.ndarray, first: int, rows: int, spec: np.ndarray) -> None:
    """Shift rows ``first … first+rows-1`` of the reference history ``X`` (and ``X_pow`` = |X|²) one row older
    and put ``spec`` in row ``first``."""
    bins = X.shape[1]
    for r in range(first + rows - 1, first, -1):
        for k in range(bins):
            X[r, k] = X[r - 1, k]
            X_pow[r, k] = X_pow[r - 1, k]
    for k in range(bins):
        z = spec[k]
        X[first, k] = z
        X_pow[first, k] = z.real * z.real + z.imag * z.imag


@njit(**_JIT)
def echo_spectrum(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Σ_p X_p · W_p over the rows: the spectrum of the echo estimate (bins,)."""
    rows, bins = X.shape
    out = np.zeros(bins, dtype=np.complex128)
    for r in range(rows):
        for k in range(bins):
            out[k] += X[r, k] * W[r, k]
    return out


@njit(**_JIT)
def kalman_gain(X: np.ndarray, X_pow: np.ndarray, P: np.ndarray, E: np.ndarray, psi: np.ndarray,
                smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """First half of the PBFDKF update (see :mod:`models.aec.laec`).

    Updates the error power Ψ (``psi``, in place: rises at once, decays by ``smoothing``) and returns the
    unconstrained tap update μ_p · X_p* · E and the gain μ_p = P_p / (Σ_q |X_q|² P_q + Ψ), both (rows, bins).
    """
    rows, bins = X.shape
    update = np.empty((rows, bins), dtype=np.complex128)
    mu = np.empty((rows, bins))
    for k in range(bins):
        e = E[k]
        e_pow = e.real * e.real + e.imag * e.imag
        psi[k] = max(e_pow, smoothing * psi[k] + (1.0 - smoothing) * e_pow)
        denom = 0.0
        for r in range(rows):
            denom += X_pow[r, k] * P[r, k]
        denom += psi[k] + 1e-10
        for r in range(rows):
            m = P[r, k] / denom
            mu[r, k] = m
            update[r, k] = m * np.conj(X[r, k]) * e
    return update, mu


@njit(**_JIT)
def kalman_finish(W: np.ndarray, P: np.ndarray, update: np.ndarray, mu: np.ndarray, X_pow: np.ndarray,
                  transition: float) -> None:
    """Second half, in place: W ← A (W + ΔW); P ← A² (1 − ½ μ |X|²) P + (1 − A²) |W|²."""
    rows, bins = W.shape
    a2 = transition * transition
    for r in range(rows):
        for k in range(bins):
            w = transition * (W[r, k] + update[r, k])
            W[r, k] = w
            P[r, k] = a2 * (1.0 - 0.5 * mu[r, k] * X_pow[r, k]) * P[r, k] + (1.0 - a2) * (w.real * w.real + w.imag * w.imag)


@njit(**_JIT)
def interpolate(hist: np.ndarray, start: float, delays: np.ndarray, max_delay: float, offsets: np.ndarray,
                table: np.ndarray, phases: int) -> np.ndarray:
    """Windowed-sinc reading of ``hist`` at positions ``start + i − delays[i]`` (delays clipped to
    [0, max_delay]); the weights come from ``table`` rows at 1/``phases`` sample (indices clipped to the buffer)."""
    n = delays.shape[0]
    taps = offsets.shape[0]
    last = hist.shape[0] - 1
    out = np.empty(n)
    for i in range(n):
        pos = (start + i) - min(max(delays[i], 0.0), max_delay)
        base = np.floor(pos)
        row = int(np.rint((pos - base) * phases))
        b = int(base)
        acc = 0.0
        for j in range(taps):
            idx = min(max(b + offsets[j], 0), last)
            acc += hist[idx] * table[row, j]
        out[i] = acc
    return out


@njit(**_JIT)
def leakage_masks(e_spec: np.ndarray, y_spec: np.ndarray, kernel: np.ndarray, broadband_share: float,
                  band_of_bin: np.ndarray, leak: np.ndarray, mean_e: np.ndarray, mean_y: np.ndarray,
                  cov: np.ndarray, var: np.ndarray, residual: np.ndarray, adapt: bool, mean_smoothing: float,
                  cov_smoothing: float, leak_lo: float, leak_hi: float, leak_fall: float, over_subtraction: float,
                  residual_decay: float, mask_floor: float) -> tuple[np.ndarray, np.ndarray]:
    """The classical residual-echo masks of :class:`models.aec.pwf.LeakageMaskEstimator` for one frame; the
    state arrays (``leak``, the means, ``cov``, ``var``, ``residual``) are updated in place. Returns (M_x, M_r)."""
    bins = e_spec.shape[0]
    taps = kernel.shape[0]
    half = (taps - 1) // 2
    e_pow = np.empty(bins)
    y_raw = np.empty(bins)
    total = 0.0
    for k in range(bins):
        e_pow[k] = e_spec[k].real * e_spec[k].real + e_spec[k].imag * e_spec[k].imag
        y_raw[k] = y_spec[k].real * y_spec[k].real + y_spec[k].imag * y_spec[k].imag
        total += y_raw[k]
    broadband = broadband_share * (total / bins)
    y_pow = np.empty(bins)
    for k in range(bins):  # np.convolve(y_raw, kernel, "same") for an odd kernel
        acc = 0.0
        for j in range(taps):
            m = k + half - j
            if 0 <= m < bins:
                acc += y_raw[m] * kernel[j]
        y_pow[k] = (1.0 - broadband_share) * acc + broadband
    if adapt:
        n_bands = leak.shape[0]
        band_cov = np.zeros(n_bands)
        band_var = np.zeros(n_bands)
        for k in range(bins):
            mean_e[k] = mean_smoothing * mean_e[k] + (1.0 - mean_smoothing) * e_pow[k]
            mean_y[k] = mean_smoothing * mean_y[k] + (1.0 - mean_smoothing) * y_pow[k]
            de = e_pow[k] - mean_e[k]
            dy = y_pow[k] - mean_y[k]
            band_cov[band_of_bin[k]] += de * dy
            band_var[band_of_bin[k]] += dy * dy
        for b in range(n_bands):
            cov[b] = cov_smoothing * cov[b] + (1.0 - cov_smoothing) * band_cov[b]
            var[b] = cov_smoothing * var[b] + (1.0 - cov_smoothing) * band_var[b]
            if var[b] > 1e-12:
                fresh = min(max(cov[b] / var[b], leak_lo), leak_hi)
                leak[b] = max(fresh, leak_fall * leak[b])
    m_x = np.empty(bins)
    m_r = np.empty(bins)
    for k in range(bins):
        residual[k] = max(over_subtraction * leak[band_of_bin[k]] * y_pow[k], residual_decay * residual[k])
        ratio = min(residual[k] / (e_pow[k] + 1e-12), 1.0)
        m_r[k] = np.sqrt(ratio)
        m_x[k] = np.sqrt(max(1.0 - ratio, mask_floor * mask_floor))
    return m_x, m_r


@njit(**_JIT)
def wiener_outputs(x_laec: np.ndarray, gain: np.ndarray, beta_vad: float, beta_asr: float) -> tuple[np.ndarray, np.ndarray]:
    """(X_vad, X_asr) = (gain^β_vad · X_laec, gain^β_asr · X_laec), per bin."""
    bins = x_laec.shape[0]
    x_vad = np.empty(bins, dtype=np.complex128)
    x_asr = np.empty(bins, dtype=np.complex128)
    for k in range(bins):
        x_vad[k] = gain[k] ** beta_vad * x_laec[k]
        x_asr[k] = gain[k] ** beta_asr * x_laec[k]
    return x_vad, x_asr


@njit(**_JIT)
def phat_spectrum(a: np.ndarray, b: np.ndarray, floor: float) -> np.ndarray:
    """GCC-PHAT's whitened cross-power spectrum conj(B)·A / |conj(B)·A|, zero in the bins whose magnitude is
    below ``floor`` times the largest (they carry only noise)."""
    n = a.shape[0]
    g = np.empty(n, dtype=np.complex128)
    mag2 = np.empty(n)
    largest = 0.0
    for k in range(n):
        re = b[k].real * a[k].real + b[k].imag * a[k].imag  # conj(b)·a
        im = b[k].real * a[k].imag - b[k].imag * a[k].real
        g[k] = complex(re, im)
        mag2[k] = re * re + im * im
        largest = max(largest, mag2[k])
    threshold = largest * floor * floor
    for k in range(n):
        if mag2[k] > threshold:
            g[k] = g[k] * (1.0 / (np.sqrt(mag2[k]) + 1e-30))
        else:
            g[k] = 0.0
    return g


@njit(**_JIT)
def store_fit(fit: np.ndarray, slot: int, m_spec: np.ndarray, y_spec: np.ndarray) -> None:
    """Row ``slot`` of the echo-path fit ring ``fit`` (blocks, 3, bins) ← Re(ŷ·mic*), |ŷ|², |mic|² per bin."""
    for k in range(m_spec.shape[0]):
        m, y = m_spec[k], y_spec[k]
        fit[slot, 0, k] = y.real * m.real + y.imag * m.imag
        fit[slot, 1, k] = y.real * y.real + y.imag * y.imag
        fit[slot, 2, k] = m.real * m.real + m.imag * m.imag


@njit(**_JIT)
def fits_badly(fit: np.ndarray, newest: int, blocks: int, moved_fit: float, min_share: float, min_bins: int) -> bool:
    """Over the ``blocks`` newest rows of the ring (``newest`` first): is the per-bin regression of the mic on ŷ,
    Σ Re(ŷ·mic*) / Σ |ŷ|², below ``moved_fit`` in more than half of the bins where Σ |ŷ|² ≥ ``min_share`` Σ |mic|²
    (the median below it, no sort needed)? False when fewer than ``min_bins`` such bins exist."""
    rows, _, bins = fit.shape
    n = 0
    below = 0
    for k in range(bins):
        cross = 0.0
        y_pow = 0.0
        m_pow = 0.0
        for b in range(blocks):
            r = (newest - b) % rows
            cross += fit[r, 0, k]
            y_pow += fit[r, 1, k]
            m_pow += fit[r, 2, k]
        if y_pow > min_share * m_pow:
            n += 1
            if cross < moved_fit * y_pow:
                below += 1
    return n >= min_bins and 2 * below > n
