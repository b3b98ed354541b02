"""The VAD's prosody features: voicing and the F0 contour (models.vad.pitch)."""

from __future__ import annotations

import numpy as np
import pytest

from models.vad.pitch import NFFT, PITCH_FEATURES, REF_F0, VOICED, PitchTracker, file_pitch

SR = 16000


def harmonic_tone(f0: np.ndarray, harmonics: int = 6) -> np.ndarray:
    """A voice-like tone with instantaneous F0 ``f0`` (Hz per sample), harmonics falling 1/h."""
    phase = 2 * np.pi * np.cumsum(f0) / SR
    return 0.3 * sum(np.sin(h * phase) / h for h in range(1, harmonics + 1))


@pytest.mark.parametrize("f0", [65.0, 90.0, 140.0, 220.0, 330.0])
def test_the_f0_of_a_steady_voiced_tone_is_found_without_octave_errors(f0: float) -> None:
    p = file_pitch(harmonic_tone(np.full(SR, f0)))[5:]  # after the 48 ms window has filled
    assert (p[:, 0] >= 0.9).all()
    np.testing.assert_allclose(np.exp(p[:, 2]) * REF_F0, f0, rtol=0.02)


def test_noise_and_silence_are_unvoiced() -> None:
    noise = file_pitch(np.random.default_rng(0).standard_normal(2 * SR) * 0.1)
    assert (noise[:, 0] >= VOICED).mean() < 0.1
    assert (noise[noise[:, 0] < VOICED, 1:] == 0).all()  # no F0 on unvoiced frames
    np.testing.assert_array_equal(file_pitch(np.zeros(SR)), np.zeros((SR // 320, PITCH_FEATURES)))


def test_the_relative_contour_shows_a_fall_and_a_rise() -> None:
    steady = np.full(SR, 150.0)
    fall = file_pitch(harmonic_tone(np.concatenate([steady, np.linspace(150, 110, SR // 2)])))
    rise = file_pitch(harmonic_tone(np.concatenate([steady, np.linspace(150, 200, SR // 2)])))
    assert fall[-5:, 1].mean() < -0.15 and rise[-5:, 1].mean() > 0.15
    # relative to the talker's register: the same contour 30 % lower gives about the same numbers
    low = file_pitch(harmonic_tone(np.concatenate([steady, np.linspace(150, 110, SR // 2)]) * 0.7))
    late = slice(-25, None)
    assert np.abs(low[late, 1] - fall[late, 1]).max() < 0.08
    assert np.abs(low[late, 2] - fall[late, 2] - np.log(0.7)).max() < 0.03


def test_streaming_equals_the_whole_file_and_reset_starts_over() -> None:
    audio = harmonic_tone(np.linspace(100, 180, SR)) + np.random.default_rng(1).standard_normal(SR) * 0.01
    tracker = PitchTracker()
    stream = np.stack([tracker.process(audio[i : i + 320]) for i in range(0, SR, 320)])
    np.testing.assert_array_equal(stream, file_pitch(audio))
    tracker.reset()
    np.testing.assert_array_equal(tracker.process(audio[:320]), stream[0])
    assert file_pitch(audio[:100]).shape == (1, PITCH_FEATURES) and file_pitch(np.zeros(0)).shape == (0, 3)
    with pytest.raises(ValueError, match="blocks of 320"):
        tracker.process(audio[:160])


def reference_autocorrelation(buffer: np.ndarray, tracker: PitchTracker) -> np.ndarray:
    """The definition the tracker's small cosine matrix computes: the full inverse FFT of the low-passed power
    spectrum, normalised by lag 0 and by the window's own autocorrelation, at lags lag_lo … lag_hi."""
    power = np.abs(np.fft.rfft(buffer * tracker.window, NFFT)) ** 2
    power[tracker.bins :] = 0.0
    ac = np.fft.irfft(power, NFFT)
    w_ac = np.fft.irfft(np.abs(np.fft.rfft(tracker.window, NFFT)) ** 2, NFFT)
    normalised = ac / ac[0] / np.maximum(w_ac / w_ac[0], 1e-3)
    return normalised[tracker.lag_lo : tracker.lag_hi + 1]


def test_the_autocorrelation_equals_its_fft_definition() -> None:
    rng = np.random.default_rng(2)
    tracker = PitchTracker()
    audio = harmonic_tone(np.linspace(80, 260, SR)) + rng.standard_normal(SR) * 0.05
    for start in range(0, SR, 320):
        tracker.process(audio[start : start + 320])
        spec = np.fft.rfft(tracker.buffer * tracker.window, NFFT)[: tracker.bins]
        ac = tracker.inverse.astype(np.float64) @ np.abs(spec) ** 2
        np.testing.assert_allclose(ac[1:] / ac[0], reference_autocorrelation(tracker.buffer, tracker), atol=1e-5)
