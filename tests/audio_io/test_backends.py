import asyncio

import numpy as np
import pytest

from agent.config import RoomConfig, build
from audio_io.backend import RoomBackend, WavBackend
from audio_io.room import SimulatedRoom
from audio_io.wav import write_wav


async def collect(backend, limit=None, on_block=None):
    blocks = []
    async for b in backend.blocks():
        if on_block:
            on_block(backend, b)
        blocks.append(b)
        if limit and len(blocks) >= limit:
            break
    return blocks


def test_wav_backend_pairs_mic_with_what_was_played(tmp_path, rng):
    mic = (0.1 * rng.standard_normal(1000)).astype(np.float32)
    backend = WavBackend(mic, played_out=tmp_path / "played.wav")
    tone = np.linspace(0, 1, 500, dtype=np.float32)
    backend.play(tone)
    blocks = asyncio.run(collect(backend))
    asyncio.run(backend.close())
    assert [b.start_sample for b in blocks] == [0, 320, 640, 960]
    np.testing.assert_array_equal(np.concatenate([b.mic for b in blocks])[:1000], mic)
    ref = np.concatenate([b.ref for b in blocks])
    np.testing.assert_array_equal(ref[:500], tone)
    assert np.all(ref[500:] == 0) and (tmp_path / "played.wav").exists()


def test_wav_backend_with_reference_file(tmp_path, rng):
    mic = (0.1 * rng.standard_normal(640)).astype(np.float32)
    ref = (0.1 * rng.standard_normal(600)).astype(np.float32)
    write_wav(tmp_path / "m.wav", mic)
    write_wav(tmp_path / "r.wav", ref)
    blocks = asyncio.run(collect(WavBackend(tmp_path / "m.wav", tmp_path / "r.wav")))
    got = np.concatenate([b.ref for b in blocks])
    assert np.max(np.abs(got[:600] - ref)) < 1e-4 and np.all(got[600:] == 0)


def test_room_backend_plays_into_the_room_and_stops_within_one_block(rng):
    room = SimulatedRoom(build(RoomConfig, {"nonlinearity": False, "delay_ms": 20, "rt60_s": 0.2}))
    backend = RoomBackend(room, duration_s=2.0)
    speech = (0.2 * rng.standard_normal(16000)).astype(np.float32)
    stop_at = 20  # block index

    def on_block(be, block):
        n = block.start_sample // 320
        if n == 0:
            be.play(speech)
        if n == stop_at:
            be.stop_playback()

    blocks = asyncio.run(collect(backend, on_block=on_block))
    assert len(blocks) == 100
    ref = np.concatenate([b.ref for b in blocks])
    np.testing.assert_array_equal(ref[320 : 320 * (stop_at + 1)], speech[: 320 * stop_at])
    # The block after the stop fades out within stop_fade_ms (5 ms = 80 samples), then silence.
    after = ref[320 * (stop_at + 1) :]
    assert np.all(after[80:] == 0.0)
    # The played audio reaches the mic as echo, after the room's delay.
    echo = np.concatenate([b.truth["echo"] for b in blocks])
    assert np.abs(echo[: 320 + 320]).max() < 1e-9 and np.abs(echo[1000:6000]).max() > 0.01
    assert blocks[-1].truth["delay_samples"] == 320


def test_room_backend_paced_mode_keeps_real_time():
    room = SimulatedRoom(build(RoomConfig, {"rt60_s": 0.2}))
    backend = RoomBackend(room, duration_s=0.3, paced=True)

    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        blocks = await collect(backend)
        return len(blocks), loop.time() - t0

    n, elapsed = asyncio.run(main())
    assert n == 15 and elapsed >= 0.28  # a paced room never runs ahead of real time


def test_wav_backend_rejects_bad_input(tmp_path):
    from audio_io.frames import AudioFormatError

    with pytest.raises(AudioFormatError, match="mono"):
        WavBackend(np.zeros((100, 2), dtype=np.float32))
