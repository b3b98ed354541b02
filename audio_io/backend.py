"""The audio backend protocol and the two backends that need no sound card: WAV files and the simulated room.

A backend yields :class:`~audio_io.frames.DuplexBlock` s (20 ms at 16 kHz) from ``blocks()`` and
plays what the agent queues with ``play()``; ``stop_playback()`` silences the speaker within one
block. Every backend takes the reference from the same :class:`~audio_io.playback.PlaybackBuffer`
pull that produced the played block, so ``DuplexBlock.ref`` is exactly what was played.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np

from audio_io.frames import BLOCK_SAMPLES, SAMPLE_RATE, DuplexBlock, as_mono_float32
from audio_io.playback import PlaybackBuffer
from audio_io.room import SimulatedRoom
from audio_io.wav import read_wav, write_wav

log = logging.getLogger(__name__)

FREEZE_LIMIT_S = 60.0  # wall seconds the room waits for the agent's computation before it runs on regardless


class AudioBackend(ABC):
    """Duplex audio at 16 kHz in blocks of ``block_samples``; see the module doc."""

    #: Human-readable name shown by the CLI ("sound card", "simulated room", "WAV files").
    kind: str = "backend"

    def __init__(self, block_samples: int = BLOCK_SAMPLES, playback_buffer_s: float = 120.0, stop_fade_ms: float = 5.0) -> None:
        self.sample_rate = SAMPLE_RATE
        self.block_samples = int(block_samples)
        self.playback = PlaybackBuffer(int(playback_buffer_s * SAMPLE_RATE), int(stop_fade_ms * SAMPLE_RATE / 1000))

    def play(self, samples: np.ndarray) -> None:
        """Queue mono float32 samples at 16 kHz for playback (raises ``PlaybackFullError`` when over the bound)."""
        self.playback.write(samples)

    def stop_playback(self, hold: bool = False) -> None:
        """Stop playing at once: the next block fades out and the queue is dropped (``hold``: kept for
        :meth:`take_held_playback`)."""
        self.playback.stop(hold)

    def take_held_playback(self) -> np.ndarray | None:
        """The audio a ``stop_playback(hold=True)`` kept from the queue (None: nothing, or not stopped yet)."""
        return self.playback.take_held()

    @property
    def is_playing(self) -> bool:
        """True while queued audio remains to be played."""
        return self.playback.is_playing

    @abstractmethod
    def blocks(self) -> AsyncIterator[DuplexBlock]:
        """Yield duplex blocks until the source ends or the backend is closed."""

    async def close(self) -> None:  # noqa: B027 - a no-op default that backends extend
        """Release resources; ``blocks()`` ends."""

    def stats(self) -> dict[str, Any]:
        return {"kind": self.kind, "played_samples": self.playback.played_samples, "underruns": self.playback.underruns}

    async def __aenter__(self) -> AudioBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class WavBackend(AudioBackend):
    """Microphone (and optionally reference) from files; what is played is collected and written to a file.

    Deterministic and as fast as the consumer. Without a reference file the reference is what the
    agent played, as with a device. The last block is padded with zeros.
    """

    kind = "WAV files"

    def __init__(
        self,
        mic: str | Path | np.ndarray,
        ref: str | Path | np.ndarray | None = None,
        played_out: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.mic = read_wav(mic) if isinstance(mic, (str, Path)) else as_mono_float32(mic, "mic")
        self.ref = None
        if ref is not None:
            self.ref = read_wav(ref) if isinstance(ref, (str, Path)) else as_mono_float32(ref, "ref")
        self.played_out = Path(played_out) if played_out is not None else None
        self._played: list[np.ndarray] = []
        self._closed = False

    @property
    def played(self) -> np.ndarray:
        """Everything handed to the (virtual) speaker so far."""
        return np.concatenate(self._played) if self._played else np.zeros(0, dtype=np.float32)

    async def blocks(self) -> AsyncIterator[DuplexBlock]:
        n, total = self.block_samples, self.mic.shape[0]
        for start in range(0, total, n):
            if self._closed:
                return
            mic = np.zeros(n, dtype=np.float32)
            chunk = self.mic[start : start + n]
            mic[: chunk.shape[0]] = chunk
            played = self.playback.pull(n)
            self._played.append(played)
            if self.ref is not None:
                ref = np.zeros(n, dtype=np.float32)
                rchunk = self.ref[start : start + n]
                ref[: rchunk.shape[0]] = rchunk
            else:
                ref = played
            yield DuplexBlock(mic, ref, start)
            await asyncio.sleep(0)  # let other tasks run between blocks

    async def close(self) -> None:
        self._closed = True
        if self.played_out is not None:
            write_wav(self.played_out, self.played)


class RoomBackend(AudioBackend):
    """The simulated room as a backend: what is played goes through the room into the mic.

    Fast mode (``paced=False``) yields blocks as fast as they are consumed; paced mode waits for
    each block's real-time deadline on ``clock`` (seconds, default the event loop's clock).
    ``duration_s`` ends the stream (``None`` = until closed). Ground truth rides on ``DuplexBlock.truth``.

    In fast mode the agent's computation (final transcript, responder, synthesis) is counted by
    ``compute``: the session sets :attr:`agent_busy` (true while it computes), and the room either
    stops until the computation is done (``"fixed"``: no sample passes, so runs repeat exactly; the
    session charges its fixed latency itself) or runs at real time meanwhile (``"real_time"``: this
    machine's speed shows in the latencies, in samples, as on a device).
    """

    kind = "simulated room"

    def __init__(
        self,
        room: SimulatedRoom,
        duration_s: float | None = None,
        paced: bool = False,
        clock: Callable[[], float] | None = None,
        compute: str = "fixed",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if compute not in ("fixed", "real_time"):
            raise ValueError(f"compute must be 'fixed' or 'real_time', got {compute!r}")
        self.room = room
        self.duration_samples = None if duration_s is None else int(duration_s * SAMPLE_RATE)
        self.paced = paced
        self.compute = compute
        self.agent_busy: Callable[[], bool] = _never  # set by the session
        self._clock = clock
        self._closed = False
        self._origin: tuple[float, int] | None = None  # (clock, sample) where real-time pacing began
        self._gave_up = False  # the agent computed longer than FREEZE_LIMIT_S: run on until it is done

    @property
    def freezes_for_compute(self) -> bool:
        """True when the room stops while the agent computes (fast mode with ``compute="fixed"``)."""
        return not self.paced and self.compute == "fixed"

    async def _wait_for_agent(self) -> None:
        """Fixed compute: hold the room (no sample passes) while the agent computes, up to FREEZE_LIMIT_S."""
        if not self.agent_busy():
            self._gave_up = False
            return
        if self._gave_up:
            return
        t0 = time.monotonic()
        while self.agent_busy() and not self._closed:
            if time.monotonic() - t0 > FREEZE_LIMIT_S:
                log.warning("the agent has computed for more than %.0f s; the room runs on", FREEZE_LIMIT_S)
                self._gave_up = True
                return
            await asyncio.sleep(0.001)

    async def blocks(self) -> AsyncIterator[DuplexBlock]:
        n = self.block_samples
        clock = self._clock or asyncio.get_running_loop().time
        while not self._closed:
            if self.freezes_for_compute:
                await self._wait_for_agent()
            start = self.room.position
            if self.duration_samples is not None and start >= self.duration_samples:
                return
            ref = self.playback.pull(n)
            mic, truth = self.room.process(ref)
            if self.paced or (self.compute == "real_time" and self.agent_busy()):
                if self._origin is None:
                    self._origin = (clock(), start)
                delay = self._origin[0] + (start + n - self._origin[1]) / SAMPLE_RATE - clock()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                self._origin = None
                await asyncio.sleep(0)
            yield DuplexBlock(mic, ref, start, truth=truth)

    async def close(self) -> None:
        self._closed = True


def _never() -> bool:
    return False
