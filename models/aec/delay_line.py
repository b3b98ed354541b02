"""Delaying the reference: a fractional delay line and the aligner that steers it from TDE estimates.

:class:`FractionalDelayLine` is ``y[t] = x[t − d(t)]`` with a per-sample delay d(t) (windowed-sinc
interpolation, exact for integer d). The simulated room uses it to play the device's latency and clock
drift; the echo chain uses it, through :class:`ReferenceAligner`, to undo them.

:class:`ReferenceAligner` turns the delay estimates of the TDE (a few per second, each a little noisy and
about half a window late) into a smooth trajectory d(t) = level + rate · t:

- the rate (clock drift, samples per sample) is the least-squares slope of the estimates of the last
  ``HISTORY_S`` seconds, limited to ±``MAX_DRIFT_PPM``; the level moves towards the fitted line a little at
  each estimate, and a block's delays ramp from the last block's end, so the reference never steps;
- an estimate further than ``GATE_SAMPLES`` from the trajectory (a bad window in double talk) is left out;
  ``CONFIRM`` such estimates in a row that agree with each other mean the delay really moved: the
  trajectory restarts there (so does one further than ``REALIGN_SAMPLES``, a delay jump, at once if the
  TDE gave it) and the block cross-fades from the old delay to the new one.

:class:`SlidingWindow` keeps the newest samples of a stream with a copy of only each new block (the delay
line's history and the delay estimator's windows).

A constant offset between the trajectory and the true delay does not matter (the adaptive filter absorbs
it); what matters is that the path the filter sees stays still while the clocks drift.
"""

from __future__ import annotations

import logging
from collections import deque

import numpy as np

from models.aec.kernels import interpolate

log = logging.getLogger(__name__)

SINC_TAPS = 32  # interpolator length
KAISER_BETA = 8.0  # window of the interpolator (stop-band about -80 dB)
_WEIGHT_CACHE_ROWS = 8  # a block with at most this many distinct fractions reuses cached exact weight rows

HISTORY_S = 10.0  # estimates used for the drift fit
MIN_SPAN_S = 1.0  # the rate is fitted once the estimates span this long
MAX_DRIFT_PPM = 300.0
LEVEL_GAIN = 0.5  # share of the distance to the fitted line the level moves per estimate
GATE_SAMPLES = 3.0  # estimates further from the trajectory are left out of the fit
CONFIRM = 3  # consecutive agreeing outliers that restart the trajectory
REALIGN_SAMPLES = 16.0  # an estimate this far from the trajectory restarts it at once


class SlidingWindow:
    """The newest ``length`` samples of a stream (``view()``), in a buffer with room for ``slack`` more, so a push
    copies only its own samples (the window is moved back to the start once the room is used up)."""

    def __init__(self, length: int, slack: int) -> None:
        self.length = int(length)
        self._buf = np.zeros(self.length + max(int(slack), 1))
        self._end = self.length

    def push(self, x: np.ndarray) -> None:
        n = x.shape[0]
        if n > self._buf.shape[0] - self.length:
            raise ValueError(f"block of {n} samples is longer than the window's room")
        if self._end + n > self._buf.shape[0]:
            keep = self.length - n
            self._buf[:keep] = self._buf[self._end - keep : self._end]
            self._end = keep
        self._buf[self._end : self._end + n] = x
        self._end += n

    def view(self) -> np.ndarray:
        """The window, oldest sample first (a view: valid until the next push)."""
        return self._buf[self._end - self.length : self._end]

    def reset(self) -> None:
        self._buf[:] = 0.0
        self._end = self.length


def _kaiser_sinc(t: np.ndarray, half: int) -> np.ndarray:
    """Interpolation weights at distances ``t`` (samples) from the wanted position, normalised per row."""
    window = np.i0(KAISER_BETA * np.sqrt(np.clip(1.0 - (t / half) ** 2, 0.0, 1.0))) / np.i0(KAISER_BETA)
    w = np.sinc(t) * window
    return w / w.sum(axis=-1, keepdims=True)


