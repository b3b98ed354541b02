"""Post Wiener filter, classical masks and the whole DSP echo chain."""

import numpy as np
import pytest

from agent.config import AecConfig, PwfConfig, RoomConfig, build
from audio_io.room import SimulatedRoom
from models.aec.chain import EchoCanceller, cancel_echo, no_louder_than, run_chain
from models.aec.pwf import LeakageMaskEstimator, PostWienerFilter
from tests.conftest import speechlike

CLASSICAL = build(AecConfig, {"res_model": None})  # these tests are about the DSP chain and its classical masks

SR = 16000


def test_pwf_gain_and_two_exponents(rng):
    pwf = PostWienerFilter(build(PwfConfig, {"beta_vad": 0.6, "beta_asr": 0.2}))
    m_x = np.array([1.0, 0.5, 0.0, 0.2])
    m_r = np.array([0.0, 0.5, 1.0, 0.8])
    g = pwf.gain(m_x, m_r)
    np.testing.assert_allclose(g, [1.0, 0.25, 0.0, 0.04], atol=1e-9)
    x = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    x_vad, x_asr = pwf.process(x, m_x, m_r)
    np.testing.assert_allclose(x_vad, g**0.6 * x)
    np.testing.assert_allclose(x_asr, g**0.2 * x)
    assert np.all(np.abs(x_vad) <= np.abs(x_asr) + 1e-12)  # the VAD output is suppressed harder


def test_leakage_estimate_follows_a_known_leak(rng):
    est = LeakageMaskEstimator()
    for _ in range(400):
        y = (rng.standard_normal(321) + 1j * rng.standard_normal(321)) * rng.uniform(0.1, 3.0)
        e = np.sqrt(0.05) * y * np.exp(1j * rng.uniform(0, 6.28, 321))  # residual = 5 % of the echo power
        m_x, m_r = est.process(e, y)
    assert np.all((est.leak > 0.02) & (est.leak < 0.1))
    assert np.median(m_r) > np.median(m_x)  # echo only: the residual mask dominates


def test_no_far_end_means_no_suppression(rng):
    est = LeakageMaskEstimator()
    for _ in range(50):
        e = rng.standard_normal(321) + 1j * rng.standard_normal(321)
        m_x, m_r = est.process(e, np.zeros(321))
    assert np.all(m_r == 0) and np.all(m_x == 1)


def linear_scene(rng, seconds=14.0, near_from=None, **room):
    ref = speechlike(rng, seconds)
    r = SimulatedRoom(build(RoomConfig, {"nonlinearity": False, "rt60_s": 0.3, "delay_ms": 80, **room}))
    if near_from is not None:
        r.add_talker(speechlike(np.random.default_rng(11), 3.0), int(near_from * SR))
    mic, truth = r.run(ref)
    return mic, ref, truth


def test_streaming_equals_whole_file(rng):
    mic, ref, _ = linear_scene(rng, seconds=3.0)
    asr, vad, stats = cancel_echo(mic, ref, CLASSICAL)
    chain = EchoCanceller(CLASSICAL)
    outs = [chain.process(mic[i : i + 320], ref[i : i + 320]) for i in range(0, len(mic), 320)]
    stream_asr = np.concatenate([o[0] for o in outs])
    stream_vad = np.concatenate([o[1] for o in outs])
    lat = EchoCanceller.latency_samples
    np.testing.assert_array_equal(asr[: len(mic) - lat], stream_asr[lat:])
    np.testing.assert_array_equal(vad[: len(mic) - lat], stream_vad[lat:])
    assert asr.shape == mic.shape and vad.shape == mic.shape


def test_chain_removes_a_linear_echo_and_reports_the_delay(rng):
    mic, ref, truth = linear_scene(rng)
    asr, vad, stats = cancel_echo(mic, ref, CLASSICAL)
    steady = slice(8 * SR, 14 * SR)
    erle = 10 * np.log10(np.sum(mic[steady] ** 2) / np.sum(vad[steady] ** 2))
    assert erle >= 35, erle
    assert abs(stats[-2].delay_samples - truth["echo_delay_samples"][0]) <= 2
    assert stats[-2].erle_db > 20 and stats[-2].laec_resets == 0


