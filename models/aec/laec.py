"""Linear echo canceller: partitioned-block frequency-domain Kalman filter (PBFDKF).

The echo path is a set of P partitions (P·320 samples ≥ the configured tail) of a 640-point
overlap-save filter, adapted as a state-space model per frequency bin (Enzner & Vary, "Frequency-
domain adaptive Kalman filter for acoustic echo control in hands-free telephones", Signal
Processing 2006; partitioned form: Kuech, Mabande & Enzner, "State-space architecture of the
partitioned-block-based acoustic echo controller", ICASSP 2014):

    W_p(k+1) = A · W_p(k) + ΔW_p,      E(k) = Y(k) − G01 Σ_p X_p(k) W_p(k)

The Kalman gain μ_p = P_p / (Σ_q |X_q|² P_q + Ψ_ss) shrinks by itself when the error power
Ψ_ss grows (double talk, noise), so no step size and no double-talk detector are needed. The
process noise (1 − A²)|W_p|² keeps the filter able to track echo-path changes.

Loudspeakers driven hard distort asymmetrically (the AEC challenge's model is close to a half-wave
rectifier at speech levels), and that part of the echo is not a linear function of the reference. A
Hammerstein branch (``laec.nonlinear_tail_ms`` > 0) adds partitions fed with the rectified reference |x|:
the echo is modelled as h₁ * x + h₂ * |x|, still linear in the taps, so the same Kalman update adapts
both (x and |x| are uncorrelated for symmetric signals, which the per-partition update assumes anyway).
The echo estimate still depends on the reference only.

``filter()`` computes the error and the echo estimate with the current taps without changing them;
``adapt()`` then updates the taps from that error. ``process()`` does both. A divergence guard
resets the filter (and logs it) when its estimate runs far above the microphone signal.
All signals are 16 kHz float blocks of 320 samples; there is no added latency.
"""

from __future__ import annotations

import logging

import numpy as np

from agent.config import LaecConfig
from models.aec.stft import power

log = logging.getLogger(__name__)

BLOCK = 320
NFFT = 2 * BLOCK
TRANSITION = 0.9995  # A: how fast the echo path is assumed to change (closer to 1 = slower)
ERROR_SMOOTHING = 0.9  # decay of the error power Ψ_ss (it rises at once)
INITIAL_UNCERTAINTY = 1.0  # P_p at start: the taps are unknown, of order 1
NONLINEAR_UNCERTAINTY = 0.3  # the same for the Hammerstein branch's taps (smaller, as the distortion is)
DIVERGENCE_RATIO = 8.0  # echo estimate this much louder (power) than mic for DIVERGENCE_BLOCKS blocks -> reset
DIVERGENCE_BLOCKS = 10
DIVERGENCE_FLOOR = 1e-4 * BLOCK  # estimate energy (sum of squares) below this never counts as divergence
PATH_CHANGE_BLOCKS = 5  # error louder than the mic this many blocks in a row -> the echo path changed
PATH_CHANGE_UNCERTAINTY = 0.5  # P is raised to at least this (times INITIAL_UNCERTAINTY) on a path change


