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

The prior on the taps (their initial uncertainty P_p) follows a room's energy decay (``laec.prior_rt60_ms``): the
later partitions of a reverberant echo path carry exponentially less energy, so a flat prior gave them as large a
gain as the direct path's and each update spread the error over taps that hardly matter. With the decaying prior
(400 ms) the residual echo of the first three seconds fell by 2–3 dB on the ASR recipe's rooms (the LAEC fed the
true delay; docs/decisions.md,
"A faster linear canceller"; off by default there, with the reason); the process noise (1 − A²)|W|² then lets each
partition's uncertainty follow its own taps. :meth:`shift_reference` keeps what the filter learned when the chain
starts to delay the reference (``aec.laec.carry_taps``).

Each partition must stay a 320-tap filter (overlap-save): the update is unconstrained and a few rows of W are
projected back onto that constraint per block, in turn (the alternating constraint of Soo & Pang's AUMDF, "Multidelay
block frequency domain adaptive filter", IEEE TASSP 1990, which speex's MDF uses too).

``filter()`` computes the error and the echo estimate with the current taps without changing them;
``adapt()`` then updates the taps from that error. ``process()`` does both. A divergence guard
resets the filter (and logs it) when its estimate runs far above the microphone signal.
All signals are 16 kHz float blocks of 320 samples; there is no added latency.
"""

from __future__ import annotations

import logging

import numpy as np

from agent.config import LaecConfig
from models.aec.fft import irfft, rfft
from models.aec.kernels import echo_spectrum, kalman_finish, kalman_gain, push_spectra

log = logging.getLogger(__name__)

BLOCK = 320
NFFT = 2 * BLOCK
TRANSITION = 0.9995  # A: how fast the echo path is assumed to change (closer to 1 = slower)
ERROR_SMOOTHING = 0.9  # decay of the error power Ψ_ss (it rises at once)
INITIAL_UNCERTAINTY = 1.0  # P_p at start with a flat prior (laec.prior_rt60_ms = 0): the taps are unknown, of order 1
DECAYING_UNCERTAINTY = 3.0  # the first partition's P at start with a decaying prior (it carries the direct path)
NONLINEAR_UNCERTAINTY = 0.3  # the same for the Hammerstein branch's taps (smaller, as the distortion is)
DIVERGENCE_RATIO = 8.0  # echo estimate this much louder (power) than mic for DIVERGENCE_BLOCKS blocks -> reset
DIVERGENCE_BLOCKS = 10
ROTATING_CONSTRAINED = 2  # rows of W projected onto 320-tap filters per block, besides each branch's first
DIVERGENCE_FLOOR = 1e-4 * BLOCK  # estimate energy (sum of squares) below this never counts as divergence
PATH_CHANGE_BLOCKS = 5  # error louder than the mic this many blocks in a row -> the echo path changed
PATH_CHANGE_UNCERTAINTY = 0.5  # P is raised to at least this (times INITIAL_UNCERTAINTY) on a path change


def initial_uncertainty(partitions: int, nonlinear_partitions: int, prior_rt60_ms: float) -> np.ndarray:
    """The taps' initial uncertainty P_p per row (partitions of x, then of |x|), shape (rows, 1).

    Flat prior (``prior_rt60_ms`` 0): INITIAL_UNCERTAINTY for the linear taps, NONLINEAR_UNCERTAINTY for the
    Hammerstein branch's (the distortion is smaller). Decaying prior: each branch starts at DECAYING_UNCERTAINTY
    times its flat ratio and falls by 60 dB per ``prior_rt60_ms`` of tail, i.e. 60 · 20 / prior_rt60_ms dB per
    320-sample partition.
    """
    p0 = np.full((partitions + nonlinear_partitions, 1), INITIAL_UNCERTAINTY)
    p0[partitions:] = NONLINEAR_UNCERTAINTY
    if prior_rt60_ms > 0:
        decay_db = 60.0 * (BLOCK / 16.0) / prior_rt60_ms
        order = np.concatenate([np.arange(partitions), np.arange(nonlinear_partitions)])
        p0 *= DECAYING_UNCERTAINTY / INITIAL_UNCERTAINTY * 10 ** (-decay_db * order / 10)[:, None]
    return p0


def _fractional_shift(x: np.ndarray, samples: float) -> np.ndarray:
    """``x`` delayed by ``samples`` (advanced where negative; fractional by the FFT's phase ramp), same length: what
    moves out of the span is dropped and zeros come in (zero padding keeps the wrap-around out)."""
    n = x.shape[0]
    nfft = int(2 ** np.ceil(np.log2(n + abs(samples) + 64)))
    spec = np.fft.rfft(x, nfft) * np.exp(-2j * np.pi * np.fft.rfftfreq(nfft) * samples)
    y = np.fft.irfft(spec, nfft)
    return y[:n] if samples >= 0 else y[:n] * (np.arange(n) < n + samples)


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
        self._P0 = initial_uncertainty(self.partitions, self.nonlinear_partitions, config.prior_rt60_ms)
        self._P = np.repeat(self._P0, bins, axis=1)
        self._psi_ss = np.zeros(bins)
        # Rows projected onto the constraint at each turn: each branch's first partition (the direct path) every
        # block, the others ROTATING_CONSTRAINED at a time in turn.
        firsts = [0, self.partitions] if self.nonlinear_partitions else [0]
        others = [r for r in range(total) if r not in firsts]
        turns = max(1, -(-len(others) // ROTATING_CONSTRAINED))
        self._constrained = [np.array(firsts + others[t * ROTATING_CONSTRAINED : (t + 1) * ROTATING_CONSTRAINED])
                             for t in range(turns)]
        self._turn = 0
        self._ref_prev = np.zeros(BLOCK)
        self._frame = np.zeros((2 if self.nonlinear_partitions else 1, NFFT))  # [x, |x|] over the last two blocks
        self._padded = np.zeros(NFFT)  # [0, e]: the error block zero-padded for the overlap-save update
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
        self._turn = 0
        self._ref_prev[:] = 0
        self._E = None
        self._diverging = 0
        self._error_above_mic = 0

    def filter(self, mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Error (mic − echo estimate) and echo estimate for one block, with the current taps (no adaptation)."""
        if mic.shape[0] != BLOCK or ref.shape[0] != BLOCK:
            raise ValueError(f"the LAEC takes blocks of {BLOCK} samples")
        p = self.partitions
        frame = self._frame
        frame[0, :BLOCK], frame[0, BLOCK:] = self._ref_prev, ref
        if self.nonlinear_partitions:
            np.abs(frame[0], out=frame[1])
            lin, rect = rfft(frame)
            push_spectra(self._X, self._X_pow, p, self.nonlinear_partitions, rect)
        else:
            lin = rfft(frame[0])
        push_spectra(self._X, self._X_pow, 0, p, lin)
        self._ref_prev[:] = ref
        y_hat = irfft(echo_spectrum(self._X, self._W), NFFT)[BLOCK:]
        e = mic - y_hat
        self._padded[BLOCK:] = e
        self._E = rfft(self._padded)
        self._check_divergence(mic, y_hat)
        self._check_path_change(mic, e, y_hat)
        return e, y_hat

    def adapt(self) -> None:
        """Kalman update of the taps from the error of the last :meth:`filter` call."""
        if self._E is None:
            return
        # Error power Ψ_ss: rises at once, decays slowly. Smoothing it up from zero instead makes the first
        # steps far too large and the uncertainty P collapse, after which the filter never adapts.
        # μ_p |X_p|² stays below 1 (a normalised step of at most one); the overlap-save factor R/N = 0.5
        # belongs only to the uncertainty update.
        update, mu = kalman_gain(self._X, self._X_pow, self._P, self._E, self._psi_ss, ERROR_SMOOTHING)
        # Constraint (alternating, as speex's MDF does; Soo & Pang's AUMDF): the rows of W picked this block are
        # projected back onto 320-tap filters (the wrapped half zeroed in time) after the update; the others
        # take the unconstrained update and are projected on a later turn. Projecting every row every block cost
        # 80 µs a frame (40 FFTs of 640) and cancelled slightly less echo (44.5 against 46.4 dB, AEC benchmark).
        rows = self._constrained[self._turn % len(self._constrained)]
        self._turn += 1
        w_time = irfft(self._W[rows] + update[rows], NFFT)
        w_time[:, BLOCK:] = 0.0
        self._W[rows] = rfft(w_time)
        update[rows] = 0.0
        # W ← A (W + ΔW); P ← A² (1 − ½ μ |X|²) P + (1 − A²) |W|² (process noise keeps it tracking).
        kalman_finish(self._W, self._P, update, mu, self._X_pow, TRANSITION)
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

    def shift_reference(self, samples: float) -> None:
        """The reference will from now on come ``samples`` (≥ 0, fractional) later than before: delay the
        reference history by as much and move the taps as much earlier, so that what the filter learned still
        holds (the chain calls this at its first alignment, when the reference, fed undelayed until then, starts
        to be delayed by the estimated echo delay). Beyond the tail nothing is kept."""
        if samples < 0:
            raise ValueError(f"the reference can only be shifted later, not by {samples} samples")
        if samples == 0:
            return
        # The reference fed so far, read back from the linear branch's spectra (row r: blocks t − r − 1, t − r).
        frames = irfft(self._X[: self.partitions], NFFT)
        shifted = _fractional_shift(np.concatenate([frames[-1, :BLOCK], *frames[::-1, BLOCK:]]), samples)
        n = shifted.shape[0]  # (partitions + 1) blocks; the newest samples fell off the end
        for first, rows, rect in ((0, self.partitions, False), (self.partitions, self.nonlinear_partitions, True)):
            for r in range(rows):
                frame = shifted[max(0, n - (r + 2) * BLOCK) : max(0, n - r * BLOCK)]
                if frame.shape[0] < NFFT:  # a Hammerstein branch longer than the linear one: older than known
                    self._X[first + r], self._X_pow[first + r] = 0.0, 0.0
                    continue
                spec = rfft(np.abs(frame) if rect else frame)
                self._X[first + r], self._X_pow[first + r] = spec, spec.real**2 + spec.imag**2
            if rows:  # the taps, as one impulse response per branch, moved earlier
                taps = irfft(self._W[first : first + rows], NFFT)[:, :BLOCK].reshape(-1)
                taps = _fractional_shift(taps, -samples).reshape(rows, BLOCK)
                self._W[first : first + rows] = rfft(np.concatenate([taps, np.zeros_like(taps)], axis=1))
        self._ref_prev[:] = shifted[-BLOCK:]

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
