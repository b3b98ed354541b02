"""Running a scenario: the real session in the simulated room, then its expectations checked.

``run_scenario(scenario, models)`` builds the same session as ``python -m agent`` (echo chain, VAD,
ASR, responder, espeak-ng voice for determinism unless a VITS voice is configured) around a room made
from the scenario, runs it faster than real time, records per-block traces for the report, and
returns a :class:`ScenarioResult` with the metrics and one verdict per expectation.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.config import AgentConfig, load_config
from agent.pipeline import ListeningPipeline
from agent.responders import build_responder
from agent.scripted_user import ScriptedUser, UserLine
from agent.session import Session
from agent.simulate.scenario import Scenario
from agent.speech_out import build_engine
from audio_io.backend import RoomBackend
from audio_io.room import SimulatedRoom
from audio_io.speech_synth import SynthVoice
from models.asr.tokens import normalize_transcript

SR = 16000
MISS_GRACE_S = 1.0  # a barge-in this long after the line's end still counts for it
PREMATURE_SLACK_S = 0.2  # an end of turn is premature when the line still has speech this long after it


@dataclass
class Traces:
    """Per-block traces for the report (20 ms resolution) and the audio for spectrograms."""

    p_speech: list[float] = field(default_factory=list)
    ref_rms: list[float] = field(default_factory=list)
    near_rms: list[float] = field(default_factory=list)
    mic: list[np.ndarray] = field(default_factory=list)
    cleaned: list[np.ndarray] = field(default_factory=list)

    def on_block(self, block, result) -> None:  # noqa: ANN001 - DuplexBlock, BlockResult
        self.p_speech.append(result.p_speech)
        self.ref_rms.append(float(np.sqrt(np.mean(block.ref.astype(np.float64) ** 2))))
        near = block.truth.get("near")
        self.near_rms.append(float(np.sqrt(np.mean(near.astype(np.float64) ** 2))) if near is not None else 0.0)
        self.mic.append(block.mic)
        if result.audio is not None:
            self.cleaned.append(result.audio)


@dataclass
class ScenarioResult:
    scenario: Scenario
    passed: bool
    checks: list[dict[str, Any]]
    metrics: dict[str, Any]
    events: list[dict[str, Any]]
    traces: Traces

    def as_json(self) -> dict[str, Any]:
        return {"name": self.scenario.name, "description": self.scenario.description, "passed": self.passed,
                "checks": self.checks, "metrics": self.metrics}


def agent_config(scenario: Scenario, base: AgentConfig | None = None) -> AgentConfig:
    base = base or load_config()
    greeting = scenario.agent.full_greeting
    agent = dataclasses.replace(base.agent, greeting=greeting, responder=scenario.agent.responder,
                                rules_file=scenario.agent.rules_file, scripted_user=True,
                                max_session_s=scenario.duration_s, event_log=None, status_line=False)
    tts = dataclasses.replace(base.tts, max_text_chars=max(base.tts.max_text_chars, len(greeting)))
    return dataclasses.replace(base, room=scenario.room, agent=agent, tts=tts)


def user_lines(scenario: Scenario) -> tuple[UserLine, ...]:
    return tuple(UserLine(u.say, u.cue, u.after_s, SynthVoice("espeak-ng", u.voice, u.voice.split("+")[0][:2]),
                          u.gain_db) for u in scenario.users)


def cough(seed: int = 0, seconds: float = 0.35) -> np.ndarray:
    """A cough-like burst: noise through a broad resonance (400-3000 Hz) with a fast attack and decay."""
    import scipy.signal

    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    sos = scipy.signal.butter(2, [400, 3000], btype="bandpass", fs=SR, output="sos")
    x = scipy.signal.sosfilt(sos, rng.standard_normal(n))
    t = np.arange(n) / SR
    envelope = (1 - np.exp(-t / 0.01)) * np.exp(-t / 0.08)
    x = x * envelope
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


def user_audio(scenario: Scenario) -> list[np.ndarray]:
    """Each line's dry audio: espeak-ng speech, or a synthetic cough."""
    from audio_io.speech_synth import synthesize

    lines = user_lines(scenario)
    return [cough(i) if spec.sound == "cough" else synthesize(line.text, line.voice, SR)
            for i, (spec, line) in enumerate(zip(scenario.users, lines, strict=True))]


