"""The sound-card backend, exercised through sounddevice's API and a stream double that calls the
callback the way PortAudio does (from another thread, with sounddevice's CallbackFlags)."""

import asyncio
import threading
import time

import numpy as np
import pytest
import sounddevice as sd

from agent.config import AudioConfig, build
from audio_io.device import DeviceBackend, DeviceUnavailableError, has_duplex_device, list_devices


class FakeStream:
    """Calls ``callback(indata, outdata, frames, time, status)`` from a thread, like a PortAudio stream."""

    def __init__(self, samplerate, blocksize, channels, dtype, device, callback, source, fail_after=None,
                 overflow_every=0):
        self.samplerate, self.blocksize, self.callback = samplerate, blocksize, callback
        self.source, self.fail_after, self.overflow_every = source, fail_after, overflow_every
        self.played = []
        self.active = False
        self._thread = None
        self.calls = 0

    def start(self):
        self.active = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        pos = 0
        while self.active:
            if self.fail_after is not None and self.calls >= self.fail_after:
                self.active = False  # the device went away
                return
            indata = np.zeros((self.blocksize, 1), dtype=np.float32)
            chunk = self.source[pos : pos + self.blocksize]
            indata[: len(chunk), 0] = chunk
            outdata = np.full((self.blocksize, 1), 9.0, dtype=np.float32)  # garbage the callback must overwrite
            status = sd.CallbackFlags()
            if self.overflow_every and self.calls % self.overflow_every == 1:
                status.input_overflow = True
            self.callback(indata, outdata, self.blocksize, None, status)
            self.played.append(outdata[:, 0].copy())
            pos += self.blocksize
            self.calls += 1
            time.sleep(0.0005)

    def stop(self):
        self.active = False
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1)

    def close(self):
        pass


def cfg(**kw):
    return build(AudioConfig, {"device_sample_rate": 48000, "reopen_backoff_s": [0.01], **kw})


def test_no_sound_card_gives_a_clear_error():
    if has_duplex_device():
        pytest.skip("this machine has a sound card")
    assert list_devices() == []
    backend = DeviceBackend(build(AudioConfig, {}))
    with pytest.raises(DeviceUnavailableError, match="simulated room"):
        backend.open()


def test_duplex_blocks_pair_mic_with_the_block_played_in_the_same_callback(rng):
    mic48 = (0.1 * rng.standard_normal(48000 * 2)).astype(np.float32)
    streams = []

    def factory(**kw):
        streams.append(FakeStream(source=mic48, **kw))
        return streams[-1]

    backend = DeviceBackend(cfg(), stream_factory=factory)
    tone = (0.5 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000)).astype(np.float32)

    async def main():
        blocks = []
        backend.open()
        backend.play(tone)
        async for b in backend.blocks():
            blocks.append(b)
            if len(blocks) == 60:
                break
        await backend.close()
        return blocks

    blocks = asyncio.run(main())
    assert streams[0].blocksize == 960 and streams[0].samplerate == 48000
    played48 = np.concatenate(streams[0].played)
    assert np.all(played48 != 9.0), "every output sample must be written by the callback"
    ref = np.concatenate([b.ref for b in blocks])
    mic = np.concatenate([b.mic for b in blocks])
    # ref (16 kHz) is the played 48 kHz signal resampled; mic is the captured one resampled the same way.
    from audio_io.resample import StreamResampler

    rs_ref, rs_mic = StreamResampler(48000, 16000), StreamResampler(48000, 16000)
    rs_ref.push(played48)
    rs_mic.push(mic48[: len(played48)])
    n = len(ref)
    np.testing.assert_allclose(ref, rs_ref.pop(n), atol=1e-6)
    np.testing.assert_allclose(mic, rs_mic.pop(n), atol=1e-6)
    assert np.abs(ref).max() > 0.4  # the tone was played
    assert [b.start_sample for b in blocks[:3]] == [0, 320, 640]


def test_stop_playback_silences_within_one_device_block(rng):
    stream_box = []

    def factory(**kw):
        stream_box.append(FakeStream(source=np.zeros(48000 * 4, np.float32), **kw))
        return stream_box[-1]

    backend = DeviceBackend(cfg(), stream_factory=factory)

    async def main():
        backend.open()
        backend.play(np.full(32000, 0.5, dtype=np.float32))
        count = 0
        async for _ in backend.blocks():
            count += 1
            if count == 10:
                backend.stop_playback()
                stopped_at = stream_box[0].calls
            if count == 40:
                break
        await backend.close()
        return stopped_at

    stopped_at = asyncio.run(main())
    played = stream_box[0].played
    # The block in flight when stop was requested and the next one (the fade) may carry sound; nothing later.
    assert max(np.abs(b).max() for b in played[:stopped_at]) > 0.4
    assert all(np.abs(b).max() == 0 for b in played[stopped_at + 2 :])
    assert len(played) > stopped_at + 10


def test_overruns_are_counted_and_stream_is_reopened_after_a_device_error(rng):
    made = []

    def factory(**kw):
        made.append(FakeStream(source=np.zeros(48000 * 10, np.float32), fail_after=30 if not made else None,
                               overflow_every=10, **kw))
        return made[-1]

    backend = DeviceBackend(cfg(), stream_factory=factory)

    async def main():
        count = 0
        async for _ in backend.blocks():
            count += 1
            if count == 90:  # 30 device blocks before the failure give 90 blocks of 320; continue past it
                pass
            if count == 150:
                break
        await backend.close()

    asyncio.run(asyncio.wait_for(main(), timeout=30))
    assert len(made) == 2 and backend.reopens == 1
    assert backend.overruns >= 3
    assert backend.stats()["reopens"] == 1


def test_device_backend_survives_a_broken_callback_input():
    backend = DeviceBackend(cfg(), stream_factory=lambda **kw: FakeStream(source=np.zeros(10, np.float32), **kw))
    backend.open()
    backend._stream.stop()
    # Wrong shapes from a misbehaving driver: counted, output zeroed, no exception in the audio thread.
    out = np.full((960, 1), 3.0, dtype=np.float32)
    backend._callback(np.zeros((5, 1), np.float32), out, 960, None, sd.CallbackFlags())
    assert backend.callback_errors == 1 and np.all(out == 0)


def test_play_chunks_needs_an_output_device_and_writes_every_chunk(monkeypatch):
    from audio_io import device

    if not has_duplex_device():
        with pytest.raises(DeviceUnavailableError, match="no output device"):
            device.play_chunks([np.zeros(100, np.float32)], 22050)

    written = []

    class FakeOutput:
        def __init__(self, samplerate, channels, dtype, device):
            assert (samplerate, channels, dtype) == (22050, 1, "float32")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, data):
            written.append(data.copy())

    speaker = device.DeviceInfo(0, "fake", 0, 2, 22050.0, False, True)
    monkeypatch.setattr(device, "list_devices", lambda: [speaker])
    monkeypatch.setattr(sd, "OutputStream", FakeOutput)
    chunks = [np.full(300, 0.1, np.float32), np.full(200, -0.2, np.float32)]
    assert device.play_chunks(iter(chunks), 22050) == 500
    assert [w.shape for w in written] == [(300, 1), (200, 1)] and written[1][0, 0] == np.float32(-0.2)

    def refuse(**kw):
        raise sd.PortAudioError("device busy")

    monkeypatch.setattr(sd, "OutputStream", refuse)
    with pytest.raises(DeviceUnavailableError, match="refused"):
        device.play_chunks(chunks, 22050)
