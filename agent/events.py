"""Typed events of a session and the JSON-lines event log.

Every event carries where it happened on the audio timeline (``sample``: 16 kHz samples from the
session start, microphone time) and when the program saw it (``wall_ms``: milliseconds since the
session started). Latency events add their measurements in both units.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

SAMPLE_RATE = 16000

log = logging.getLogger(__name__)

EventKind = Literal[
    "session_start",  # models loaded, audio running (data: backend, tts, responder)
    "state",  # turn-taking state changed (data: state, previous)
    "speech_start",  # the VAD declared user speech (sample: its first sample)
    "speech_end",
    "barge_in",  # speech start while the agent talks (data: latency measured when playback stopped)
    "playback_stopped",  # playback cut at a barge-in (data: barge_in_latency_ms when the onset is known)
    "short_run",  # a short barge-in was judged (data: heard, p_ride of the spotter or null, stops)
    "playback_resumed",  # a held reply goes on after a backchannel (data: reply_id, paused_ms, speech_ms, heard)
    "end_of_turn",  # sample: where the user's silence began
    "partial",  # data: text
    "final",  # data: text (the turn's transcript)
    "reply_text",  # data: text (a sentence of the reply, as it goes to TTS)
    "reply_audio",  # the reply started playing (data: text of its first sentence, response_latency_ms)
    "reply_done",  # the reply finished playing (or was cancelled: data.cancelled)
    "user_said",  # the scripted user started a line (data: text, onset sample)
    "error",  # something failed and was handled (data: where, message)
    "session_end",
]


@dataclass(frozen=True)
class Event:
    kind: EventKind
    sample: int  # 16 kHz samples from the session start (microphone time)
    wall_ms: float  # ms since the session started, when the event was made
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def time_s(self) -> float:
        return self.sample / SAMPLE_RATE

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "sample": self.sample, "time_s": round(self.time_s, 3),
                "wall_ms": round(self.wall_ms, 1), **self.data}


class Clock:
    """Wall-clock milliseconds since construction (monotonic)."""

    def __init__(self) -> None:
        self._t0 = time.perf_counter()

    def ms(self) -> float:
        return (time.perf_counter() - self._t0) * 1000.0


class EventLog:
    """Appends events as JSON lines (one object per line, UTF-8); ``None`` path = keep nothing on disk.

    Write errors are logged once and the log is switched off: a full disk never stops the agent.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else None
        self._file: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")

    def write(self, event: Event) -> None:
        if self._file is None:
            return
        try:
            self._file.write(json.dumps(event.as_dict(), ensure_ascii=False) + "\n")
            self._file.flush()
        except OSError as exc:
            log.error("event log %s: %s; event logging is off from now on", self.path, exc)
            self.close()

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None


def read_event_log(path: str | Path) -> list[dict[str, Any]]:
    """The events of a JSON-lines log, as dicts (lines that are not JSON objects are skipped)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out
