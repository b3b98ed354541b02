"""Prosody features for the semantic VAD: voicing and the pitch contour of 16 kHz audio, one 20 ms frame at a time.

Whether a pause ends the turn shows in the intonation before it: a finished statement falls, a clause that goes
on stays level or rises. Log-mel bands of 31 Hz barely resolve that (the F0 of a low voice moves a few Hz), so
the VAD also reads three numbers per frame from :class:`PitchTracker`:

- ``voicing``: the peak of the normalised autocorrelation in the lags of 60–400 Hz (0 … 1), over a 48 ms window
  that ends with the current block (no look-ahead), of the signal low-passed at 1 kHz;
- ``rel_log_f0``: log F0 minus a running mean of log F0 over the voiced frames (the plain mean of the first
  :data:`MEAN_FRAMES` voiced frames, then a moving average with that time constant), so the contour is relative
  to the speaker's own register; 0 when unvoiced;
- ``log_f0``: log(F0 / 150 Hz) on voiced frames, 0 when unvoiced.

A frame is voiced when ``voicing`` ≥ :data:`VOICED`. The running mean is kept across pauses (it belongs to the talker, not the sentence); :meth:`PitchTracker.reset` starts a new
stream.
"""

from __future__ import annotations

import numpy as np

from models.aec.stft import HOP

SAMPLE_RATE = 16000
WINDOW = 768  # samples (48 ms): two periods of 60 Hz with room
NFFT = 1080  # ≥ WINDOW + the longest lag, so the circular autocorrelation is the linear one (2^3·3^3·5: a fast size)
F0_RANGE = (60.0, 400.0)  # Hz
LOWPASS_HZ = 1000.0
VOICED = 0.45
OCTAVE = 0.85  # a peak at a shorter lag wins when it reaches this share of the highest
MEAN_FRAMES = 100.0  # voiced frames (2 s of voiced speech)
REF_F0 = 150.0
PITCH_FEATURES = 3
NAMES = ("voicing", "rel_log_f0", "log_f0")


class PitchTracker:
    """``process(block) -> (3,) float32`` (see the module doc) for one 320-sample block of 16 kHz audio."""

    def __init__(self) -> None:
        self.window = np.hanning(WINDOW + 2)[1:-1]
        self.lag_lo = int(np.floor(SAMPLE_RATE / F0_RANGE[1]))
        self.lag_hi = int(np.ceil(SAMPLE_RATE / F0_RANGE[0]))
        self.bins = int(np.floor(LOWPASS_HZ * NFFT / SAMPLE_RATE)) + 1  # the rfft bins at or below LOWPASS_HZ
        # the autocorrelation of the window itself: divides out its taper, so a periodic signal peaks near 1
        w_ac = np.fft.irfft(np.abs(np.fft.rfft(self.window, NFFT)) ** 2, NFFT)[: self.lag_hi + 1]
        window_ac = np.maximum(w_ac / w_ac[0], 1e-3)
        # the inverse transform of the low-passed power spectrum, only at the lags it needs (0 and the F0 range),
        # as one small matrix: irfft(P · lowpass)[k] = Σ_b c_b P_b cos(2π b k / NFFT) / NFFT, c_0 = 1, else 2
        lags = np.concatenate([[0], np.arange(self.lag_lo, self.lag_hi + 1)])
        weight = np.where(np.arange(self.bins) == 0, 1.0, 2.0) / NFFT
        self.inverse = (np.cos(2 * np.pi * np.outer(lags, np.arange(self.bins)) / NFFT) * weight
                        / np.concatenate([[1.0], window_ac[self.lag_lo :]])[:, None]).astype(np.float32)
        self.reset()

    def reset(self) -> None:
        self.buffer = np.zeros(WINDOW)
        self.mean_log_f0 = 0.0
        self.voiced_frames = 0

    def process(self, block: np.ndarray) -> np.ndarray:
        if block.shape != (HOP,):
            raise ValueError(f"the pitch tracker takes blocks of {HOP} samples, not {block.shape}")
        self.buffer[:-HOP] = self.buffer[HOP:]
        self.buffer[-HOP:] = block
        spec = np.fft.rfft(self.buffer * self.window, NFFT)[: self.bins]
        # [lag 0, then the F0 lags divided by the window's]
        ac = self.inverse @ (spec.real**2 + spec.imag**2).astype(np.float32)
        if ac[0] <= 1e-12:
            return np.zeros(PITCH_FEATURES, dtype=np.float32)
        seg = ac[1:] / ac[0]  # normalised autocorrelation at lags lag_lo … lag_hi
        top = float(seg.max())
        # the shortest lag whose local peak is nearly as high as the highest one (multiples of the period peak too)
        peaks = np.flatnonzero((seg[1:-1] >= seg[:-2]) & (seg[1:-1] >= seg[2:]) & (seg[1:-1] >= OCTAVE * top)) + 1
        k = int(peaks[0]) if peaks.size else int(np.argmax(seg))
        voicing = min(max(float(seg[k]), 0.0), 1.0)
        lag = float(self.lag_lo + k)
        if 0 < k < seg.shape[0] - 1:  # parabolic interpolation of the peak
            a, b, c = seg[k - 1], seg[k], seg[k + 1]
            den = a - 2 * b + c
            if den < 0:
                lag += min(max(float(0.5 * (a - c) / den), -0.5), 0.5)
        if voicing < VOICED:
            return np.array([voicing, 0.0, 0.0], dtype=np.float32)
        log_f0 = float(np.log(SAMPLE_RATE / lag))
        self.voiced_frames += 1
        self.mean_log_f0 += (log_f0 - self.mean_log_f0) / min(self.voiced_frames, MEAN_FRAMES)
        rel = log_f0 - self.mean_log_f0
        return np.array([voicing, rel, log_f0 - np.log(REF_F0)], dtype=np.float32)


def file_pitch(audio: np.ndarray) -> np.ndarray:
    """Pitch features of a whole signal, (frames, 3): the same :class:`PitchTracker` run block by block (the last
    partial block zero-padded, as :func:`models.vad.features.file_features`)."""
    audio = np.asarray(audio, dtype=np.float64)
    frames = -(-audio.shape[0] // HOP)
    padded = np.zeros(frames * HOP)
    padded[: audio.shape[0]] = audio
    tracker = PitchTracker()
    if not frames:
        return np.zeros((0, PITCH_FEATURES), dtype=np.float32)
    return np.stack([tracker.process(padded[i * HOP : (i + 1) * HOP]) for i in range(frames)])