class FractionalDelayLine:
    """Time-varying delay ``y[t] = x[t − d(t)]``, d in samples (0 … ``max_delay_samples``, float).

    ``phases=None`` computes the interpolation weights for every output sample (exact; the room uses it);
    ``phases=N`` rounds the position to 1/N sample and looks the weights up in a table (no Bessel function per
    sample; at N = 4096 the output is within −60 dB of the exact one, tested).
    """

    def __init__(self, max_delay_samples: int, max_block: int, taps: int = SINC_TAPS,
                 phases: int | None = None) -> None:
        self.taps = int(taps)
        self.half = self.taps // 2
        self.max_delay = int(max_delay_samples)
        self.max_block = int(max_block)
        self.hist_len = self.max_delay + self.max_block + self.taps + 1
        self._hist = SlidingWindow(self.hist_len, slack=4 * self.max_block)
        self._offsets = np.arange(-self.half + 1, self.half + 1)  # tap offsets around floor(position)
        self.phases = phases
        if phases is not None:
            frac = np.arange(phases + 1) / phases  # the last row (frac 1) is the next sample's row 0
            self._table = _kaiser_sinc(self._offsets[None, :] - frac[:, None], self.half)
        self._weight_cache: dict[float, np.ndarray] = {}  # fraction -> exact weight row (phases=None)
        self._n = 0

    def push(self, x: np.ndarray) -> None:
        """Append one block (at most ``max_block`` samples) to the history."""
        n = x.shape[0]
        if n > self.max_block:
            raise ValueError(f"block of {n} samples is longer than max_block={self.max_block}")
        self._hist.push(x)
        self._n = n

    def read(self, delays: np.ndarray) -> np.ndarray:
        """The last pushed block delayed by ``delays`` (one per sample of that block)."""
        n = self._n
        if self.phases is not None:
            return interpolate(self._hist.view(), float(self.hist_len - n), np.asarray(delays, dtype=np.float64),
                               float(self.max_delay), self._offsets, self._table, self.phases)
        pos = (self.hist_len - n + np.arange(n)) - np.clip(delays, 0.0, self.max_delay)
        base = np.floor(pos).astype(np.int64)
        frac = pos - base
        idx = np.clip(base[:, None] + self._offsets[None, :], 0, self.hist_len - 1)
        return np.einsum("ij,ij->i", self._hist.view()[idx], self._exact_weights(frac))

    def _exact_weights(self, frac: np.ndarray) -> np.ndarray:
        """Interpolation weights (len(frac), taps) for the fractional positions ``frac`` (0 ≤ frac < 1).

        A constant delay gives every sample of a block, and every block, the same fraction: the rows of the last
        few distinct fractions are kept and reused (each row is computed on its own, so a reused row equals a
        fresh one bit for bit; tested). A drifting delay gives a new fraction per sample and computes them all.
        """
        uniq, inverse = np.unique(frac, return_inverse=True)
        if uniq.shape[0] > _WEIGHT_CACHE_ROWS:
            return _kaiser_sinc(self._offsets[None, :] - frac[:, None], self.half)
        missing = [f for f in uniq.tolist() if f not in self._weight_cache]
        if missing:
            if len(self._weight_cache) + len(missing) > 4 * _WEIGHT_CACHE_ROWS:
                self._weight_cache.clear()
            rows = _kaiser_sinc(self._offsets[None, :] - np.asarray(missing)[:, None], self.half)
            self._weight_cache.update(zip(missing, rows, strict=True))
        return np.stack([self._weight_cache[f] for f in uniq.tolist()])[inverse.reshape(-1)]

    def process(self, x: np.ndarray, delays: np.ndarray) -> np.ndarray:
        """Delay block ``x`` by ``delays`` (samples, one per sample of ``x``)."""
        self.push(x)
        return self.read(delays)

    def reset(self) -> None:
        self._hist.reset()
        self._n = 0


