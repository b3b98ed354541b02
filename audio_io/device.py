"""Sound-card duplex backend on ``sounddevice.Stream`` (one callback for capture and playback).

In the audio thread the callback only copies: it fills the output from the playback buffer (at
the device rate) and stores that exact output block next to the input block in a preallocated
slot ring (single producer, single consumer, no lock). The asyncio side is woken with
``call_soon_threadsafe``, resamples mic and reference with two identical streaming resamplers (so
they stay aligned) and yields 20 ms ``DuplexBlock`` s at 16 kHz. If the stream stops on a device
error it is re-opened with back-off. With no sound card, opening fails with
:class:`DeviceUnavailableError` and a message that says what to do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.config import AudioConfig
from audio_io.backend import AudioBackend
from audio_io.frames import BLOCK_SAMPLES, SAMPLE_RATE, DuplexBlock, as_mono_float32
from audio_io.playback import PlaybackBuffer
from audio_io.resample import StreamResampler, resample

log = logging.getLogger(__name__)

NO_DEVICE_HINT = (
    "no sound card was found (PortAudio lists no input and output device). "
    "Use the simulated room instead: --set audio.backend=room (the default 'auto' does this by itself)."
)


class DeviceUnavailableError(RuntimeError):
    """No usable input/output device, or the device refused the stream settings."""


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool


def _sd() -> Any:
    try:
        import sounddevice as sd
    except OSError as exc:  # libportaudio2 missing
        raise DeviceUnavailableError(f"PortAudio is not installed ({exc}); run: bash scripts/setup.sh") from None
    return sd


def list_devices() -> list[DeviceInfo]:
    """Every audio device PortAudio knows (empty with no sound card)."""
    sd = _sd()
    try:
        devices = sd.query_devices()
        default_in, default_out = sd.default.device
    except Exception as exc:  # PortAudioError when the host API itself fails
        log.debug("query_devices failed: %s", exc)
        return []
    out = []
    for i, d in enumerate(devices):
        out.append(
            DeviceInfo(i, d["name"], int(d["max_input_channels"]), int(d["max_output_channels"]),
                       float(d["default_samplerate"]), i == default_in, i == default_out)
        )
    return out


def has_duplex_device() -> bool:
    """True when at least one input and one output device exist."""
    devs = list_devices()
    return any(d.max_input_channels > 0 for d in devs) and any(d.max_output_channels > 0 for d in devs)


class DeviceBackend(AudioBackend):
    """Full-duplex sound-card backend; see the module doc.

    ``stream_factory`` builds the stream (default ``sounddevice.Stream``); it receives the same
    keyword arguments as ``sounddevice.Stream`` and must return an object with ``start()``,
    ``stop()``, ``close()`` and ``active``.
    """

    kind = "sound card"

    def __init__(self, config: AudioConfig, stream_factory: Callable[..., Any] | None = None) -> None:
        # No super().__init__(): the playback queue lives at the device's rate and is made in open().
        self.sample_rate = SAMPLE_RATE
        self.block_samples = BLOCK_SAMPLES
        self.playback: PlaybackBuffer | None = None
        self.config = config
        self._factory = stream_factory
        self._stream: Any = None
        self._closed = False
        self.device_rate = 0
        self.device_block = 0
        self.overruns = 0  # input overflows reported by PortAudio + blocks dropped because the consumer lagged
        self.underruns = 0  # output underflows reported by PortAudio
        self.callback_errors = 0
        self.reopens = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    # --- set-up ------------------------------------------------------------------------------------

    def _resolve_rate(self) -> int:
        if self.config.device_sample_rate is not None:
            return int(self.config.device_sample_rate)
        if self._factory is not None:
            return SAMPLE_RATE
        sd = _sd()
        try:
            return int(sd.query_devices(self.config.input_device, kind="input")["default_samplerate"])
        except Exception as exc:
            raise DeviceUnavailableError(f"cannot query the input device ({exc}): {NO_DEVICE_HINT}") from None

    def open(self) -> None:
        """Open and start the duplex stream (raises :class:`DeviceUnavailableError` with no usable device)."""
        if self._factory is None and not has_duplex_device():
            raise DeviceUnavailableError(NO_DEVICE_HINT)
        rate = self._resolve_rate()
        block = int(round(rate * self.config.block_ms / 1000))
        if rate != self.device_rate:
            self.device_rate, self.device_block = rate, block
            # Played audio waits at the device rate, so the callback only copies.
            self.playback = PlaybackBuffer(int(self.config.playback_buffer_s * rate), int(self.config.stop_fade_ms * rate / 1000))
            n_slots = self.config.capture_queue_blocks
            self._mic_slots = np.zeros((n_slots, block), dtype=np.float32)
            self._ref_slots = np.zeros((n_slots, block), dtype=np.float32)
            self._slots_written = 0  # producer (audio thread)
            self._slots_read = 0  # consumer (event loop)
        self._mic_rs = StreamResampler(rate, SAMPLE_RATE)
        self._ref_rs = StreamResampler(rate, SAMPLE_RATE)
        factory = self._factory or _sd().Stream
        kwargs = dict(
            samplerate=rate, blocksize=block, channels=1, dtype="float32",
            device=(self.config.input_device, self.config.output_device), callback=self._callback,
        )
        try:
            self._stream = factory(**kwargs)
            self._stream.start()
        except DeviceUnavailableError:
            raise
        except Exception as exc:
            self._stream = None
            raise DeviceUnavailableError(f"could not open the sound card at {rate} Hz ({exc}). {NO_DEVICE_HINT}") from None
        log.info("sound card open: %d Hz, %d-sample blocks", rate, block)

    # --- audio thread ------------------------------------------------------------------------------

    def _callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        """PortAudio callback: copy only. Never raises (an exception would stop the stream)."""
        try:
            if status:
                self.overruns += int(bool(getattr(status, "input_overflow", False)))
                self.underruns += int(bool(getattr(status, "output_underflow", False)))
            out = outdata[:, 0]
            self.playback.pull_into(out)
            if frames != self.device_block or self._slots_written - self._slots_read >= self._mic_slots.shape[0]:
                self.overruns += 1  # consumer too slow (or odd block size): drop this block
            else:
                k = self._slots_written % self._mic_slots.shape[0]
                self._mic_slots[k] = indata[:, 0]
                self._ref_slots[k] = out
                self._slots_written += 1
            if self._loop is not None and self._event is not None:
                self._loop.call_soon_threadsafe(self._event.set)
        except Exception:  # noqa: BLE001 - the audio thread must survive; counted and logged by the consumer
            self.callback_errors += 1
            outdata.fill(0)

    # --- event loop side -----------------------------------------------------------------------------

    def play(self, samples: np.ndarray) -> None:
        x = as_mono_float32(samples, "playback audio")
        if self.playback is None:
            self.open()
        self.playback.write(resample(x, SAMPLE_RATE, self.device_rate))

    def stop_playback(self, hold: bool = False) -> None:
        if self.playback is not None:
            self.playback.stop(hold)

    def take_held_playback(self) -> np.ndarray | None:
        """The held rest of the queue at 16 kHz (the queue itself runs at the device's rate)."""
        held = self.playback.take_held() if self.playback is not None else None
        return None if held is None else resample(held, self.device_rate, SAMPLE_RATE)

    @property
    def is_playing(self) -> bool:
        return self.playback is not None and self.playback.is_playing

    async def blocks(self) -> AsyncIterator[DuplexBlock]:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        if self._stream is None:
            self.open()
        n = self.block_samples
        position = 0
        failures = 0
        while not self._closed:
            try:
                await asyncio.wait_for(self._event.wait(), timeout=max(0.5, 20 * self.config.block_ms / 1000))
            except TimeoutError:
                if self._closed:
                    return
                if self._stream is None or not self._stream.active:
                    wait = self.config.reopen_backoff_s[min(failures, len(self.config.reopen_backoff_s) - 1)]
                    log.warning("sound card stream stopped; re-opening in %.1f s", wait)
                    await asyncio.sleep(wait)
                    failures += 1
                    self._close_stream()
                    try:
                        self.open()
                        self.reopens += 1
                    except DeviceUnavailableError as exc:
                        log.warning("re-open failed: %s", exc)
                continue
            self._event.clear()
            failures = 0
            while self._slots_read < self._slots_written:
                k = self._slots_read % self._mic_slots.shape[0]
                self._mic_rs.push(self._mic_slots[k])
                self._ref_rs.push(self._ref_slots[k])
                self._slots_read += 1
            while self._mic_rs.available() >= n and self._ref_rs.available() >= n:
                mic = self._mic_rs.pop(n)
                ref = self._ref_rs.pop(n)
                yield DuplexBlock(mic, ref, position)
                position += n

    def _close_stream(self) -> None:
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception as exc:  # noqa: BLE001 - closing a broken device must not raise
                log.debug("closing stream: %s", exc)
            self._stream = None

    async def close(self) -> None:
        self._closed = True
        self._close_stream()
        if self._event is not None:
            self._event.set()

    def stats(self) -> dict[str, Any]:
        played = self.playback.played_samples if self.playback is not None else 0
        return {
            "kind": self.kind, "device_rate": self.device_rate, "played_samples": played, "overruns": self.overruns,
            "underruns": self.underruns, "callback_errors": self.callback_errors, "reopens": self.reopens,
        }


def play_chunks(chunks: Iterable[np.ndarray], sample_rate: int, device: int | str | None = None) -> int:
    """Play mono float32 chunks on the output device as they arrive (blocking); returns the samples played.

    Raises :class:`DeviceUnavailableError` when there is no output device or it refuses the stream.
    """
    sd = _sd()
    if not any(d.max_output_channels > 0 for d in list_devices()):
        raise DeviceUnavailableError(f"no output device: {NO_DEVICE_HINT}")
    played = 0
    try:
        with sd.OutputStream(samplerate=sample_rate, channels=1, dtype="float32", device=device) as stream:
            for chunk in chunks:
                stream.write(np.ascontiguousarray(chunk, dtype=np.float32).reshape(-1, 1))
                played += len(chunk)
    except sd.PortAudioError as exc:
        raise DeviceUnavailableError(f"the output device refused the stream: {exc}") from None
    return played
