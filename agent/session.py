"""The full-duplex session: one asyncio loop that listens, decides, and speaks at the same time.

Per duplex block from the audio backend (20 ms of microphone + what was played in that callback):

1. the worker thread runs the :class:`~agent.pipeline.ListeningPipeline` (echo chain → VAD →
   endpointer → ASR) on it — never the event loop, never the audio callback;
2. the :class:`~agent.turns.TurnTaking` state machine turns its events into actions;
3. actions run here: a barge-in stops playback at once (the next block fades out) and cancels the
   reply — or, with ``agent.backchannel_max_ms`` (the default), holds it: what was queued is kept, synthesis goes on
   into the reply's ``pending`` list, and when the user's speech ends within that long (a backchannel, a cough),
   the ASR heard no stop word (:func:`stopping_word`) and the short-word spotter (``agent.short_word_model``; the
   word lists when it is off) calls the run a backchannel or a noise, the reply resumes where it stopped
   (``short_run``, then ``playback_resumed``); an end of turn gets the final transcript and starts a reply
   task.

A reply task streams the responder's text, cuts it into sentences, synthesises each on the TTS
thread and queues it for playback, so the first sentence plays while the rest is made. In the
simulated room without pacing the session runs faster than real time. While the agent computes
(final transcript, responder, synthesis) the room either stops and each reply to a user turn starts
a fixed ``room.compute_latency_ms`` after the end-of-turn decision (``room.compute: fixed``, the
default: runs repeat exactly), or runs at real time (``real_time``: response latencies in samples
are what this machine would give on a device).

Every event goes to the listeners (terminal, event log, MQTT) as an :class:`~agent.events.Event`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.config import AgentConfig, build, to_dict
from agent.events import SAMPLE_RATE, Clock, Event, EventKind
from agent.pipeline import BlockResult, ListeningPipeline
from agent.responders import Responder, Turn
from agent.scripted_user import ScriptedUser
from agent.speech_out import SentenceSplitter, SpeechEngine
from agent.turns import Action, TurnTaking
from audio_io.backend import AudioBackend, RoomBackend
from audio_io.frames import DuplexBlock
from audio_io.playback import PlaybackFullError

log = logging.getLogger(__name__)

MAX_EVENTS_KEPT = 10_000  # events kept in memory for the summary (the log file keeps all)
MAX_HISTORY = 100  # exchanges kept for the responders (a long-running agent must not grow without bound)
END_GRACE_S = 1.5  # after the scripted user is done and the agent is quiet, the session ends
SCRIPTED_SESSION_CAP_S = 120.0  # a scripted session never runs longer than this (unless configured)
BLOCK_MS = 20.0  # one audio block, ms


@dataclass
class Reply:
    """One reply being made and played."""

    id: int
    user_text: str | None  # the turn it answers (None for a greeting or a say command)
    eot: Event | None = None  # the end of turn it answers (for the response latency)
    task: asyncio.Task | None = None
    sentences: list[str] = field(default_factory=list)
    synth_done: bool = False
    audio_started: bool = False
    cancelled: bool = False
    waiting_for_room: bool = False  # waiting on the room's clock: the playback queue is full, or ready_at is ahead
    held: bool = False  # stopped by a barge-in that may still turn out to be a backchannel
    pending: list[np.ndarray] = field(default_factory=list)  # audio synthesised while held (played on resume)
    ready_at: int | None = None  # fixed compute: the first audio is not queued before this sample


@dataclass
class SessionSummary:
    """What happened, for the terminal, the benchmark and tests. Latencies in ms."""

    duration_s: float = 0.0
    turns: list[dict[str, Any]] = field(default_factory=list)  # {"user": ..., "agent": ...}
    barge_ins: int = 0
    barge_in_latency_ms: list[float] = field(default_factory=list)  # true onset (or VAD onset) → playback stopped
    resumed: int = 0  # barge-ins that turned out to be backchannels: the reply went on
    response_latency_ms: list[float] = field(default_factory=list)  # end-of-turn decision → first reply audio
    compute_ms: list[float] = field(default_factory=list)  # wall clock of the same, when the room charges a fixed latency
    end_of_turn_latency_ms: list[float] = field(default_factory=list)  # silence start → end-of-turn decision
    errors: list[str] = field(default_factory=list)
    stop_reason: str = ""
    worker_load: float = 0.0  # listening-pipeline time per second of audio (share of one core at real time)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class Session:
    """See the module doc. Build with :func:`agent.runner.build_session` or directly with its parts."""

    def __init__(self, config: AgentConfig, backend: AudioBackend, pipeline: ListeningPipeline,
                 engine: SpeechEngine, responder: Responder, user: ScriptedUser | None = None) -> None:
        self.config = config
        self.backend = backend
        self.pipeline = pipeline
        self.engine = engine
        self.responder = responder
        self.user = user
        self.turns = TurnTaking(hold_barge_ins=config.agent.backchannel_max_ms > 0)
        self._backchannel_samples = int(config.agent.backchannel_max_ms * SAMPLE_RATE / 1000)
        self._speech_onset = 0  # sample of the last speech start
        self._speech_end = 0  # sample of the last speech end
        self._backchannel = False  # the last speech resumed a held reply (its end of turn is no turn)
        self._stopped_at = 0  # sample where playback was last stopped
        self.clock = Clock()
        self.listeners: list[Callable[[Event], None]] = []
        self.block_listeners: list[Callable[[DuplexBlock, BlockResult], None]] = []  # per block (traces, plots)
        self.events: deque[Event] = deque(maxlen=MAX_EVENTS_KEPT)
        self.summary = SessionSummary()
        self.history: deque[tuple[str, str]] = deque(maxlen=MAX_HISTORY)  # (user, agent) exchanges, for responders
        self.position = 0  # first sample of the next block (mic time)
        self.partial = ""
        self.last_block: BlockResult | None = None
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="listen")
        self._block_done = asyncio.Event()  # set after every block (the speaker pulled from the playback queue)
        self._tts = ThreadPoolExecutor(1, thread_name_prefix="tts")
        self._reply: Reply | None = None
        self._pending_stop: tuple[int, int] | None = None  # (VAD onset, decision sample) of a barge-in
        self._last_eot: Event | None = None
        self._stop_reason = ""
        self._quiet_since: int | None = None
        self._state_seen = self.turns.state
        self.muted = False  # the microphone is replaced by silence
        self.listening = True  # VAD events start turns
        self.load = 0.0  # smoothed worker time per block / block duration
        self._fixed_compute = isinstance(backend, RoomBackend) and backend.freezes_for_compute
        if isinstance(backend, RoomBackend):
            backend.agent_busy = self._computing
        self._busy_s = 0.0  # worker time over the whole session
        limit = config.agent.max_session_s
        if limit is None and user is not None:
            limit = SCRIPTED_SESSION_CAP_S
        self.max_samples = None if limit is None else int(limit * SAMPLE_RATE)

    # --- events -------------------------------------------------------------------------------------

    def emit(self, kind: EventKind, sample: int | None = None, **data: Any) -> Event:
        event = Event(kind, self.position if sample is None else int(sample), self.clock.ms(), data)
        self.events.append(event)
        if self.user is not None:
            self.user.on_event(event)
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not stop the agent
                log.exception("event listener %r failed on %s", listener, kind)
        return event

    @property
    def state(self) -> str:
        return self.turns.state

    def request_stop(self, reason: str = "stopped") -> None:
        """Ask the session to end at the next block (safe from a signal handler on the loop)."""
        if not self._stop_reason:
            self._stop_reason = reason

    def say(self, text: str) -> int | None:
        """Speak ``text`` now (from MQTT or code): the new reply's id, or None when refused (the user is speaking
        or the text is empty)."""
        actions = self.turns.say(text)
        if not actions:
            return None
        self._apply_now(actions)
        self._sync_state()
        return actions[-1].reply_id

    @property
    def is_replying(self) -> bool:
        """A reply is being made or played."""
        return self._reply is not None or self.backend.is_playing

    def update_setting(self, key: str, value: Any) -> None:
        """Change a run-time setting (``tts.*`` voice controls, ``vad.*`` thresholds); ConfigError when invalid."""
        section_name, _, name = key.partition(".")
        section = getattr(self.config, section_name, None)
        if section_name not in ("tts", "vad") or section is None or not hasattr(section, name):
            raise ValueError(f"{key} cannot be changed at run time")
        new = build(type(section), {**to_dict(section), name: value})  # validated like the config file
        self.config = dataclasses.replace(self.config, **{section_name: new})
        if section_name == "vad":
            self.pipeline.endpointer.config = new  # read on every frame by the worker
        else:
            self.engine.apply(new)

    def stop_speaking(self) -> None:
        """Stop playback and the reply in progress; the agent listens again."""
        self._apply_now(self.turns.stop())
        self._sync_state()

    def set_listening(self, on: bool) -> None:
        """Switch turn-taking on VAD events on or off (off drops a user turn in progress)."""
        self.listening = bool(on)
        if not self.listening:
            actions = self.turns.abandon_turn()
            if actions:
                self._worker.submit(self.pipeline.cancel_utterance)
                self.partial = ""
            self._sync_state()

    def _sync_state(self) -> None:
        if self.turns.state != self._state_seen:
            previous, self._state_seen = self._state_seen, self.turns.state
            self.emit("state", state=self._state_seen, previous=previous)

    # --- the loop -------------------------------------------------------------------------------------

    async def run(self) -> SessionSummary:
        """Run until the backend ends, ``max_session_s``, the scripted user is done, or :meth:`request_stop`."""
        loop = asyncio.get_running_loop()
        self.emit("session_start", backend=self.backend.kind, tts=self.engine.name, responder=self.responder.name,
                  models=self.pipeline.model_paths)
        if self.config.agent.greeting.strip():
            self.say(self.config.agent.greeting)
        try:
            async with self.backend:
                async for block in self.backend.blocks():
                    if self._pending_stop is not None:
                        self._playback_stopped(block.start_sample)
                    if self.muted:
                        block = DuplexBlock(np.zeros_like(block.mic), block.ref, block.start_sample)
                    t0 = time.perf_counter()
                    result = await loop.run_in_executor(self._worker, self.pipeline.process, block)
                    busy_s = time.perf_counter() - t0
                    self._busy_s += busy_s
                    self.load = 0.98 * self.load + 0.02 * busy_s * SAMPLE_RATE / block.num_samples
                    self.position = block.start_sample + block.num_samples
                    self.last_block = result
                    for block_listener in self.block_listeners:
                        block_listener(block, result)
                    if self.user is not None:
                        for placed in self.user.poll(self.position):
                            self.emit("user_said", placed.onset, text=placed.line.text)
                    for vad_event in result.events if self.listening else ():
                        await self._on_vad_event(vad_event.kind, vad_event.sample, vad_event.decided_at)
                    if result.partial is not None and self.state == "user_speaking":
                        self.partial = result.partial
                        self.emit("partial", text=result.partial)
                    self._check_reply_done()
                    self._sync_state()
                    self._block_done.set()
                    if self._should_end():
                        break
        finally:
            await self._shutdown()
        self.summary.duration_s = round(self.position / SAMPLE_RATE, 3)
        self.summary.worker_load = round(self._busy_s / max(self.position / SAMPLE_RATE, 1e-9), 4)
        self.summary.stop_reason = self._stop_reason or "audio ended"
        self.emit("session_end", reason=self.summary.stop_reason)
        return self.summary

    def _should_end(self) -> bool:
        if self._stop_reason:
            return True
        if self.max_samples is not None and self.position >= self.max_samples:
            self._stop_reason = "max_session_s reached"
            return True
        if self.user is not None and self.user.finished(self.position):
            quiet = self.state == "listening" and self._reply is None and not self.backend.is_playing
            if not quiet:
                self._quiet_since = None
            elif self._quiet_since is None:
                self._quiet_since = self.position
            elif self.position - self._quiet_since >= END_GRACE_S * SAMPLE_RATE:
                self._stop_reason = "script finished"
                return True
        return False

    def _computing(self) -> bool:
        """The agent is computing a reply (responder or synthesis) and does not wait on the room's clock."""
        reply = self._reply
        return reply is not None and not reply.synth_done and not reply.waiting_for_room

    async def _shutdown(self) -> None:
        if self._reply is not None and self._reply.task is not None:
            self._reply.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reply.task
        self._worker.shutdown(wait=False, cancel_futures=True)
        self._tts.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            await self.responder.aclose()

    # --- listening events -------------------------------------------------------------------------------

    async def _on_vad_event(self, kind: str, sample: int, decided_at: int) -> None:
        if kind == "speech_start":
            self.emit("speech_start", sample, decided_at=decided_at)
            was = self.state
            actions = self.turns.speech_start()
            if self.state == "user_speaking" and was != "user_speaking":
                self._speech_onset = sample
                self._backchannel = False
            if was == "speaking" and any(a.kind in ("stop_playback", "hold_playback") for a in actions):
                self._pending_stop = (sample, decided_at)
            await self._apply(actions, onset=sample)
        elif kind == "barge_in":
            self.emit("barge_in", sample, decided_at=decided_at,
                      decision_latency_ms=round((decided_at - sample) * 1000 / SAMPLE_RATE, 1))
        elif kind == "speech_end":
            self.emit("speech_end", sample)
            self._speech_end = sample
            await self._apply(self.turns.speech_end(sample - self._speech_onset <= self._backchannel_samples))
        elif kind == "end_of_turn":
            if self._backchannel:  # the speech was a backchannel and the reply went on: no turn ended
                return
            eot = self.emit("end_of_turn", sample, decided_at=decided_at,
                            latency_ms=round((decided_at - sample) * 1000 / SAMPLE_RATE, 1))
            self.summary.end_of_turn_latency_ms.append(eot.data["latency_ms"])
            self._last_eot = eot
            await self._apply(self.turns.end_of_turn())

    def _playback_stopped(self, sample: int) -> None:
        vad_onset, decided = self._pending_stop or (sample, sample)
        self._pending_stop = None
        self._stopped_at = sample
        true_onset = self.user.onset_before(decided) if self.user is not None else None
        onset = true_onset if true_onset is not None else vad_onset
        latency = round((sample - onset) * 1000 / SAMPLE_RATE, 1)
        self.summary.barge_ins += 1
        self.summary.barge_in_latency_ms.append(latency)
        self.emit("playback_stopped", sample, barge_in_latency_ms=latency,
                  onset="true" if true_onset is not None else "vad", onset_sample=onset)

    # --- actions ------------------------------------------------------------------------------------------

    def _apply_now(self, actions: list[Action]) -> None:
        """Actions that need no worker call (say)."""
        for a in actions:
            if a.kind == "stop_playback":
                self.backend.stop_playback()
            elif a.kind == "hold_playback":
                self.backend.stop_playback(hold=True)
                if self._reply is not None:
                    self._reply.held = True
            elif a.kind == "resume_reply":
                self._resume_reply(a.text)
            elif a.kind == "cancel_reply":
                self._cancel_reply()
            elif a.kind in ("respond", "speak"):
                self._start_reply(a)

    async def _apply(self, actions: list[Action], onset: int = 0) -> None:
        loop = asyncio.get_running_loop()
        for a in actions:
            if a.kind == "start_asr":
                self.partial = ""
                partial = await loop.run_in_executor(self._worker, self.pipeline.start_utterance, onset)
                if partial:
                    self.partial = partial
                    self.emit("partial", text=partial)
            elif a.kind == "cancel_asr":
                await loop.run_in_executor(self._worker, self.pipeline.cancel_utterance)
            elif a.kind == "check_backchannel":
                text = await loop.run_in_executor(self._worker, self.pipeline.peek_utterance)
                cfg = self.config.agent
                try:
                    p_ride = await loop.run_in_executor(self._worker, self.pipeline.ride_probability,
                                                        self._speech_onset)
                except (ValueError, RuntimeError) as exc:  # a spotter failure: judge by the word lists instead
                    log.warning("short-word spotter: %s", exc)
                    self.emit("error", where="short_word_spotter", message=str(exc))
                    p_ride = None
                if p_ride is None:  # no spotter: the ASR's words against the two lists
                    stops = bool(stopping_word(text, cfg.stop_words, cfg.backchannel_words))
                else:  # a stop word the ASR heard still stops; otherwise the spotter decides
                    stops = bool(stopping_word(text, cfg.stop_words)) or p_ride < cfg.short_word_threshold
                self.emit("short_run", heard=text, p_ride=None if p_ride is None else round(p_ride, 4), stops=stops)
                if stops:
                    self.emit("partial", text=text)
                await self._apply(self.turns.backchannel(stop_word=stops, heard=text))
            elif a.kind == "finish_asr":
                text = await loop.run_in_executor(self._worker, self.pipeline.finish_utterance)
                self.partial = ""
                self.emit("final", text=text)
                await self._apply(self.turns.final(text))
            else:
                self._apply_now([a])

    # --- replies ------------------------------------------------------------------------------------------

    def _start_reply(self, action: Action) -> None:
        user_text = action.text if action.kind == "respond" else None
        reply = Reply(action.reply_id, user_text, eot=self._last_eot if user_text is not None else None)
        if self._fixed_compute:  # from the end-of-turn decision, or from now for a greeting or a say command
            asked_at = reply.eot.data["decided_at"] if reply.eot is not None else self.position
            reply.ready_at = asked_at + round(self.config.room.compute_latency_ms * SAMPLE_RATE / 1000)
        if user_text is not None:
            try:
                source = self.responder.reply(Turn(user_text, tuple(self.history), action.continues))
            except Exception as exc:  # a responder that fails before its first piece
                source = _failing(exc)
        else:
            source = _once(action.text)
        reply.task = asyncio.create_task(self._produce(reply, source), name=f"reply-{reply.id}")
        self._reply = reply

    def _resume_reply(self, heard: str) -> None:
        """A held reply goes on: what the stop kept, then what was synthesised meanwhile, faded in; ``heard``: the
        ASR's words of the short run (reported in the event)."""
        reply = self._reply
        if reply is None or not reply.held:
            return
        held = self.backend.take_held_playback()
        pieces = ([held] if held is not None and held.size else []) + reply.pending
        reply.held, reply.pending = False, []
        fade = int(self.config.audio.stop_fade_ms * SAMPLE_RATE / 1000)
        if pieces and fade:
            first = pieces[0] = pieces[0].astype(np.float32, copy=True)
            n = min(fade, first.shape[0])
            first[:n] *= np.linspace(0.0, 1.0, n + 2, dtype=np.float32)[1:-1]
        for piece in pieces:
            try:
                self.backend.play(piece)
            except PlaybackFullError as exc:  # the queue held it a moment ago; anything else queued meanwhile
                self.summary.errors.append(f"playback: {exc}")
                self.emit("error", where="playback", message=str(exc))
                break
        self.summary.resumed += 1
        self._backchannel = True
        self.emit("playback_resumed", reply_id=reply.id,
                  paused_ms=round((self.position - self._stopped_at) * 1000 / SAMPLE_RATE, 1),
                  speech_ms=round((self._speech_end - self._speech_onset) * 1000 / SAMPLE_RATE, 1),
                  heard=heard)

    def _cancel_reply(self) -> None:
        reply, self._reply = self._reply, None
        if reply is None:
            return
        if reply.held:
            self.backend.take_held_playback()  # drop what the stop kept
        reply.cancelled = True
        if reply.task is not None:
            reply.task.cancel()
        self.emit("reply_done", cancelled=True, reply_id=reply.id, spoken=" ".join(reply.sentences))

    async def _produce(self, reply: Reply, source: AsyncIterator[str]) -> None:
        splitter = SentenceSplitter(self.config.tts.max_text_chars)
        try:
            try:
                async for piece in source:
                    for sentence in splitter.push(piece):
                        await self._speak(reply, sentence)
                for sentence in splitter.flush():
                    await self._speak(reply, sentence)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                log.warning("responder %s failed: %s", self.responder.name, message)
                self.summary.errors.append(f"responder: {message}")
                self.emit("error", where="responder", message=message)
                await self._speak(reply, self.config.agent.apology)
        finally:
            reply.synth_done = True
            with contextlib.suppress(Exception):
                await source.aclose()  # type: ignore[attr-defined]

    async def _speak(self, reply: Reply, sentence: str) -> None:
        loop = asyncio.get_running_loop()
        chunks = self.engine.stream(sentence)
        said = False
        while True:
            try:
                chunk = await loop.run_in_executor(self._tts, next, chunks, None)
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                self.summary.errors.append(f"tts: {message}")
                self.emit("error", where="tts", message=message)
                return
            if chunk is None or reply.cancelled:
                return
            if not said:
                said = True
                reply.sentences.append(sentence)
                self.emit("reply_text", text=sentence, reply_id=reply.id)
            if not reply.audio_started and not await self._wait_for_sample(reply, reply.ready_at):
                return
            if not await self._play_when_room(reply, chunk):
                return
            if not reply.audio_started:
                reply.audio_started = True
                data: dict[str, Any] = {"reply_id": reply.id, "text": sentence}
                if reply.eot is not None:
                    # Wall clock from the end-of-turn decision to the audio being queued, plus one block until
                    # the backend pulls it: what a device gives, also when the room runs faster than real time.
                    wall = round(self.clock.ms() - reply.eot.wall_ms + BLOCK_MS, 1)
                    samples = self.position - reply.eot.data["decided_at"]
                    data.update(response_latency_samples=samples)
                    if self._fixed_compute:  # the room stood still while the agent computed: its latency is charged
                        latency = round((samples + self.backend.block_samples) * 1000 / SAMPLE_RATE, 1)
                        data.update(compute_ms=wall)
                        self.summary.compute_ms.append(wall)
                    else:
                        latency = wall
                    data.update(response_latency_ms=latency)
                    self.summary.response_latency_ms.append(latency)
                self.emit("reply_audio", **data)
                self.turns.reply_audio_started(reply.id)
                self._sync_state()

    async def _wait_for_sample(self, reply: Reply, sample: int | None) -> bool:
        """Wait (on the room's clock, block by block) until the next block starts at or after ``sample``
        (fixed compute: the reply's charged latency). False when the reply was cancelled meanwhile."""
        try:
            while sample is not None and self.position < sample and not reply.cancelled:
                reply.waiting_for_room = True
                self._block_done.clear()
                await self._block_done.wait()
        finally:
            reply.waiting_for_room = False
        return not reply.cancelled

    async def _play_when_room(self, reply: Reply, chunk: np.ndarray) -> bool:
        """Queue ``chunk``; while the playback queue is full (synthesis runs ahead of the speaker in a long reply)
        try again after each audio block. False when the reply was cancelled meanwhile or the chunk can never fit."""
        try:
            while True:
                if reply.held:  # a barge-in holds the reply: keep the audio for a resume
                    reply.pending.append(chunk)
                    return True
                try:
                    self.backend.play(chunk)
                    return True
                except PlaybackFullError as exc:
                    if not exc.fits:
                        self.summary.errors.append(f"playback: {exc}")
                        self.emit("error", where="playback", message=str(exc))
                        return False
                reply.waiting_for_room = True
                self._block_done.clear()
                await self._block_done.wait()
                if reply.cancelled:
                    return False
        finally:
            reply.waiting_for_room = False

    def _check_reply_done(self) -> None:
        reply = self._reply
        if reply is None or reply.held or not reply.synth_done or self.backend.is_playing:
            return
        self._reply = None
        spoken = " ".join(reply.sentences)
        self.emit("reply_done", cancelled=False, reply_id=reply.id, spoken=spoken)
        self.turns.reply_finished(reply.id)
        if reply.user_text is not None:
            self.history.append((reply.user_text, spoken))
            self.summary.turns.append({"user": reply.user_text, "agent": spoken})


def stopping_word(text: str, stop_words: tuple[str, ...], backchannel_words: tuple[str, ...] = ()) -> str:
    """The word of a short barge-in's ``text`` that makes the agent stop, or '' when the reply may resume.

    The first of ``stop_words`` that is a whole word of ``text``; else, when ``backchannel_words`` is not empty, the
    first word of ``text`` that is not one of them. Case and punctuation are ignored; an empty ``text`` gives ''.
    """
    words = [w for w in (w.strip(".,;:!?।॥'\"()-").casefold() for w in text.split()) if w]
    stop = next((w for w in stop_words if w.casefold() in words), "")
    if stop or not backchannel_words:
        return stop
    allowed = {w.casefold() for w in backchannel_words}
    return next((w for w in words if w not in allowed), "")


async def _once(text: str) -> AsyncIterator[str]:
    yield text


async def _failing(exc: Exception) -> AsyncIterator[str]:
    raise exc
    yield ""  # pragma: no cover - makes this an async generator

