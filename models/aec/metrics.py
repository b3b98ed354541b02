"""Echo-cancellation quality metrics, with their pitfalls handled (silence, short signals).

- ERLE (echo return loss enhancement): 10·log10(Σ mic² / Σ out²) over stretches where the far end
  plays and the near end is silent; ``steady_state_erle_db`` skips the first seconds (convergence).
- PESQ wide-band (ITU-T P.862.2, via the ``pesq`` package): ``None`` when the reference is silent or
  shorter than PESQ's minimum (0.25 s), instead of the package's exception.
- STOI (via ``pystoi``): ``None`` for signals too short for its 30-frame segments.
- SI-SNR: scale-invariant signal-to-noise ratio in dB (zero-mean signals).
All inputs are 16 kHz mono float arrays of equal length.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
MIN_PESQ_S = 0.25
MIN_STOI_S = 0.4  # 30 frames of 256 samples at 10 kHz, plus margin
SILENCE_RMS = 1e-5


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"metrics need two mono signals of equal length, got {a.shape} and {b.shape}")
    return a, b


def erle_db(mic: np.ndarray, out: np.ndarray, mask: np.ndarray | None = None) -> float | None:
    """ERLE in dB over the samples where ``mask`` is true (all by default); None if the mic is silent there."""
    mic, out = _pair(mic, out)
    if mask is not None:
        mic, out = mic[mask], out[mask]
    num = float(np.sum(mic**2))
    if mic.size == 0 or num <= SILENCE_RMS**2 * mic.size:
        return None
    return 10 * np.log10(num / max(float(np.sum(out**2)), 1e-20))


def steady_state_erle_db(mic: np.ndarray, out: np.ndarray, mask: np.ndarray | None = None,
                         skip_s: float = 3.0) -> float | None:
    """ERLE after the first ``skip_s`` seconds (the adaptive filter's convergence)."""
    skip = int(skip_s * SAMPLE_RATE)
    m = None if mask is None else mask[skip:]
    return erle_db(mic[skip:], out[skip:], m)


def si_snr_db(reference: np.ndarray, estimate: np.ndarray) -> float | None:
    """Scale-invariant SNR in dB; None when the reference is silent."""
    ref, est = _pair(reference, estimate)
    ref = ref - ref.mean()
    est = est - est.mean()
    energy = float(np.dot(ref, ref))
    if energy <= SILENCE_RMS**2 * ref.size:
        return None
    target = np.dot(est, ref) / energy * ref
    noise = est - target
    return 10 * np.log10(max(float(np.dot(target, target)), 1e-20) / max(float(np.dot(noise, noise)), 1e-20))


def pesq_wb(reference: np.ndarray, degraded: np.ndarray) -> float | None:
    """Wide-band PESQ (MOS-LQO); None for silent or too-short references or when PESQ finds no speech."""
    from pesq import PesqError, pesq

    ref, deg = _pair(reference, degraded)
    if ref.size < MIN_PESQ_S * SAMPLE_RATE or np.sqrt(np.mean(ref**2)) < SILENCE_RMS:
        return None
    try:
        score = pesq(SAMPLE_RATE, ref, deg, "wb", on_error=PesqError.RETURN_VALUES)
    except ValueError:  # the pesq wrapper fails on some near-silent inputs (NaN in its level alignment)
        return None
    # PESQ returns a negative error code on failure, and NaN when its level alignment finds no speech.
    return None if not np.isfinite(score) or score < 0 else float(score)


def stoi(reference: np.ndarray, degraded: np.ndarray) -> float | None:
    """Short-time objective intelligibility in [0, 1]; None for silent or too-short signals."""
    from pystoi import stoi as _stoi

    ref, deg = _pair(reference, degraded)
    if ref.size < MIN_STOI_S * SAMPLE_RATE or np.sqrt(np.mean(ref**2)) < SILENCE_RMS:
        return None
    return float(_stoi(ref, deg, SAMPLE_RATE, extended=False))
