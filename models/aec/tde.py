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
small moves (clock drift) are followed at once. Recent samples weigh more in the window; its newest 10 ms
fade out (else the two windows' shared edge correlates at lag 0); of peaks within 30 ms the earliest that
reaches half the highest is taken (the direct path, not a reflection). :meth:`refocus` re-estimates from only
the audio since the echo path moved (the chain calls it after a delay jump). ``update()`` returns the delay
in samples (float, sub-sample by a parabolic fit), or ``None`` while there is no confident estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from agent.config import TdeConfig
from models.aec.delay_line import SlidingWindow
from models.aec.fft import irfft, rfft
from models.aec.kernels import phat_spectrum

SAMPLE_RATE = 16000
ACTIVE_FRAME_DB = -55.0  # a 20 ms reference frame above this level (dBFS) counts as far-end activity
MIN_ACTIVE_FRACTION = 0.25
MIN_SHARPNESS = 7.0  # peak over RMS of the correlation in the search range
SURE_SHARPNESS = 14.0  # an estimate this sharp is accepted without confirmation
RAMP_START = 0.0  # weight of the oldest mic sample in the window
FADE_OUT_S = 0.01  # the mic window's newest samples fade out over this long
EARLY_S = 0.03  # an earlier peak this close to the highest one ...
EARLY_RATIO = 0.5  # ... and at least this high relative to it is the direct path (the highest: a reflection)
MIN_SEPARATION = 8  # samples between two peaks (closer ones are the same peak smeared by drift)
REFOCUS_MIN_S = 0.08  # a refocused estimate needs this much mic audio after the echo path moved
FOLLOW_SAMPLES = 8.0  # moves up to this many samples are followed at once (drift)


def _fade_in(n: int) -> np.ndarray:
    """Raised-cosine ramp of ``n`` samples from just above 0 to 1 (1 − it: a fade-out ending at 0)."""
    return 0.5 * (1.0 - np.cos(np.pi * (np.arange(n) + 1) / n)) if n > 0 else np.ones(0)


@dataclass(frozen=True)
class TdeResult:
    """One GCC-PHAT evaluation (for diagnostics and tests)."""

    delay_samples: float  # nan when the far end was not active (the correlation is then not computed)
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
        # r[k] = Σ_i mic[i]·ref[i + k] for k in 0 … max_lag never reaches past the reference buffer (window + max_lag
        # samples), so a circular correlation of that length has no wrap-around at the lags searched.
        self.nfft = scipy.fft.next_fast_len(self.window + self.max_lag, real=True)
        self._mic = SlidingWindow(self.window, slack=self.window)
        # Recent samples weigh more (a ramp from RAMP_START to 1 over the window), so a new delay wins the
        # correlation sooner after a jump while the whole window still averages out double talk.
        self._taper = np.linspace(RAMP_START, 1.0, self.window)
        # Both windows end at the newest sample: cut off there, the whitened spectra would share that edge
        # and correlate at lag 0 (a sharp false "delay 0" while the far end is loud at the window's end).
        fade = int(FADE_OUT_S * sample_rate)
        self._taper[-fade:] *= 1.0 - _fade_in(fade)
        self._ref = SlidingWindow(self.window + self.max_lag, slack=self.window)
        self.reset()

    def reset(self) -> None:
        self._mic.reset()
        self._ref.reset()
        self._since_update = 0
        self.delay_samples: float | None = None
        self._candidate: float | None = None
        self.last: TdeResult | None = None
        self.estimates = 0  # confident estimates so far (a new one each time this grows)
        self._refocus_candidate: float | None = None
        self._focus: int | None = None  # after a refocus: the regular updates also use only the audio since the move

    def update(self, mic: np.ndarray, ref: np.ndarray) -> float | None:
        """Feed one block of mic and reference (same length); returns the current delay estimate in samples."""
        self._mic.push(mic)
        self._ref.push(ref)
        self._since_update += mic.shape[0]
        if self._focus is not None:
            self._focus += mic.shape[0]
            if self._focus >= self.window:
                self._focus = None
        if self._since_update >= self.update_every:
            self._since_update = 0
            self._decide(self.evaluate(self._focus))
        return self.delay_samples

    def refocus(self, recent_samples: int) -> float | None:
        """The echo path moved ``recent_samples`` ago (the chain saw its filter stop fitting): GCC-PHAT over only
        the mic audio since then, every call. A very sharp peak away from the current delay, seen in two
        consecutive calls, becomes the estimate at once (after a 200 ms jump: about 120 ms instead of the
        sliding window's 0.66 s). Returns that new delay, or None."""
        if not REFOCUS_MIN_S * self.sample_rate <= recent_samples <= self.window:
            self._refocus_candidate = None
            return None
        r = self.evaluate(recent_samples)
        current = self.delay_samples
        if (not r.far_end_active or r.sharpness < SURE_SHARPNESS
                or (current is not None and abs(r.delay_samples - current) <= FOLLOW_SAMPLES)):
            self._refocus_candidate = None
            return None
        candidate, self._refocus_candidate = self._refocus_candidate, r.delay_samples
        if candidate is None or abs(r.delay_samples - candidate) > FOLLOW_SAMPLES:
            return None
        self.delay_samples = r.delay_samples
        self.estimates += 1
        self._candidate = self._refocus_candidate = None
        self._focus = recent_samples
        return self.delay_samples

    def evaluate(self, recent_samples: int | None = None) -> TdeResult:
        """GCC-PHAT over the current window: best delay, peak sharpness and far-end activity.

        ``recent_samples``: use only the newest that many mic samples, with equal weight (after a jump of the
        delay, the part of the window before it only holds the old delay)."""
        ref, mic = self._ref.view(), self._mic.view()
        ref_span = ref[self.max_lag :]  # reference over the same time span as the mic window
        frame = self.sample_rate // 50
        n_frames = ref_span.shape[0] // frame
        energy = np.mean(ref_span[: n_frames * frame].reshape(n_frames, frame) ** 2, axis=1)
        active = np.mean(energy > 10 ** (ACTIVE_FRAME_DB / 10)) >= MIN_ACTIVE_FRACTION
        if not active:  # nothing to correlate with (the result would be ignored)
            self.last = TdeResult(float("nan"), 0.0, False)
            return self.last

        start, taper, nfft = 0, self._taper, self.nfft
        if recent_samples is not None:  # the newest n mic samples, faded in and out, and the reference they can meet
            n = int(min(max(recent_samples, 1), self.window))
            start, taper = self.window - n, np.ones(n)
            fade = min(n // 2, int(FADE_OUT_S * self.sample_rate))
            ramp = _fade_in(fade)
            taper[:fade] *= ramp
            taper[n - fade :] *= ramp[::-1]
            nfft = scipy.fft.next_fast_len(n + self.max_lag, real=True)
        # Whiten where there is energy; bins far below the strongest carry only noise and are left out.
        g = phat_spectrum(rfft(ref[start:], nfft), rfft(mic[start:] * taper, nfft), 1e-6)
        r = irfft(g, nfft)[: self.max_lag + 1]  # r[k]: mic[i] against ref[i + k]
        k = int(np.argmax(r))
        rms = float(np.sqrt(np.mean(r**2))) + 1e-30
        sharpness = float(r[k] / rms)
        # Far from the loudspeaker a reflection can correlate best; the filter must start before the direct
        # path, so the earliest strong peak is the delay (larger k = shorter delay).
        lo, hi = k + MIN_SEPARATION, min(self.max_lag - 1, k + int(EARLY_S * self.sample_rate))
        if lo <= hi:
            mid = r[lo : hi + 1]
            peaks = (mid >= EARLY_RATIO * r[k]) & (mid >= r[lo - 1 : hi]) & (mid >= r[lo + 1 : hi + 2])
            if peaks.any():
                k = lo + int(np.flatnonzero(peaks)[-1])
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
        accept = (
            (current is not None and abs(d - current) <= FOLLOW_SAMPLES)  # drift: follow at once
            # So sharp a peak elsewhere is a new delay (near-end speech does not correlate with the reference).
            or result.sharpness >= SURE_SHARPNESS
            or (self._candidate is not None and abs(d - self._candidate) <= FOLLOW_SAMPLES)  # confirmed twice
        )
        if accept:
            self.delay_samples = d
            self.estimates += 1
            self._candidate = None
        else:
            self._candidate = d
