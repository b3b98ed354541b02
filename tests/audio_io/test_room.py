"""The simulated room against synthetic ground truth."""

import numpy as np
import pytest
import scipy.signal

from agent.config import RoomConfig, build
from audio_io.room import SimulatedRoom, active_rms, loudspeaker_nonlinearity

SR = 16000


def make_room(**overrides) -> SimulatedRoom:
    base = {"nonlinearity": False, "rt60_s": 0.2}
    base.update(overrides)
    return SimulatedRoom(build(RoomConfig, base))


def white(rng, seconds, level=0.1):
    return (level * rng.standard_normal(int(seconds * SR))).astype(np.float32)


def expected_echo(room: SimulatedRoom, ref: np.ndarray, delay_samples: int) -> np.ndarray:
    """ref convolved with the stated echo path and shifted by the stated integer delay (independent of the room code)."""
    y = scipy.signal.fftconvolve(room.config.volume * ref.astype(np.float64), room.linear_echo_ir)[: len(ref)]
    return np.concatenate([np.zeros(delay_samples), y])[: len(ref)]


def rel_err_db(a, b):
    return 10 * np.log10(np.sum((a - b) ** 2) / np.sum(b**2))


@pytest.mark.parametrize("delay_ms", [0.0, 37.0, 250.0, 400.0])
def test_linear_echo_is_reference_through_stated_ir_and_delay(rng, delay_ms):
    room = make_room(delay_ms=delay_ms)
    ref = white(rng, 2.0)
    mic, truth = room.run(ref)
    d = int(round(delay_ms * SR / 1000))
    assert rel_err_db(truth["echo"], expected_echo(room, ref, d)) < -100
    assert np.all(truth["delay_samples"] == d)
    assert np.all(truth["echo_delay_samples"] == d + room.echo_peak_samples)


def test_fractional_delay_matches_bandlimited_shift(rng):
    # 10.25 ms = 164 samples exactly; 10.28125 ms = 164.5 samples: compare against an FFT-domain shift.
    ref = scipy.signal.lfilter(*scipy.signal.butter(8, 6000, fs=SR), white(rng, 2.0)).astype(np.float32)
    room = make_room(delay_ms=10.28125)
    _, truth = room.run(ref)
    y = scipy.signal.fftconvolve(room.config.volume * ref.astype(np.float64), room.linear_echo_ir)[: len(ref)]
    n = len(y)
    f = np.fft.rfftfreq(2 * n)
    shifted = np.fft.irfft(np.fft.rfft(y, 2 * n) * np.exp(-2j * np.pi * f * 164.5), 2 * n)[:n]
    sl = slice(4000, n - 4000)
    assert rel_err_db(truth["echo"][sl], shifted[sl]) < -40


def test_nonlinearity_formula():
    x = np.array([-1.0, -0.1, 0.0, 0.1, 0.5, 1.0], dtype=np.float32)
    y = loudspeaker_nonlinearity(x, clip_level=0.8, gain=4.0)
    xc = np.clip(x, -0.8, 0.8)
    b = 1.5 * xc - 0.3 * xc**2
    a = np.where(b > 0, 4.0, 0.5)
    np.testing.assert_allclose(y, 4.0 * (2 / (1 + np.exp(-a * b)) - 1), rtol=1e-6)
    assert y[2] == 0.0 and y[0] == y[0] and np.all(np.diff(y) > 0)  # monotonic through zero


def test_nonlinearity_makes_echo_nonlinear(rng):
    ref = white(rng, 1.0, level=0.3)
    lin = make_room(volume=1.0).run(ref)[1]["echo"]
    nl = make_room(volume=1.0, nonlinearity=True).run(ref)[1]["echo"]
    # The best linear fit of the nonlinear echo on the linear one leaves a large residual.
    g = np.dot(nl, lin) / np.dot(lin, lin)
    assert rel_err_db(nl, g * lin) > -20


def _measure_delay(ref, echo, around, search=40):
    """Delay (samples, sub-sample by parabolic fit) of echo relative to ref near ``around``."""
    lags = np.arange(around - search, around + search + 1)
    c = np.array([np.dot(echo[lag:], ref[: len(ref) - lag]) for lag in lags])
    k = int(np.argmax(c))
    y0, y1, y2 = c[k - 1], c[k], c[k + 1]
    return lags[k] + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)


