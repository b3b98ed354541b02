"""The linear echo canceller (PBFDKF): identification, ERLE, double talk, tracking, divergence guard."""

import logging

import numpy as np
import pytest
import scipy.signal

from agent.config import LaecConfig, RoomConfig, build
from audio_io.room import SimulatedRoom
from models.aec.laec import (
    BLOCK,
    DECAYING_UNCERTAINTY,
    DIVERGENCE_BLOCKS,
    INITIAL_UNCERTAINTY,
    NONLINEAR_UNCERTAINTY,
    PbfdkfEchoCanceller,
    initial_uncertainty,
)
from tests.conftest import speechlike

SR = 16000


def run(aec, mic, ref):
    es, ys = [], []
    for i in range(0, len(ref) - BLOCK + 1, BLOCK):
        e, y = aec.process(mic[i : i + BLOCK], ref[i : i + BLOCK])
        es.append(e)
        ys.append(y)
    return np.concatenate(es), np.concatenate(ys)


def erle_db(echo, residual):
    return 10 * np.log10(np.sum(echo**2) / np.sum(residual**2))


def test_tail_covers_the_configured_length():
    assert PbfdkfEchoCanceller(build(LaecConfig, {"tail_ms": 256})).tail_samples >= 256 * 16
    assert PbfdkfEchoCanceller(build(LaecConfig, {"tail_ms": 200})).partitions == 10


def test_identifies_a_known_impulse_response_on_white_noise(rng):
    h = np.zeros(2400)
    h[40] = 0.8
    h[41:] = 0.3 * rng.standard_normal(2359) * np.exp(-np.arange(2359) / 300)
    x = 0.1 * rng.standard_normal(8 * SR)
    y = scipy.signal.lfilter(h, 1, x) + 1e-4 * rng.standard_normal(len(x))
    aec = PbfdkfEchoCanceller()
    run(aec, y, x)
    est = aec.impulse_response()
    misalignment = 10 * np.log10((np.sum((est[: len(h)] - h) ** 2) + np.sum(est[len(h) :] ** 2)) / np.sum(h**2))
    assert misalignment <= -20, misalignment


def aligned_room_echo(rng, seconds, **room):
    """Echo of a speech-like reference in a linear room, with the reference aligned as TDE would (peak at tap 48)."""
    ref = speechlike(rng, seconds)
    r = SimulatedRoom(build(RoomConfig, {"nonlinearity": False, "rt60_s": 0.3, "delay_ms": 50, **room}))
    mic, truth = r.run(ref)
    d = int(truth["echo_delay_samples"][0]) - 48
    aligned = np.concatenate([np.zeros(d), ref])[: len(ref)]
    return mic, aligned, truth


def test_reaches_30db_erle_on_a_linear_room_echo(rng):
    mic, ref, truth = aligned_room_echo(rng, 12.0)
    aec = PbfdkfEchoCanceller()
    e, y_hat = run(aec, mic, ref)
    steady = slice(8 * SR, 12 * SR)
    assert erle_db(truth["echo"][steady], e[steady]) >= 30
    assert aec.resets == 0


def test_double_talk_does_not_make_it_diverge(rng):
    mic, ref, truth = aligned_room_echo(rng, 14.0)
    near = speechlike(np.random.default_rng(5), 14.0) * 3.0  # near end ~10 dB above the echo
    near[: 6 * SR] = 0
    near[10 * SR :] = 0
    aec = PbfdkfEchoCanceller()
    _, y_hat = run(aec, mic + near, ref)
    residual = truth["echo"][: len(y_hat)] - y_hat
    before, during, after = slice(4 * SR, 6 * SR), slice(6 * SR, 10 * SR), slice(12 * SR, 14 * SR)
    assert erle_db(truth["echo"][before], residual[before]) >= 20
    assert erle_db(truth["echo"][during], residual[during]) >= 15  # keeps cancelling while the user talks
    assert erle_db(truth["echo"][after], residual[after]) >= 20
    assert aec.resets == 0