def test_chain_keeps_the_near_end(rng):
    mic, ref, truth = linear_scene(rng, near_from=10.0)
    asr, _, stats = cancel_echo(mic, ref, CLASSICAL)
    seg = slice(10 * SR, 13 * SR)
    near = truth["near"][seg]

    def snr(x):
        return 10 * np.log10(np.sum(near**2) / np.sum((x[seg] - near) ** 2))

    assert snr(asr) > snr(mic) + 10  # double talk: the user's speech comes out far cleaner than at the mic
    assert any(s.double_talk for s in stats[int(10 * SR / 320) : int(13 * SR / 320)])


def test_echo_estimate_lines_up_with_the_outputs(rng):
    mic, ref, truth = linear_scene(rng)
    out = run_chain(mic, ref, CLASSICAL)
    steady = slice(8 * SR, 14 * SR)
    echo, est = truth["echo"][steady], out.echo[steady]
    # after convergence ŷ is the echo itself, sample for sample (the outputs' one-hop lag is taken out)
    assert 10 * np.log10(np.sum(echo**2) / np.sum((echo - est) ** 2)) > 30
    np.testing.assert_array_equal(out.vad, cancel_echo(mic, ref, CLASSICAL)[1])
    # the linear canceller's output lines up the same way: e + ŷ is the microphone
    np.testing.assert_allclose(out.laec.astype(np.float64) + out.echo, mic, atol=1e-6)
    chain = EchoCanceller(CLASSICAL)
    blocks, laec = [], []
    for i in range(0, 2 * SR, 320):
        chain.process(mic[i : i + 320], ref[i : i + 320])
        blocks.append(chain.echo_estimate)
        laec.append(chain.laec_output)
    lat = EchoCanceller.latency_samples
    np.testing.assert_array_equal(np.concatenate(blocks)[lat:], out.echo[: 2 * SR - lat])
    np.testing.assert_array_equal(np.concatenate(laec)[lat:], out.laec[: 2 * SR - lat])


def test_chain_does_no_harm_without_far_end(rng):
    near = speechlike(rng, 3.0)
    asr, vad, _ = cancel_echo(near, np.zeros_like(near), CLASSICAL)
    np.testing.assert_allclose(asr, near, atol=1e-6)
    np.testing.assert_allclose(vad, near, atol=1e-6)


def test_chain_rejects_wrong_block_sizes():
    with pytest.raises(ValueError, match="blocks of 320"):
        EchoCanceller().process(np.zeros(160), np.zeros(160))
    with pytest.raises(ValueError, match="16 kHz"):
        EchoCanceller(sample_rate=48000)


@pytest.mark.parametrize("ppm", [100.0, -100.0])
def test_chain_follows_clock_drift(rng, ppm):
    mic, ref, _ = linear_scene(rng, drift_ppm=ppm)
    chain = EchoCanceller(CLASSICAL)
    outs = [chain.process(mic[i : i + 320], ref[i : i + 320])[1] for i in range(0, len(mic), 320)]
    vad = np.concatenate(outs)[320:]
    steady = slice(8 * SR, 14 * SR - 320)
    erle = 10 * np.log10(np.sum(mic[steady] ** 2) / np.sum(vad[steady] ** 2))
    # Without following the drift (integer re-alignment every 16 samples) this was about 11 dB.
    assert erle >= 30, erle
    assert chain.aligner.rate_ppm == pytest.approx(ppm, abs=15)


def test_a_delay_jump_is_flagged_and_refocused_at_once(rng):
    mic, ref, truth = linear_scene(rng, delay_ms=100, delay_jumps=[{"at_s": 8.0, "delay_ms": 300}])
    chain = EchoCanceller(CLASSICAL)
    jump = int(8.0 * SR / 320)
    flagged, delays = [], []
    for i in range(0, len(mic), 320):
        _, _, s = chain.process(mic[i : i + 320], ref[i : i + 320])
        flagged.append(s.echo_path_unsettled)
        delays.append(s.delay_samples)
    new = truth["echo_delay_samples"][-1]
    assert not any(flagged[int(3 * SR / 320) : jump])  # settled before the jump
    assert any(flagged[jump : jump + 10])  # raised within 200 ms
    # re-aligned within 300 ms (the sliding window alone needs about 0.66 s), then settled again
    assert abs(delays[jump + 15] - new) <= 2
    assert not any(flagged[jump + 50 :])
    assert chain.tap_restores == 1  # the taps from before the jump were put back


