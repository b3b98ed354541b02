"""Time-delay estimation between the played reference and the microphone: GCC-PHAT.

Generalised cross-correlation with the phase transform (Knapp & Carter, 1976) over a sliding
window: the cross-power spectrum of the last ``window_s`` of mic and the matching stretch of
reference (``max_delay_ms`` longer) is whitened (|G| → 1 where both signals have energy) so the
correlation peak is sharp at the echo path's direct arrival whatever the speech spectrum. The
estimate is refreshed ``updates_per_s`` times a second and only when

- the far end was active in the window (enough 20 ms frames above an energy floor), and
- the peak is sharp: its height over the RMS of the correlation in the search range;

with hysteresis: a new delay far from the current one must be seen in two consecutive updates
(a single bad window during double talk does not move it) unless its peak is very sharp, while
small moves (clock drift) are followed at once. Recent samples weigh more in the window. ``update()`` returns the delay in samples (float, sub-sample by a parabolic
fit), or ``None`` while there is no confident estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from agent.config import TdeConfig

SAMPLE_RATE = 16000
ACTIVE_FRAME_DB = -55.0  # a 20 ms reference frame above this level (dBFS) counts as far-end activity
MIN_ACTIVE_FRACTION = 0.25
MIN_SHARPNESS = 7.0  # peak over RMS of the correlation in the search range
SURE_SHARPNESS = 14.0  # an estimate this sharp is accepted without confirmation
RAMP_START = 0.0  # weight of the oldest mic sample in the window
FOLLOW_SAMPLES = 8.0  # moves up to this many samples are followed at once (drift)


@dataclass(frozen=True)
class TdeResult:
    """One GCC-PHAT evaluation (for diagnostics and tests)."""

    delay_samples: float
    sharpness: float
    far_end_active: bool


class GccPhatDelayEstimator:
    """Streaming GCC-PHAT delay estimator; ``update(mic_block, ref_block) -> delay_samples | None``."""

    def __init__(self, config: TdeConfig | None = None, sample_rate: int = SAMPLE_RATE) -> None:
        config = config or TdeConfig()
        self.config = config
        self.sample_rate = sample_rate
        self.window = int(config.window_s * sample_rate)
        self.max_lag = int(config.max_delay_ms * sample_rate / 1000)
        self.update_every = max(1, int(sample_rate / config.updates_per_s))
        self.nfft = scipy.fft.next_fast_len(self.window + self.max_lag + self.window, real=True)
        self._mic = np.zeros(self.window)
        # Recent samples weigh more (a ramp from RAMP_START to 1 over the window), so a new delay wins the
        # correlation sooner after a jump while the whole window still averages out double talk.
        self._taper = np.linspace(RAMP_START, 1.0, self.window)
        self._ref = np.zeros(self.window + self.max_lag)
        self.reset()

    def reset(self) -> None:
        self._mic[:] = 0.0
        self._ref[:] = 0.0
        self._since_update = 0
        self.delay_samples: float | None = None
        self._candidate: float | None = None
        self.last: TdeResult | None = None

    @staticmethod
    def _push(buf: np.ndarray, x: np.ndarray) -> None:
        n = x.shape[0]
        buf[:-n] = buf[n:]
        buf[-n:] = x

    def update(self, mic: np.ndarray, ref: np.ndarray) -> float | None:
        """Feed one block of mic and reference (same length); returns the current delay estimate in samples."""
        self._push(self._mic, mic)
        self._push(self._ref, ref)
        self._since_update += mic.shape[0]
        if self._since_update >= self.update_every:
            self._since_update = 0
            self._decide(self.evaluate())
        return self.delay_samples

    def evaluate(self) -> TdeResult:
        """GCC-PHAT over the current window: best delay, peak sharpness and far-end activity."""
        ref_span = self._ref[self.max_lag :]  # reference over the same time span as the mic window
        frame = self.sample_rate // 50
        n_frames = ref_span.shape[0] // frame
        energy = np.mean(ref_span[: n_frames * frame].reshape(n_frames, frame) ** 2, axis=1)
        active = np.mean(energy > 10 ** (ACTIVE_FRAME_DB / 10)) >= MIN_ACTIVE_FRACTION

        a = scipy.fft.rfft(self._ref, self.nfft)
        b = scipy.fft.rfft(self._mic * self._taper, self.nfft)
        g = np.conj(b) * a
        mag = np.abs(g)
        # Whiten where there is energy; bins far below the strongest carry only noise and are left out.
        g = np.where(mag > mag.max() * 1e-6, g / (mag + 1e-30), 0.0)
        r = scipy.fft.irfft(g, self.nfft)[: self.max_lag + 1]  # r[k]: mic[i] against ref[i + k]
        k = int(np.argmax(r))
        rms = float(np.sqrt(np.mean(r**2))) + 1e-30
        sharpness = float(r[k] / rms)
        frac = 0.0
        if 0 < k < self.max_lag:
            y0, y1, y2 = r[k - 1], r[k], r[k + 1]
            denom = y0 - 2 * y1 + y2
            if denom < 0:
                frac = 0.5 * (y0 - y2) / denom
        # The mic window ends at the newest sample; ref index k + i is lag max_lag - k behind it.
        delay = float(self.max_lag - (k + frac))
        self.last = TdeResult(delay, sharpness, bool(active))
        return self.last

    def _decide(self, result: TdeResult) -> None:
        if not result.far_end_active or result.sharpness < MIN_SHARPNESS:
            self._candidate = None
            return
        d = result.delay_samples
        current = self.delay_samples
        if current is not None and abs(d - current) <= FOLLOW_SAMPLES:
            self.delay_samples = d  # drift: follow at once
            self._candidate = None
        elif result.sharpness >= SURE_SHARPNESS:
            # So sharp a peak elsewhere is a new delay (near-end speech does not correlate with the reference).
            self.delay_samples = d
            self._candidate = None
        elif self._candidate is not None and abs(d - self._candidate) <= FOLLOW_SAMPLES:
            self.delay_samples = d  # confirmed by two consecutive windows
            self._candidate = None
        else:
            self._candidate = d
