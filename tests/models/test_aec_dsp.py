"""Echo chain DSP blocks against synthetic ground truth: STFT, GCC-PHAT delay estimation, delay lines."""

import numpy as np
import pytest
import scipy.signal

from agent.config import RoomConfig, TdeConfig, build
from audio_io.room import SimulatedRoom
from models.aec.delay_line import GATE_SAMPLES, FractionalDelayLine, ReferenceAligner
from models.aec.stft import BINS, HOP, StftAnalyzer, StftSynthesizer
from models.aec.tde import GccPhatDelayEstimator
from tests.conftest import speechlike

SR = 16000


def run_tde(mic, ref, config=None):
    tde = GccPhatDelayEstimator(config)
    return [tde.update(mic[i : i + HOP], ref[i : i + HOP]) for i in range(0, len(ref) - HOP + 1, HOP)]


def test_stft_reconstructs_perfectly_with_one_hop_latency(rng):
    x = rng.standard_normal(SR)
    ana, syn = StftAnalyzer(), StftSynthesizer()
    out = []
    for i in range(0, len(x), HOP):
        spec = ana.process(x[i : i + HOP])
        assert spec.shape == (BINS,)
        out.append(syn.process(spec))
    y = np.concatenate(out)
    np.testing.assert_allclose(y[HOP:], x[:-HOP], atol=1e-12)


@pytest.mark.parametrize("delay", [0, int(0.037 * SR), int(0.48 * SR)])
def test_tde_finds_known_integer_delays(rng, delay):
    ref = speechlike(rng, 4.0)
    mic = np.concatenate([np.zeros(delay), 0.7 * ref])[: len(ref)] + 1e-3 * rng.standard_normal(len(ref))
    est = run_tde(mic.astype(np.float32), ref)
    first = next(i for i, d in enumerate(est) if d is not None)
    assert first * HOP / SR <= 1.0, "must find the delay within 1 s of far-end speech"
    assert all(abs(d - delay) < 0.5 for d in est[first:])


def test_tde_finds_a_fractional_delay(rng):
    ref = speechlike(rng, 3.0)
    n = len(ref)
    f = np.fft.rfftfreq(2 * n)
    mic = np.fft.irfft(np.fft.rfft(ref, 2 * n) * np.exp(-2j * np.pi * f * 200.5), 2 * n)[:n]
    est = run_tde(mic.astype(np.float32), ref)
    assert abs(est[-1] - 200.5) < 0.25


def test_tde_returns_none_on_uncorrelated_or_silent_input(rng):
    ref = speechlike(rng, 4.0)
    assert set(run_tde((0.1 * rng.standard_normal(len(ref))).astype(np.float32), ref)) == {None}
    zeros = np.zeros(len(ref), dtype=np.float32)
    assert set(run_tde(zeros, zeros)) == {None}
    assert set(run_tde(ref, zeros)) == {None}  # near-end talking, nothing played


def room_scene(rng, seconds=9.0, **room):
    ref = speechlike(rng, seconds)
    r = SimulatedRoom(build(RoomConfig, {"nonlinearity": True, "volume": 1.0, **room}))
    mic, truth = r.run(ref)
    return mic, ref, truth["echo_delay_samples"]


def test_tde_follows_a_delay_jump_within_one_second(rng):
    mic, ref, truth = room_scene(rng, delay_ms=100, delay_jumps=[{"at_s": 4.0, "delay_ms": 300}])
    est = run_tde(mic, ref)
    jump_block = int(4.0 * SR / HOP)
    ok_after = next(i for i in range(jump_block, len(est)) if est[i] is not None and abs(est[i] - truth[i]) <= 2)
    assert (ok_after - jump_block) * HOP / SR <= 1.0
    assert all(abs(est[i] - truth[i]) <= 2 for i in range(ok_after, len(est)))
    assert all(abs(est[i] - truth[i]) <= 2 for i in range(int(1.0 * SR / HOP), jump_block))


@pytest.mark.parametrize("ppm", [100.0, -100.0])
def test_tde_follows_clock_drift(rng, ppm):
    mic, ref, truth = room_scene(rng, seconds=12.0, delay_ms=150, drift_ppm=ppm)
    est = run_tde(mic, ref)
    late = range(int(2.0 * SR / HOP), len(est))
    assert abs(truth[-1] - truth[0]) > 15  # the delay really moved
    assert all(abs(est[i] - truth[i]) <= 2.5 for i in late)


