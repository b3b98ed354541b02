"""Echo chain DSP blocks against synthetic ground truth: STFT, GCC-PHAT delay estimation, delay line."""

import numpy as np
import pytest

from agent.config import RoomConfig, TdeConfig, build
from audio_io.room import SimulatedRoom
from models.aec.delay_line import DelayLine
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


def test_delay_line_delays_exactly_and_crossfades_on_change(rng):
    x = rng.standard_normal(SR)
    line = DelayLine(4000)
    out = np.concatenate([line.process(x[i : i + HOP], 100 if i < 8000 else 300) for i in range(0, SR, HOP)])
    # (the first block fades in from the initial delay 0)
    np.testing.assert_array_equal(out[HOP:8000], x[HOP - 100 : 8000 - 100])
    np.testing.assert_array_equal(out[8000 + HOP :], x[8000 + HOP - 300 : SR - 300])
    cross = out[8000 : 8000 + HOP]
    ramp = (np.arange(HOP) + 1.0) / HOP
    np.testing.assert_allclose(cross, (1 - ramp) * x[7900 : 7900 + HOP] + ramp * x[7700 : 7700 + HOP])
    with pytest.raises(ValueError, match="blocks of 320"):
        line.process(x[:100], 0)


def test_tde_config_changes_the_search_range(rng):
    ref = speechlike(rng, 4.0)
    mic = np.concatenate([np.zeros(4000), ref])[: len(ref)].astype(np.float32)  # 250 ms
    assert run_tde(mic, ref)[-1] == pytest.approx(4000, abs=0.5)
    assert all(d is None or abs(d - 4000) > 10 for d in run_tde(mic, ref, build(TdeConfig, {"max_delay_ms": 200})))