class PbfdkfEchoCanceller:
    """Streaming linear echo canceller; ``process(mic_block, ref_block) -> (error_block, echo_estimate_block)``."""

    hop = BLOCK

    def __init__(self, config: LaecConfig | None = None, sample_rate: int = 16000) -> None:
        config = config or LaecConfig()
        if sample_rate != 16000:
            raise ValueError(f"the LAEC runs at 16 kHz, not {sample_rate}")
        self.config = config
        self.partitions = int(np.ceil(config.tail_ms * sample_rate / 1000 / BLOCK))
        self.nonlinear_partitions = int(np.ceil(config.nonlinear_tail_ms * sample_rate / 1000 / BLOCK))
        bins = NFFT // 2 + 1
        total = self.partitions + self.nonlinear_partitions
        # Reference spectra, newest first: rows [0, partitions) of x, then the rows of |x| (Hammerstein branch).
        self._X = np.zeros((total, bins), dtype=np.complex128)
        self._X_pow = np.zeros((total, bins))  # |X|², kept beside X (each row is computed once)
        self._W = np.zeros((total, bins), dtype=np.complex128)
        # Initial uncertainty per row: the linear taps are of order 1, the distortion's smaller.
        self._P0 = np.full((total, 1), INITIAL_UNCERTAINTY)
        self._P0[self.partitions :] = NONLINEAR_UNCERTAINTY
        self._P = np.repeat(self._P0, bins, axis=1)
        self._psi_ss = np.zeros(bins)
        self._ref_prev = np.zeros(BLOCK)
        self._E: np.ndarray | None = None
        self._diverging = 0
        self._error_above_mic = 0
        self.resets = 0
        self.path_changes = 0

    @property
    def tail_samples(self) -> int:
        return self.partitions * BLOCK

    def reset(self) -> None:
        """Forget the echo path (taps, uncertainty, history)."""
        self._X[:] = 0
        self._X_pow[:] = 0
        self._W[:] = 0
        self._P[:] = self._P0
        self._psi_ss[:] = 0
        self._ref_prev[:] = 0
        self._E = None
        self._diverging = 0
        self._error_above_mic = 0

    def filter(self, mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Error (mic − echo estimate) and echo estimate for one block, with the current taps (no adaptation)."""
        if mic.shape[0] != BLOCK or ref.shape[0] != BLOCK:
            raise ValueError(f"the LAEC takes blocks of {BLOCK} samples")
        p = self.partitions
        frame = np.concatenate([self._ref_prev, ref])
        X, X_pow = self._X, self._X_pow
        X[1:p], X_pow[1:p] = X[: p - 1], X_pow[: p - 1]
        X[0] = np.fft.rfft(frame)
        X_pow[0] = power(X[0])
        if self.nonlinear_partitions:
            X[p + 1 :], X_pow[p + 1 :] = X[p:-1], X_pow[p:-1]
            X[p] = np.fft.rfft(np.abs(frame))
            X_pow[p] = power(X[p])
        self._ref_prev[:] = ref
        y_hat = np.fft.irfft(np.sum(self._X * self._W, axis=0), NFFT)[BLOCK:]
        e = mic - y_hat
        self._E = np.fft.rfft(np.concatenate([np.zeros(BLOCK), e]))
        self._check_divergence(mic, y_hat)
        self._check_path_change(mic, e, y_hat)
        return e, y_hat

    def adapt(self) -> None:
        """Kalman update of the taps from the error of the last :meth:`filter` call."""
        if self._E is None:
            return
        X, P, E = self._X, self._P, self._E
        x_pow = self._X_pow
        e_pow = power(E)
        # Error power: rises at once, decays slowly. Smoothing it up from zero instead makes the first
        # steps far too large and the uncertainty P collapse, after which the filter never adapts.
        self._psi_ss = np.maximum(e_pow, ERROR_SMOOTHING * self._psi_ss + (1 - ERROR_SMOOTHING) * e_pow)
        # mu_p |X_p|^2 stays below 1 (a normalised step of at most one); the overlap-save factor
        # R/N = 0.5 belongs only to the uncertainty update below.
        denom = np.sum(x_pow * P, axis=0) + self._psi_ss + 1e-10
        mu = P / denom
        update = mu * np.conj(X) * E
        # Gradient constraint: each partition stays a 320-tap filter (zero the wrapped half in time).
        w_time = np.fft.irfft(update, NFFT, axis=1)
        w_time[:, BLOCK:] = 0.0
        self._W = TRANSITION * (self._W + np.fft.rfft(w_time, axis=1))
        self._P = TRANSITION**2 * (1 - 0.5 * mu * x_pow) * P + (1 - TRANSITION**2) * power(self._W)
        self._E = None

    def process(self, mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`filter` then :meth:`adapt`; returns (error block, echo estimate block)."""
        e, y_hat = self.filter(mic, ref)
        self.adapt()
        return e, y_hat

    def _check_divergence(self, mic: np.ndarray, y_hat: np.ndarray) -> None:
        est = float(np.dot(y_hat, y_hat))
        if not np.isfinite(est) or (est > DIVERGENCE_RATIO * float(np.dot(mic, mic)) and est > DIVERGENCE_FLOOR):
            self._diverging += 1
        else:
            self._diverging = 0
        if self._diverging >= DIVERGENCE_BLOCKS or not np.isfinite(est):
            log.warning("LAEC diverged (echo estimate far above the microphone); resetting the filter")
            self.resets += 1
            self._W[:] = 0
            self._P[:] = self._P0
            self._diverging = 0

    def _check_path_change(self, mic: np.ndarray, e: np.ndarray, y_hat: np.ndarray) -> None:
        """A filter that no longer matches the echo path *adds* energy (|e|² ≈ |mic|² + |ŷ|²), while double
        talk with a good filter does not (|e|² ≈ |near|² < |mic|²). Then the taps are uncertain again."""
        mic_e, err_e = float(np.dot(mic, mic)), float(np.dot(e, e))
        if err_e > mic_e and float(np.dot(y_hat, y_hat)) > DIVERGENCE_FLOOR:
            self._error_above_mic += 1
        else:
            self._error_above_mic = 0
        if self._error_above_mic >= PATH_CHANGE_BLOCKS:
            self._P = np.maximum(self._P, PATH_CHANGE_UNCERTAINTY * self._P0)
            self._error_above_mic = 0
            self.path_changes += 1
            log.debug("LAEC: echo path change detected; filter uncertainty raised")

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """A copy of the taps and their uncertainty, for :meth:`restore`."""
        return self._W.copy(), self._P.copy()

    def restore(self, snapshot: tuple[np.ndarray, np.ndarray]) -> None:
        """Put back taps saved by :meth:`snapshot` (the reference history is kept)."""
        self._W[:], self._P[:] = snapshot

    def impulse_response(self) -> np.ndarray:
        """The linear branch's taps as one time-domain impulse response of ``tail_samples`` samples."""
        parts = np.fft.irfft(self._W[: self.partitions], NFFT, axis=1)[:, :BLOCK]
        return parts.reshape(-1)