def test_tde_keeps_its_estimate_through_double_talk(rng):
    mic, ref, truth = room_scene(rng, delay_ms=80)
    near = speechlike(np.random.default_rng(9), 9.0) * 2.0  # loud near end from 3 s on
    near[: 3 * SR] = 0
    est = run_tde(mic + near, ref)
    assert all(d is None or abs(d - truth[0]) <= 2 for d in est)
    assert est[-1] is not None


def test_fractional_delay_line_is_exact_on_integers_and_the_table_matches_the_exact_weights(rng):
    x = rng.standard_normal(SR)
    exact, table = FractionalDelayLine(4000, HOP), FractionalDelayLine(4000, HOP, phases=4096)
    delays = 300.0 + 37.3e-4 * np.arange(SR)  # 0 → 37 samples of drift over the second
    a, b = [], []
    for i in range(0, SR, HOP):
        a.append(exact.process(x[i : i + HOP], delays[i : i + HOP]))
        b.append(table.process(x[i : i + HOP], delays[i : i + HOP]))
    a, b = np.concatenate(a), np.concatenate(b)
    err_db = 10 * np.log10(np.mean((a - b)[4000:] ** 2) / np.mean(a[4000:] ** 2))
    assert err_db < -60
    line = FractionalDelayLine(4000, HOP, phases=4096)
    out = np.concatenate([line.process(x[i : i + HOP], np.full(HOP, 123.0)) for i in range(0, SR, HOP)])
    np.testing.assert_allclose(out[123:], x[:-123], atol=1e-12)
    with pytest.raises(ValueError, match="longer than max_block"):
        line.process(x[: HOP + 1], np.zeros(HOP + 1))


@pytest.mark.parametrize("kind", ["constant", "integer", "jump", "drift"])
def test_fractional_delay_line_reuses_exact_weights_bit_for_bit(rng, kind):
    """The exact line (the room's) keeps the weight rows of a constant delay; the output must equal the weights
    computed afresh for every sample, bit for bit (the room's scenes and the training data must not move)."""
    from models.aec.delay_line import _kaiser_sinc

    line = FractionalDelayLine(4000, HOP)
    x = rng.standard_normal(40 * HOP)
    d0 = float(rng.uniform(10, 3900))
    reused = 0
    for b in range(40):
        t = b * HOP + np.arange(HOP)
        d = {"constant": np.full(HOP, d0), "integer": np.full(HOP, float(int(d0))),
             "jump": np.full(HOP, d0 if b < 20 else d0 - 7.625), "drift": d0 + 1e-4 * t}[kind]
        cached = len(line._weight_cache)
        got = line.process(x[b * HOP : (b + 1) * HOP], d)
        reused += int(cached > 0 and len(line._weight_cache) == cached)
        pos = (line.hist_len - HOP + np.arange(HOP)) - d
        base = np.floor(pos).astype(np.int64)
        idx = np.clip(base[:, None] + line._offsets[None, :], 0, line.hist_len - 1)
        w = _kaiser_sinc(line._offsets[None, :] - (pos - base)[:, None], line.half)
        assert np.array_equal(got, np.einsum("ij,ij->i", line._hist.view()[idx], w)), b
    assert (reused == 0) if kind == "drift" else (reused >= 38)


def run_aligner(x, estimates):
    """Feed the aligner block by block; ``estimates[k]`` is the estimate for block k or None."""
    al = ReferenceAligner(4000, HOP)
    out, applied = [], []
    for k, i in enumerate(range(0, len(x), HOP)):
        out.append(al.process(x[i : i + HOP], estimates[k]))
        applied.append(al.delay_samples)
    return al, np.concatenate(out), np.array(applied)