def test_after_a_delay_jump_the_old_taps_fit_again(rng):
    """Re-aligned and with the taps from before the jump back, the echo is cancelled within a few blocks."""
    mic, ref, _ = linear_scene(rng, delay_ms=100, delay_jumps=[{"at_s": 8.0, "delay_ms": 300}])
    out = run_chain(mic, ref, CLASSICAL)
    k = 8 * SR

    def erle(x, a, b):
        return 10 * np.log10(np.sum(mic[k + a : k + b] ** 2) / np.sum(x[k + a : k + b] ** 2))

    assert erle(out.vad, 0, SR) >= 10  # measured 13.7 dB (the VAD output is turned down while unsettled)
    # The ASR output is not turned down: 250-500 ms after the jump it shows the filter itself (measured 62.4 dB;
    # 57.5 dB when the taps adapted to the misaligned reference are kept instead of the restored ones).
    assert erle(out.asr, SR // 4, SR // 2) >= 60


def test_no_bin_of_the_laec_output_is_louder_than_the_mic(rng):
    e = rng.standard_normal(321) + 1j * rng.standard_normal(321)
    mic = rng.standard_normal(321) + 1j * rng.standard_normal(321)
    out = no_louder_than(e, mic)
    assert np.all(np.abs(out) <= np.abs(mic) + 1e-12)
    louder = np.abs(e) > np.abs(mic)
    np.testing.assert_array_equal(out[louder], mic[louder])
    np.testing.assert_array_equal(out[~louder], e[~louder])
    assert 0 < louder.sum() < 321


def test_chain_suppresses_asymmetric_loudspeaker_distortion(rng):
    ref = speechlike(rng, 12.0) * 2.0
    r = SimulatedRoom(build(RoomConfig, {"nonlinearity": True, "volume": 1.0, "rt60_s": 0.3, "delay_ms": 80}))
    mic, _ = r.run(ref)
    steady = slice(6 * SR, 12 * SR)
    erle = {}
    for tail in (0.0, 128.0):
        vad = run_chain(mic, ref, build(AecConfig, {"res_model": None, "laec": {"nonlinear_tail_ms": tail}})).vad
        erle[tail] = 10 * np.log10(np.sum(mic[steady] ** 2) / np.sum(vad[steady] ** 2))
    assert erle[128.0] >= 25 and erle[128.0] >= erle[0.0] + 6, erle  # measured 22.0 -> 33.3 dB


def test_double_talk_rarely_flags_a_moved_echo_path(rng):
    mic, ref, truth = linear_scene(rng, near_from=10.0)
    stats = cancel_echo(mic, ref, CLASSICAL)[2]
    assert not any(s.echo_path_unsettled for s in stats[int(3 * SR / 320) : int(10 * SR / 320)])
    talk = [s.echo_path_unsettled for s in stats[int(10 * SR / 320) : int(13 * SR / 320)]]
    assert sum(talk) <= 0.02 * len(talk)  # measured: 0 of 150 blocks at SER +7 dB (the broadband test: 3)


def test_first_alignment_carries_what_the_filter_learned(rng):
    """Before the first delay estimate the LAEC learns the echo path with the reference undelayed; at the first
    alignment its taps move with the reference, so the half second after it keeps more of the echo out than a
    filter that has to find the path again (``aec.laec.carry_taps`` off, the default)."""
    mic, ref, truth = linear_scene(rng, seconds=4.0, delay_ms=40)
    n = len(mic) // 320 * 320
    erle = {}
    for carry in (False, True):
        chain = EchoCanceller(build(AecConfig, {"res_model": None, "laec": {"carry_taps": carry}}))
        residual, aligned_at = [], None
        for i in range(0, n, 320):
            _, e, _, _ = chain.cancel_linear(mic[i : i + 320], ref[i : i + 320])
            residual.append(e - truth["noise"][i : i + 320])
            if aligned_at is None and chain.aligner.following:
                aligned_at = i + 320
        residual = np.concatenate(residual)
        after = slice(aligned_at, aligned_at + SR // 2)
        erle[carry] = 10 * np.log10(np.sum(truth["echo"][after] ** 2) / np.sum(residual[after] ** 2))
        assert chain.laec.resets == 0
    assert erle[True] >= erle[False] + 4.0, erle  # 5.6 against -0.4 dB measured
