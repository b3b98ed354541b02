"""The playback queue shared by every backend: bounded, with an immediate stop.

The agent writes audio (16 kHz float32) with :meth:`PlaybackBuffer.write`; the backend pulls one
block per callback with :meth:`PlaybackBuffer.pull`, which returns exactly the samples that go to
the speaker (zeros when idle) — those samples are the echo reference. :meth:`stop` flushes the
queue so that the *next* pulled block already fades out within ``fade_samples`` and is silent after;
``stop(hold=True)`` keeps what was still queued instead of dropping it, for :meth:`take_held` (the agent pauses
a reply at a barge-in and may resume it when the user only said a backchannel).
"""

from __future__ import annotations

import numpy as np

from audio_io.frames import as_mono_float32
from audio_io.ring import RingBuffer


class PlaybackFullError(RuntimeError):
    """More audio was queued than the playback buffer holds (``audio.playback_buffer_s``); ``fits``: it would fit
    once the queue has played out (so the caller may wait), False when it is larger than the whole buffer."""

    def __init__(self, message: str, fits: bool = False) -> None:
        super().__init__(message)
        self.fits = fits


class PlaybackBuffer:
    """Bounded queue of samples to play, pulled block by block by the audio backend."""

    def __init__(self, capacity_samples: int, fade_samples: int = 80) -> None:
        self._ring = RingBuffer(capacity_samples)
        self.fade_samples = int(fade_samples)
        self._fade = np.linspace(1.0, 0.0, self.fade_samples + 2, dtype=np.float32)[1:-1]
        self._stop_requested = 0  # incremented by stop() (producer side)
        self._stop_handled = 0  # consumer side
        self._hold = False  # the requested stop keeps the rest of the queue (producer side sets it with the request)
        self._held: np.ndarray | None = None  # that rest, once the consumer handled the stop
        self.played_samples = 0  # non-silent samples handed to the speaker
        self.underruns = 0  # pulls that found some but not enough audio

    @property
    def queued_samples(self) -> int:
        return len(self._ring)

    @property
    def is_playing(self) -> bool:
        return len(self._ring) > 0 and self._stop_requested == self._stop_handled

    def write(self, samples: np.ndarray) -> None:
        """Queue ``samples`` (mono float32 at the backend's internal rate); refuse what does not fit."""
        x = as_mono_float32(samples, "playback audio")
        if x.shape[0] > self._ring.free:
            raise PlaybackFullError(
                f"playback queue full: {x.shape[0]} samples offered, {self._ring.free} free "
                f"of {self._ring.capacity} (raise audio.playback_buffer_s)", fits=x.shape[0] <= self._ring.capacity
            )
        self._ring.write(x)

    def stop(self, hold: bool = False) -> None:
        """Stop at once: the next pulled block fades out over ``fade_samples`` and the rest is dropped, or with
        ``hold`` kept for :meth:`take_held`."""
        self._held = None
        self._hold = bool(hold)
        self._stop_requested += 1

    def take_held(self) -> np.ndarray | None:
        """What a ``stop(hold=True)`` kept (the samples after the faded ones; None when nothing was kept or the stop
        has not been handled yet); the buffer forgets it."""
        held, self._held = self._held, None
        return held

    def pull_into(self, out: np.ndarray) -> None:
        """Fill ``out`` with the next samples to play (zeros where nothing is queued)."""
        n_out = out.shape[0]
        if self._stop_requested != self._stop_handled:
            self._stop_handled = self._stop_requested
            n = self._ring.read_into(out[: self.fade_samples]) if self.fade_samples else 0
            out[:n] *= self._fade[:n]
            out[n:] = 0.0
            if self._hold:
                rest = np.empty(len(self._ring), dtype=np.float32)
                self._ring.read_into(rest)
                self._held = rest
            else:
                self._ring.discard()
            self.played_samples += n
            return
        n = self._ring.read_into(out)
        if 0 < n < n_out:
            self.underruns += 1
        out[n:] = 0.0
        self.played_samples += n

    def pull(self, n: int) -> np.ndarray:
        """Return the next ``n`` samples to play (a new array; zeros where nothing is queued)."""
        out = np.empty(n, dtype=np.float32)
        self.pull_into(out)
        return out
