import numpy as np
import pytest

from audio_io.frames import AudioFormatError, DuplexBlock
from audio_io.playback import PlaybackBuffer, PlaybackFullError
from audio_io.resample import StreamResampler, resample
from audio_io.ring import RingBuffer


def test_ring_wraps_around_in_order():
    ring = RingBuffer(10)
    seq = np.arange(100, dtype=np.float32)
    out, pos = [], 0
    for step in [3, 7, 5, 9, 2, 10, 4]:
        pos += ring.write(seq[pos : pos + step])
        out.append(ring.read(6))
    got = np.concatenate(out + [ring.read(100)])
    np.testing.assert_array_equal(got, seq[: len(got)])
    assert ring.write(np.ones(11, dtype=np.float32)) == 10 and ring.free == 0


def test_playback_stop_fades_within_fade_and_then_silence():
    pb = PlaybackBuffer(16000, fade_samples=80)
    pb.write(np.ones(4000, dtype=np.float32))
    first = pb.pull(320)
    assert np.all(first == 1.0) and pb.is_playing
    pb.stop()
    block = pb.pull(320)
    assert 0 < block[0] <= 1.0 and np.all(np.diff(block[:80]) <= 0)
    assert np.all(block[80:] == 0.0)
    assert np.all(pb.pull(320) == 0.0) and pb.queued_samples == 0 and not pb.is_playing
    pb.write(np.ones(100, dtype=np.float32))  # playing again after a stop works
    assert np.all(pb.pull(320)[:100] == 1.0) and pb.underruns == 1


def test_playback_is_bounded_and_checks_input():
    pb = PlaybackBuffer(1000)
    with pytest.raises(PlaybackFullError, match="playback queue full"):
        pb.write(np.zeros(1001, dtype=np.float32))
    with pytest.raises(AudioFormatError, match="mono"):
        pb.write(np.zeros((10, 2), dtype=np.float32))
    with pytest.raises(AudioFormatError, match="NaN"):
        pb.write(np.array([0.0, np.nan], dtype=np.float32))


def test_duplex_block_contract():
    with pytest.raises(AudioFormatError, match="mic has 320 samples but ref has 160"):
        DuplexBlock(np.zeros(320, np.float32), np.zeros(160, np.float32), 0)
    with pytest.raises(AudioFormatError, match="float"):
        DuplexBlock(np.zeros(320, np.int16), np.zeros(320, np.int16), 0)


def test_stream_resampler_matches_whole_signal_and_two_instances_align(rng):
    x = rng.standard_normal(48000).astype(np.float32)
    a, b = StreamResampler(48000, 16000), StreamResampler(48000, 16000)
    outs = []
    for start in range(0, 48000, 960):
        a.push(x[start : start + 960])
        b.push(x[start : start + 960])
        while (ya := a.pop(320)) is not None:
            yb = b.pop(320)
            np.testing.assert_array_equal(ya, yb)
            outs.append(ya)
    y = np.concatenate(outs)
    assert len(y) > 15000
    # same low-pass content as the whole-signal resampler, up to the streaming delay
    ref = resample(x, 48000, 16000)
    lag = int(np.argmax(np.correlate(y[2000:6000], ref[2000:2400], "valid")))
    assert np.corrcoef(y[2000 + lag : 14000 + lag], ref[2000:14000])[0, 1] > 0.99


def test_a_held_stop_fades_out_at_once_and_keeps_the_rest_for_a_resume():
    x = np.arange(1, 1001, dtype=np.float32) / 1000
    buf = PlaybackBuffer(4000, fade_samples=80)
    buf.write(x)
    np.testing.assert_array_equal(buf.pull(100), x[:100])
    buf.stop(hold=True)
    assert buf.take_held() is None  # not handled until the next pull
    out = buf.pull(320)
    assert np.all(np.abs(out[:80]) <= x[100:180]) and np.all(out[80:] == 0) and not buf.is_playing
    held = buf.take_held()
    np.testing.assert_array_equal(held, x[180:])  # everything after the faded samples, once
    assert buf.take_held() is None and buf.played_samples == 180
    buf.write(held)
    buf.stop()  # a plain stop drops the queue
    buf.pull(320)
    assert buf.take_held() is None and buf.queued_samples == 0
