"""Building a session from the config and running it with a terminal view and clean shutdown.

``build_session(config)`` picks the backend (sound card, simulated room with its scripted user, or
WAV files), loads the models (a missing or corrupt file is a :class:`~agent.pipeline.ModelLoadError`
that names it and says how to get it), the speech engine and the responder. ``run_session`` runs it
with Ctrl-C handling: the first Ctrl-C ends the session at the next block (well within a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from agent.backends import BackendChoice, choose_backend
from agent.config import AgentConfig
from agent.events import SAMPLE_RATE, Event, EventLog
from agent.pipeline import ListeningPipeline
from agent.responders import build_responder
from agent.scripted_user import ScriptedUser
from agent.session import Session, SessionSummary
from agent.speech_out import build_engine
from audio_io.backend import AudioBackend, RoomBackend, WavBackend
from audio_io.room import SimulatedRoom

log = logging.getLogger(__name__)


def build_backend(config: AgentConfig, choice: BackendChoice, mic_wav: Path | None = None,
                  played_out: Path | None = None) -> tuple[AudioBackend, ScriptedUser | None]:
    """The audio backend (and, in the simulated room, the scripted user when configured)."""
    audio = config.audio
    common = {"playback_buffer_s": audio.playback_buffer_s, "stop_fade_ms": audio.stop_fade_ms}
    if choice.kind == "device":
        from audio_io.device import DeviceBackend

        return DeviceBackend(audio), None
    if choice.kind == "wav":
        if mic_wav is None:
            raise ValueError("audio.backend=wav needs a microphone file: python -m agent run --mic IN.wav")
        return WavBackend(mic_wav, played_out=played_out, **common), None
    room = SimulatedRoom(config.room)
    backend = RoomBackend(room, duration_s=config.agent.max_session_s, paced=config.room.paced,
                          compute=config.room.compute, **common)
    user = ScriptedUser(room) if config.agent.scripted_user else None
    return backend, user


def build_session(config: AgentConfig, choice: BackendChoice | None = None, mic_wav: Path | None = None,
                  played_out: Path | None = None) -> Session:
    """A ready session (models loaded); raises ModelLoadError, VoiceError, ResponderError, ValueError."""
    choice = choice or choose_backend(config)
    responder = build_responder(config)
    engine = build_engine(config.tts)
    pipeline = ListeningPipeline.from_config(config)
    backend, user = build_backend(config, choice, mic_wav, played_out)
    return Session(config, backend, pipeline, engine, responder, user)


def describe(event: Event) -> str | None:
    """One terminal line for the events a person wants to see (None for the rest)."""
    d, t = event.data, f"[{event.time_s:7.2f} s]"
    if event.kind == "session_start":
        return f"{t} session: {d['backend']}, voice {d['tts']}, responder {d['responder']}, masks {d['models']['res']}"
    if event.kind == "user_said":
        return f"{t} (scripted user says: {d['text']})"
    if event.kind == "playback_stopped":
        return f"{t} barge-in: playback stopped {d['barge_in_latency_ms']:.0f} ms after the user started speaking"
    if event.kind == "short_run":
        judged = "" if d["p_ride"] is None else f", spotter p_ride {d['p_ride']:.2f}"
        return (f"{t} short barge-in: heard {d['heard']!r}{judged}: "
                + ("the agent stops" if d["stops"] else "a backchannel, the reply goes on"))
    if event.kind == "playback_resumed":
        return f"{t} backchannel ({d['speech_ms']:.0f} ms): the reply resumes after {d['paused_ms']:.0f} ms"
    if event.kind == "end_of_turn":
        return f"{t} end of turn ({d['latency_ms']:.0f} ms after the user stopped)"
    if event.kind == "final":
        return f"{t} user: {d['text'] or '(nothing recognised)'}"
    if event.kind == "reply_text":
        return f"{t} agent: {d['text']}"
    if event.kind == "reply_audio" and "response_latency_ms" in d:
        return f"{t} reply audio {d['response_latency_ms']:.0f} ms after the end of turn"
    if event.kind == "error":
        return f"{t} error in {d['where']}: {d['message']}"
    if event.kind == "session_end":
        return f"{t} session ended: {d['reason']}"
    return None


class StatusLine:
    """A live one-line status on a terminal (state, time, ERLE, delay, partial text), redrawn every
    ``period_s``; does nothing when the stream is not a terminal."""

    def __init__(self, session: Session, stream: TextIO = sys.stderr, period_s: float = 0.1) -> None:
        self.session = session
        self.stream = stream
        self.period_s = period_s
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())

    def text(self) -> str:
        s = self.session
        stats = s.last_block.stats if s.last_block is not None else None
        erle = f"ERLE {stats.erle_db:4.1f} dB" if stats is not None else "ERLE    ? dB"
        delay = (f"delay {stats.delay_samples * 1000 / SAMPLE_RATE:3.0f} ms"
                 if stats is not None and stats.delay_samples is not None else "delay   ? ms")
        return f"{s.state:<13} {s.position / SAMPLE_RATE:7.1f} s | {erle} | {delay} | {s.partial}"

    def _write(self, text: str) -> None:
        width = shutil.get_terminal_size((100, 20)).columns - 1
        self.stream.write("\r" + text[:width].ljust(width) + ("\r" if not text else ""))
        self.stream.flush()

    def clear(self) -> None:
        if self.enabled:
            self._write("")

    async def run(self) -> None:
        while self.enabled:
            self._write(self.text())
            await asyncio.sleep(self.period_s)


async def run_session(session: Session, print_line: Callable[[str], None] | None = print,
                      status: bool = True) -> SessionSummary:
    """Run with terminal output, the event log and Ctrl-C handling; returns the summary."""
    config = session.config
    event_log = EventLog(config.agent.event_log)
    status_line = StatusLine(session) if status and config.agent.status_line else None

    def on_event(event: Event) -> None:
        event_log.write(event)
        text = describe(event)
        if text and print_line is not None:
            if status_line is not None:
                status_line.clear()
            print_line(text)

    session.listeners.append(on_event)
    loop = asyncio.get_running_loop()
    installed = False
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, session.request_stop, "Ctrl-C")
        installed = True
    ticker = asyncio.create_task(status_line.run()) if status_line is not None and status_line.enabled else None
    bridge = bridge_task = None
    if config.mqtt.enabled:
        from agent.mqtt import MqttBridge

        bridge = MqttBridge(config, session)
        bridge_task = asyncio.create_task(bridge.run(), name="mqtt")
    try:
        return await session.run()
    finally:
        if bridge is not None and bridge_task is not None:
            await bridge.close()
            bridge_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bridge_task
        if ticker is not None:
            ticker.cancel()
        if status_line is not None:
            status_line.clear()
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
        event_log.close()