def test_tracks_an_echo_path_change(rng):
    ref = speechlike(rng, 16.0)
    rooms = [SimulatedRoom(build(RoomConfig, {"nonlinearity": False, "rt60_s": 0.3, "delay_ms": 0, "mic_pos_m": pos}))
             for pos in ([2.1, 2.0, 1.0], [2.3, 2.4, 1.2])]
    echoes = [r.run(ref)[1]["echo"] for r in rooms]
    echo = np.concatenate([echoes[0][: 8 * SR], echoes[1][8 * SR :]])
    aec = PbfdkfEchoCanceller()
    e, _ = run(aec, echo, ref)
    assert erle_db(echo[5 * SR : 8 * SR], e[5 * SR : 8 * SR]) >= 25
    assert erle_db(echo[13 * SR : 16 * SR], e[13 * SR : 16 * SR]) >= 20  # re-converged on the new path


def test_filter_is_read_only_and_adapt_updates(rng):
    mic, ref, _ = aligned_room_echo(rng, 2.0)
    aec = PbfdkfEchoCanceller()
    run(aec, mic[: SR], ref[: SR])
    taps = aec.impulse_response().copy()
    e, y = aec.filter(mic[SR : SR + BLOCK], ref[SR : SR + BLOCK])
    np.testing.assert_array_equal(aec.impulse_response(), taps)
    np.testing.assert_allclose(e + y, mic[SR : SR + BLOCK], atol=1e-7)
    aec.adapt()
    assert not np.array_equal(aec.impulse_response(), taps)


def test_divergence_guard_resets_and_logs(rng, caplog):
    mic, ref, _ = aligned_room_echo(rng, 2.0)
    aec = PbfdkfEchoCanceller()
    run(aec, mic[:SR], ref[:SR])
    aec._W *= 1e3  # a corrupted filter
    with caplog.at_level(logging.WARNING, logger="models.aec.laec"):
        for i in range(SR, SR + (DIVERGENCE_BLOCKS + 2) * BLOCK, BLOCK):
            aec.filter(mic[i : i + BLOCK], ref[i : i + BLOCK])
    assert aec.resets == 1 and "LAEC diverged" in caplog.text
    assert np.all(aec.impulse_response() == 0)


def test_reset_behaves_like_a_new_filter(rng):
    mic, ref, _ = aligned_room_echo(rng, 3.0)
    used = PbfdkfEchoCanceller()
    run(used, mic[: 2 * SR], ref[: 2 * SR])
    used.reset()
    e_used, _ = run(used, mic[2 * SR :], ref[2 * SR :])
    e_new, _ = run(PbfdkfEchoCanceller(), mic[2 * SR :], ref[2 * SR :])
    np.testing.assert_array_equal(e_used, e_new)


def nonlinear_room_echo(rng, seconds):
    """Echo of a loud speech-like reference through the room's asymmetric loudspeaker model, aligned as TDE would."""
    ref = speechlike(rng, seconds) * 2.0
    r = SimulatedRoom(build(RoomConfig, {"nonlinearity": True, "volume": 1.0, "rt60_s": 0.3, "delay_ms": 50}))
    mic, truth = r.run(ref)
    d = int(truth["echo_delay_samples"][0]) - 48
    return mic, np.concatenate([np.zeros(d), ref])[: len(ref)], truth


def test_hammerstein_branch_cancels_asymmetric_loudspeaker_distortion(rng):
    mic, ref, truth = nonlinear_room_echo(rng, 12.0)
    steady = slice(6 * SR, 12 * SR - BLOCK)
    erle = {}
    for tail in (0.0, 128.0):
        aec = PbfdkfEchoCanceller(build(LaecConfig, {"nonlinear_tail_ms": tail}))
        e, _ = run(aec, mic, ref)
        erle[tail] = erle_db(truth["echo"][steady], e[steady])
        assert aec.resets == 0
    assert PbfdkfEchoCanceller(build(LaecConfig, {"nonlinear_tail_ms": 128})).nonlinear_partitions == 7
    assert erle[128.0] >= erle[0.0] + 5.0, erle


def test_hammerstein_branch_costs_little_on_a_linear_echo(rng):
    mic, ref, truth = aligned_room_echo(rng, 12.0)
    steady = slice(8 * SR, 12 * SR - BLOCK)
    erle = {}
    for tail in (0.0, 128.0):
        e, _ = run(PbfdkfEchoCanceller(build(LaecConfig, {"nonlinear_tail_ms": tail})), mic, ref)
        erle[tail] = erle_db(truth["echo"][steady], e[steady])
    assert erle[128.0] >= 30 and erle[128.0] >= erle[0.0] - 6.0, erle