def test_reference_aligner_follows_clock_drift_smoothly_and_ignores_an_outlier(rng):
    blocks = 10 * SR // HOP
    ppm = 120.0
    truth = 500.0 + ppm * 1e-6 * HOP * (np.arange(blocks) + 1)
    est = [None] * blocks
    for k in range(0, blocks, 12):  # about 4 estimates a second, with a little noise
        est[k] = truth[k] + 0.2 * rng.standard_normal()
    est[300] = truth[300] + 9.0  # one bad window (double talk): left out
    al, _, applied = run_aligner(rng.standard_normal(blocks * HOP), est)
    assert al.rate_ppm == pytest.approx(ppm, abs=10)
    assert al.restarts == 0
    late = slice(blocks // 2, blocks)
    # A constant offset does not matter; what is left after removing it is what the filter would see move.
    wander = (applied - truth)[late] - np.mean((applied - truth)[late])
    assert np.max(np.abs(wander)) < 0.3
    assert np.max(np.abs(np.diff(applied[late]))) < 0.1  # no steps
    assert abs(applied[301] - truth[301]) < GATE_SAMPLES


def test_reference_aligner_restarts_on_a_jump_with_a_crossfade(rng):
    x = rng.standard_normal(SR)
    blocks = SR // HOP
    est = [100.0 if k < 25 else 300.0 for k in range(blocks)]
    al, out, applied = run_aligner(x, est)
    assert al.restarts == 1 and applied[-1] == pytest.approx(300.0)
    np.testing.assert_allclose(out[HOP:8000], x[HOP - 100 : 8000 - 100], atol=1e-9)
    np.testing.assert_allclose(out[8000 + HOP :], x[8000 + HOP - 300 : SR - 300], atol=1e-9)
    ramp = (np.arange(HOP) + 1.0) / HOP
    np.testing.assert_allclose(out[8000 : 8000 + HOP], (1 - ramp) * x[7900 : 7900 + HOP] + ramp * x[7700 : 7700 + HOP],
                               atol=1e-9)
    with pytest.raises(ValueError, match="blocks of 320"):
        ReferenceAligner(4000, HOP).process(x[:100], None)


def test_reference_aligner_restarts_after_agreeing_outliers_below_the_jump_size(rng):
    blocks = 4 * SR // HOP
    est = [None] * blocks
    for k in range(0, blocks, 10):
        est[k] = 200.0 if k < 100 else 208.0  # an 8-sample move: three agreeing windows re-align
    al, _, applied = run_aligner(rng.standard_normal(blocks * HOP), est)
    assert al.restarts == 1 and applied[-1] == pytest.approx(208.0, abs=0.01)


@pytest.mark.parametrize("room", [dict(delay_ms=30, rt60_s=0.6), dict(delay_ms=250, rt60_s=0.8, mic_pos_m=[3.5, 1.2, 1.4])])
def test_tde_on_band_limited_speech_in_a_reverberant_room(rng, room):
    # Speech with little energy above 3.5 kHz (like espeak's) once gave sharp false peaks at lag 0 (both
    # windows end at the newest sample) and, with the mic far from the loudspeaker, a reflection 14 ms
    # after the direct path; the estimate must stay on the direct path.
    ref = scipy.signal.sosfilt(scipy.signal.butter(8, 3500, fs=SR, output="sos"), speechlike(rng, 12.0))
    r = SimulatedRoom(build(RoomConfig, {"nonlinearity": False, "volume": 1.0, **room}))
    mic, truth = r.run(ref.astype(np.float32))
    est = run_tde(mic, ref)
    later = range(int(1.0 * SR / HOP), len(est))
    assert all(est[i] is not None and abs(est[i] - truth["echo_delay_samples"][i]) <= 2 for i in later)


def test_tde_config_changes_the_search_range(rng):
    ref = speechlike(rng, 4.0)
    mic = np.concatenate([np.zeros(4000), ref])[: len(ref)].astype(np.float32)  # 250 ms
    assert run_tde(mic, ref)[-1] == pytest.approx(4000, abs=0.5)
    assert all(d is None or abs(d - 4000) > 10 for d in run_tde(mic, ref, build(TdeConfig, {"max_delay_ms": 200})))


def test_tde_refocus_finds_a_jumped_delay_from_the_audio_after_the_jump(rng):
    mic, ref, truth = room_scene(rng, delay_ms=100, delay_jumps=[{"at_s": 4.0, "delay_ms": 300}], nonlinearity=False)
    tde = GccPhatDelayEstimator()
    jump = int(4.0 * SR / HOP)
    found = []
    for b, i in enumerate(range(0, len(ref) - HOP + 1, HOP)):
        tde.update(mic[i : i + HOP], ref[i : i + HOP])
        if b == jump - 10:
            assert tde.refocus(10 * HOP) is None  # nothing moved: the same delay
        if jump <= b < jump + 15:
            since = (b + 1 - jump) * HOP
            found.append(tde.refocus(since))
    assert found[:3] == [None] * 3  # under 80 ms of audio: no estimate
    first = next(i for i, d in enumerate(found) if d is not None)
    assert first <= 10  # within 220 ms (measured 180 ms; the sliding window alone needs about 0.66 s)
    assert abs(found[first] - truth[jump + first]) <= 2 and abs(tde.delay_samples - truth[jump + 15]) <= 2