class ReferenceAligner:
    """``process(ref_block, estimate) -> aligned block``: the reference delayed along the TDE's trajectory.

    ``estimate`` is a fresh TDE estimate of the delay to apply (samples) or None when the TDE gave none
    this block. See the module doc. ``delay_samples`` is the delay applied at the end of the last block,
    ``rate_ppm`` the drift followed, ``restarts`` how often the trajectory restarted.
    """

    def __init__(self, max_delay_samples: int, block_samples: int = 320, sample_rate: int = 16000) -> None:
        self.block = int(block_samples)
        self.sample_rate = int(sample_rate)
        self.line = FractionalDelayLine(max_delay_samples, self.block, phases=4096)
        self._ramp = (np.arange(self.block) + 1.0) / self.block
        self.reset()

    def reset(self) -> None:
        self.line.reset()
        self._t = 0  # samples processed
        self._level: float | None = None  # delay at time _t
        self._rate = 0.0
        self._history: deque[tuple[int, float]] = deque()
        self._outliers: list[float] = []
        self.restarts = 0

    @property
    def delay_samples(self) -> float:
        return 0.0 if self._level is None else self._level

    @property
    def following(self) -> bool:
        """Whether a delay estimate has come (until then the reference passes undelayed)."""
        return self._level is not None

    @property
    def rate_ppm(self) -> float:
        return self._rate * 1e6

    def process(self, ref: np.ndarray, estimate: float | None = None) -> np.ndarray:
        if ref.shape != (self.block,):
            raise ValueError(f"ReferenceAligner expects blocks of {self.block} samples, got {ref.shape}")
        self.line.push(np.asarray(ref, dtype=np.float64))
        old = self.delay_samples
        target, restarted = old + self._rate * self.block, False
        if estimate is not None:
            target, restarted = self._observe(float(estimate), target)
        elif self._level is None:
            target = 0.0  # nothing to follow yet
        self._level = None if self._level is None and estimate is None else target
        self._t += self.block
        if restarted:  # a step of the delay: cross-fade between the two readings instead of sweeping
            return (1.0 - self._ramp) * self.line.read(np.full(self.block, old)) + self._ramp * self.line.read(
                np.full(self.block, target))
        return self.line.read(old + (target - old) * self._ramp)

    def _observe(self, d: float, predicted: float) -> tuple[float, bool]:
        """Take a fresh estimate; returns (delay at the end of this block, whether the trajectory restarted)."""
        t_end = self._t + self.block
        if self._level is None or abs(d - predicted) > REALIGN_SAMPLES:
            return self._restart(t_end, d), True
        if abs(d - predicted) > GATE_SAMPLES:
            self._outliers.append(d)
            if len(self._outliers) >= CONFIRM and np.ptp(self._outliers[-CONFIRM:]) <= GATE_SAMPLES:
                return self._restart(t_end, d), True
            return predicted, False
        self._outliers = []
        self._history.append((t_end, d))
        while self._history and self._history[0][0] < t_end - HISTORY_S * self.sample_rate:
            self._history.popleft()
        times = np.array([h[0] for h in self._history], dtype=np.float64)
        values = np.array([h[1] for h in self._history])
        if times[-1] - times[0] >= MIN_SPAN_S * self.sample_rate:
            tc = times - times.mean()
            slope = float(np.dot(tc, values - values.mean()) / np.dot(tc, tc))
            self._rate = float(np.clip(slope, -MAX_DRIFT_PPM * 1e-6, MAX_DRIFT_PPM * 1e-6))
            fitted = values.mean() + self._rate * (t_end - times.mean())
        else:
            fitted = float(values.mean())
        return predicted + LEVEL_GAIN * (fitted - predicted), False

    def _restart(self, t_end: int, d: float) -> float:
        if self._level is not None:
            self.restarts += 1
            log.debug("reference re-aligned: %.1f → %.1f samples", self.delay_samples, d)
        self._history.clear()
        self._history.append((t_end, d))
        self._outliers = []
        return d