def test_snapshot_and_restore_put_the_taps_back(rng):
    mic, ref, _ = aligned_room_echo(rng, 2.0)
    aec = PbfdkfEchoCanceller()
    run(aec, mic[:SR], ref[:SR])
    snap = aec.snapshot()
    taps = aec.impulse_response().copy()
    run(aec, mic[SR:], ref[SR:])
    assert not np.array_equal(aec.impulse_response(), taps)
    aec.restore(snap)
    np.testing.assert_array_equal(aec.impulse_response(), taps)


def test_decaying_prior_falls_by_60_db_per_rt60():
    flat = initial_uncertainty(13, 7, 0.0)[:, 0]
    np.testing.assert_array_equal(flat, [INITIAL_UNCERTAINTY] * 13 + [NONLINEAR_UNCERTAINTY] * 7)
    p0 = initial_uncertainty(13, 7, 400.0)[:, 0]  # 400 ms: 3 dB per 20 ms partition
    assert p0[0] == DECAYING_UNCERTAINTY
    np.testing.assert_allclose(10 * np.log10(p0[:13] / p0[0]), -3.0 * np.arange(13))
    np.testing.assert_allclose(p0[13:] / p0[13], p0[:7] / p0[0])
    assert p0[13] / p0[0] == NONLINEAR_UNCERTAINTY / INITIAL_UNCERTAINTY
    aec = PbfdkfEchoCanceller(build(LaecConfig, {"prior_rt60_ms": 400.0}))
    np.testing.assert_array_equal(aec._P[:, 0], p0)


def test_decaying_prior_converges_faster_on_a_room_echo(rng):
    """The first two seconds of a linear room echo (RT60 0.3 s): more echo removed than with a flat prior."""
    mic, ref, truth = aligned_room_echo(rng, 2.0)
    early = slice(0, 2 * SR - BLOCK)
    erle = {}
    for rt60 in (0.0, 400.0):
        e, _ = run(PbfdkfEchoCanceller(build(LaecConfig, {"prior_rt60_ms": rt60})), mic, ref)
        erle[rt60] = erle_db(truth["echo"][early], e[early])
    assert erle[400.0] >= erle[0.0] + 3.0, erle  # 20.7 against 15.1 dB measured


def test_shift_reference_keeps_what_the_filter_learned(rng):
    """A filter that learned an echo at lag 1000 + 48 from the undelayed reference, told that the reference now
    comes 1000.4 samples later, goes on cancelling at once; a fresh filter would start from nothing."""
    h = np.zeros(600)
    h[48] = 0.8
    h[49:] = 0.1 * rng.standard_normal(551) * np.exp(-np.arange(551) / 100)
    x = 0.1 * rng.standard_normal(6 * SR)
    lag = 1000.4
    delayed = np.fft.irfft(np.fft.rfft(x, 2 * len(x)) * np.exp(-2j * np.pi * np.fft.rfftfreq(2 * len(x)) * lag))[: len(x)]
    echo = scipy.signal.lfilter(h, 1, delayed)
    mic = echo + 1e-4 * rng.standard_normal(len(x))
    split = 4 * SR
    aec = PbfdkfEchoCanceller()
    run(aec, mic[:split], x[:split])  # undelayed reference: the filter holds the path at tap 1048
    assert abs(np.argmax(np.abs(aec.impulse_response())) - 1048.4) < 1
    aec.shift_reference(lag)
    assert np.argmax(np.abs(aec.impulse_response())) == 48
    after = slice(split, split + 10 * BLOCK)  # the first 200 ms with the delayed reference
    e, _ = run(aec, mic[after], delayed[after])
    e_fresh, _ = run(PbfdkfEchoCanceller(), mic[after], delayed[after])
    assert erle_db(echo[after], e) >= 30, erle_db(echo[after], e)  # 34.6 dB measured; a fresh filter 3.0 dB
    assert erle_db(echo[after], e_fresh) <= 10
    with pytest.raises(ValueError, match="later"):
        aec.shift_reference(-1.0)