def run_scenario(scenario: Scenario, models: tuple, base: AgentConfig | None = None) -> ScenarioResult:
    """Run one scenario with already loaded ``models`` (chain, VAD, ASR from :func:`agent.pipeline.load_models`)."""
    from models.aec.chain import EchoCanceller

    config = agent_config(scenario, base)
    _, vad, asr = models
    vad.reset()
    pipeline = ListeningPipeline(config, EchoCanceller(config.aec), vad, asr)
    room = SimulatedRoom(config.room)
    backend = RoomBackend(room, duration_s=scenario.duration_s, paced=False, compute=config.room.compute)
    user = ScriptedUser(room, user_lines(scenario), speech=user_audio(scenario)) if scenario.users else None
    session = Session(config, backend, pipeline, build_engine(config.tts), build_responder(config), user)
    traces = Traces()
    session.block_listeners.append(traces.on_block)
    asyncio.run(session.run())
    events = [e.as_dict() for e in session.events]
    metrics = measure(session, user, [u.meant_to_interrupt for u in scenario.users])
    checks = check(scenario, metrics)
    return ScenarioResult(scenario, all(c["passed"] for c in checks), checks, metrics, events, traces)


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def measure(session: Session, user: ScriptedUser | None, interrupting: list[bool]) -> dict[str, Any]:
    """Barge-in latencies per interrupting line (``interrupting[i]``: line i is meant to interrupt), misses,
    false barge-ins (stops outside every line; a stop the agent took back counts as one only outside every line),
    ``resumed`` (stops taken back: the reply went on after a backchannel), transcripts, latencies."""
    all_stops = [e for e in session.events if e.kind == "playback_stopped"]
    resumes = [e.sample for e in session.events if e.kind == "playback_resumed"]
    # a stop the agent took back (agent.backchannel_max_ms: the user's speech was short and the reply resumed before
    # the next stop) is no interruption: within a line not meant to interrupt it is the intended behaviour, within
    # one meant to interrupt the line was missed, and elsewhere it is a false barge-in all the same
    def resumed(i: int) -> bool:
        nxt = all_stops[i + 1].sample if i + 1 < len(all_stops) else None
        return any(all_stops[i].sample <= r and (nxt is None or r < nxt) for r in resumes)

    taken_back = [resumed(i) for i in range(len(all_stops))]
    stops = [e for i, e in enumerate(all_stops) if not taken_back[i]]
    # the agent's replies that ended on their own: a line that starts less than the shortest possible barge-in
    # (vad.barge_in_min_speech_ms and one frame) before one of these ends had nothing left to stop
    natural_ends = [e.sample for e in session.events if e.kind == "reply_done" and not e.data.get("cancelled")]
    unstoppable = int((session.config.vad.barge_in_min_speech_ms + 20) * SR / 1000)
    placed = user.placed if user is not None else []
    explained: set[int] = set()
    latencies, missed, finished_first = [], 0, 0
    for i, p in enumerate(placed):
        if not interrupting[i]:
            continue
        hit = next((i for i, e in enumerate(stops) if p.onset <= e.sample <= p.end + MISS_GRACE_S * SR), None)
        if hit is None and any(p.onset <= end <= p.onset + unstoppable for end in natural_ends):
            finished_first += 1
        elif hit is None:
            missed += 1
        else:
            explained.add(hit)
            latencies.append(round((stops[hit].sample - p.onset) * 1000 / SR, 1))
    for i, e in enumerate(stops):  # stops inside a line meant to interrupt (e.g. a second stop) are not false
        if any(interrupting[k] and p.onset <= e.sample <= p.end + MISS_GRACE_S * SR for k, p in enumerate(placed)):
            explained.add(i)
    in_a_line = sum(1 for i, e in enumerate(all_stops) if taken_back[i] and any(
        p.onset <= e.sample <= p.end + MISS_GRACE_S * SR for p in placed))
    # an end-of-turn decision with more of a user's line to come (the line's speech goes on past it by more than
    # PREMATURE_SLACK_S): the endpointer cut the line in two
    slack = int(PREMATURE_SLACK_S * SR)
    premature = sum(1 for e in session.events if e.kind == "end_of_turn"
                    and any(p.onset < e.data["decided_at"] < p.speech_end - slack for p in placed))
    played_s = session.backend.playback.played_samples / SR
    s = session.summary
    return {
        "duration_s": s.duration_s,
        "agent_speech_s": round(played_s, 2),
        "interruptions": sum(1 for i, _ in enumerate(placed) if interrupting[i]) - finished_first,
        "agent_finished_first": finished_first,
        "barge_in_latency_ms": latencies,
        "barge_in_p50_ms": _percentile(latencies, 50),
        "barge_in_p95_ms": _percentile(latencies, 95),
        "missed_barge_ins": missed,
        "false_barge_ins": len(stops) - len(explained) + sum(taken_back) - in_a_line,
        "resumed": sum(taken_back),
        "end_of_turn_latency_ms": s.end_of_turn_latency_ms,
        "premature_ends_of_turn": premature,
        "response_latency_ms": s.response_latency_ms,
        "compute": session.config.room.compute,
        "compute_ms": s.compute_ms,
        "transcripts": [e.data["text"] for e in session.events if e.kind == "final"],
        "turns": len(s.turns),
        "errors": s.errors,
        "stop_reason": s.stop_reason,
    }


def check(scenario: Scenario, m: dict[str, Any]) -> list[dict[str, Any]]:
    """One verdict per expectation that the scenario sets."""
    e = scenario.expect
    out = []
    if e.interrupt_within_ms is not None:
        worst = max(m["barge_in_latency_ms"], default=None)
        ok = m["missed_barge_ins"] == 0 and m["interruptions"] > 0 and worst is not None and worst <= e.interrupt_within_ms
        out.append({"name": "interrupt_within_ms", "passed": ok,
                    "detail": f"latencies {m['barge_in_latency_ms']} ms, {m['missed_barge_ins']} missed, "
                              f"{m.get('agent_finished_first', 0)} ended by the agent's reply first, "
                              f"limit {e.interrupt_within_ms:g} ms"})
    if e.no_barge_in:
        n = m["false_barge_ins"] + len(m["barge_in_latency_ms"])
        out.append({"name": "no_barge_in", "passed": n == 0, "detail": f"{n} barge-ins"})
    if e.transcript_contains:
        heard = normalize_transcript(" ".join(m["transcripts"]))
        missing = [t for t in e.transcript_contains if normalize_transcript(t) not in heard]
        out.append({"name": "transcript_contains", "passed": not missing,
                    "detail": f"missing {missing} in {m['transcripts']}" if missing else "all found"})
    if e.reply_within_ms is not None:
        worst = max(m["response_latency_ms"], default=None)
        ok = worst is not None and worst <= e.reply_within_ms
        out.append({"name": "reply_within_ms", "passed": ok,
                    "detail": f"latencies {m['response_latency_ms']} ms, limit {e.reply_within_ms:g} ms"})
    if e.turns_at_least:
        out.append({"name": "turns_at_least", "passed": m["turns"] >= e.turns_at_least,
                    "detail": f"{m['turns']} turns, needed {e.turns_at_least}"})
    return out