def test_delay_jump_happens_where_scheduled(rng):
    # anechoic-ish check: use a single-tap echo path so the echo is the delayed reference itself.
    room = SimulatedRoom(build(RoomConfig, {"nonlinearity": False, "rt60_s": 0.1, "delay_ms": 50,
                                            "delay_jumps": [{"at_s": 1.5, "delay_ms": 200}]}),
                         echo_rir=np.array([1.0]))
    ref = white(rng, 3.0)
    _, truth = room.run(ref)
    block_starts = np.arange(len(truth["delay_samples"])) * 320
    assert np.all(truth["delay_samples"][block_starts < 24000] == 800)
    assert np.all(truth["delay_samples"][block_starts >= 24000] == 3200)
    # The echo itself: delay 800 (+ filter peak) before the jump, 3200 after.
    echo, peak = truth["echo"], room.echo_peak_samples
    before = _measure_delay(ref[:20000], echo[:20000], 800 + peak)
    after = _measure_delay(ref[26000:], echo[26000:], 3200 + peak, search=3000)
    assert abs(before - (800 + peak)) < 0.5 and abs(after - (3200 + peak)) < 0.5


@pytest.mark.parametrize("ppm", [100.0, -100.0])
def test_clock_drift_changes_the_delay_smoothly(rng, ppm):
    seconds = 12.0
    room = SimulatedRoom(build(RoomConfig, {"nonlinearity": False, "rt60_s": 0.1, "delay_ms": 100, "drift_ppm": ppm}),
                         echo_rir=np.array([1.0]))
    ref = scipy.signal.lfilter(*scipy.signal.butter(8, 6000, fs=SR), white(rng, seconds)).astype(np.float32)
    _, truth = room.run(ref)
    peak = room.echo_peak_samples
    n = len(ref)
    w = 2 * SR
    start = _measure_delay(ref[:w], truth["echo"][:w], 1600 + peak)
    end = _measure_delay(ref[n - w :], truth["echo"][n - w :], 1600 + peak + int(ppm * 1e-6 * n))
    # Over 12 s, ±100 ppm moves the delay by ±19.2 samples; measured over 2 s windows (centres 1 s and 11 s).
    expected_change = ppm * 1e-6 * (n - w)
    assert abs((end - start) - expected_change) < 0.5
    assert abs(truth["delay_samples"][-1] - (1600 + ppm * 1e-6 * (n - 320))) < 1e-6


@pytest.mark.parametrize("noise", ["white", "pink", "babble"])
def test_seed_reproduces_scene_bit_for_bit(rng, noise):
    babble = [white(rng, 1.5) for _ in range(3)] if noise == "babble" else None
    cfg = build(RoomConfig, {"noise": noise, "seed": 7, "rt60_s": 0.3})
    ref, talk = white(rng, 1.0), white(rng, 0.6)
    runs = []
    for _ in range(2):
        room = SimulatedRoom(cfg, babble_sources=babble)
        room.add_talker(talk, 4000)
        runs.append(room.run(ref))
    assert np.array_equal(runs[0][0], runs[1][0])
    room.reset()
    room.add_talker(talk, 4000)
    assert np.array_equal(room.run(ref)[0], runs[0][0]), "reset() must replay the same scene"
    other = SimulatedRoom(build(RoomConfig, {"noise": noise, "seed": 8, "rt60_s": 0.3}), babble_sources=babble)
    other.add_talker(talk, 4000)
    assert not np.array_equal(other.run(ref)[0], runs[0][0])


def test_mic_is_the_sum_of_its_parts_and_levels_hold(rng):
    room = make_room(noise="white", snr_db=20.0, talker_level_dbfs=-30.0)
    speech = white(rng, 1.0)
    placed = room.add_talker(speech, 8000)
    mic, truth = room.run(white(rng, 2.0))
    np.testing.assert_allclose(mic, truth["echo"] + truth["near"] + truth["noise"], atol=1e-6)
    assert abs(20 * np.log10(active_rms(placed)) - (-30.0)) < 0.1
    assert np.all(truth["near"][:8000] == 0)
    noise_db = 10 * np.log10(np.mean(truth["noise"].astype(np.float64) ** 2))
    assert abs(noise_db - (-50.0)) < 0.3


def test_bad_talker_requests(rng):
    room = make_room()
    room.run(white(rng, 0.1))
    with pytest.raises(ValueError, match="already at"):
        room.add_talker(white(rng, 0.1), 0)
    with pytest.raises(ValueError, match="silent"):
        room.add_talker(np.zeros(1000, dtype=np.float32), 10_000)
    with pytest.raises(ValueError, match="babble_sources"):
        make_room(noise="babble")


def test_a_talker_rir_does_not_depend_on_the_other_sources():
    """The ASR examples skip the loudspeaker's RIR when nothing is played; the talker's RIR must not change."""
    from audio_io.room import shoebox_rirs

    dims, mic, speaker, talker = (4.2, 3.7, 2.6), (2.0, 1.5, 1.1), (2.3, 1.6, 1.0), (1.0, 2.9, 1.5)
    _, both = shoebox_rirs(dims, 0.45, mic, [speaker, talker])
    (alone,) = shoebox_rirs(dims, 0.45, mic, [talker])
    assert both.shape == alone.shape and np.array_equal(both, alone)
