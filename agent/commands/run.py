"""``python -m agent run`` (and ``python -m agent`` alone): the full-duplex conversation.

On a machine with a sound card it listens and speaks through the default devices; without one it
says so and runs the simulated room, where a scripted user talks, interrupts the agent and is
answered. Prints the conversation (and a live status line on a terminal); Ctrl-C ends it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path

from agent.backends import choose_backend
from agent.config import AgentConfig
from agent.pipeline import ModelLoadError
from agent.responders import ResponderError
from agent.runner import build_session, run_session
from models.tts.voice import VoiceError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="the full-duplex conversation (the default command)", description=(
        "Listen and speak at the same time: echo chain, semantic VAD, streaming ASR, responder, TTS, barge-in. "
        "Uses the sound card when there is one, else the simulated room with a scripted user (audio.backend). "
        "Ctrl-C ends the session."))
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--duration", type=float, metavar="S", help="end after S seconds of audio (agent.max_session_s)")
    p.add_argument("--responder", help="echo, rules, http or package.module:Class (agent.responder)")
    p.add_argument("--event-log", type=Path, metavar="FILE.jsonl", help="write every event here (agent.event_log)")
    p.add_argument("--no-user", action="store_true", help="simulated room without the scripted user")
    p.add_argument("--paced", action="store_true", help="run the simulated room at real time (room.paced)")
    p.add_argument("--mic", type=Path, metavar="IN.wav", help="with audio.backend=wav: the microphone recording")
    p.add_argument("--played-out", type=Path, metavar="OUT.wav", help="with audio.backend=wav: write what was played")
    p.add_argument("--summary", type=Path, metavar="OUT.json", help="write the session summary (turns, latencies)")
    p.add_argument("--mqtt", metavar="HOST:PORT", help="connect to this MQTT broker (mqtt.enabled, mqtt.host, mqtt.port)")
    p.add_argument("--site-id", metavar="NAME", help="this agent's MQTT site id (mqtt.site_id)")


def _configure(config: AgentConfig, args: argparse.Namespace) -> AgentConfig:
    agent = config.agent
    changes = {}
    if getattr(args, "duration", None) is not None:
        if not 0 < args.duration <= 1e7:
            raise ValueError("--duration must be a positive number of seconds")
        changes["max_session_s"] = float(args.duration)
    if getattr(args, "responder", None):
        changes["responder"] = args.responder
    if getattr(args, "event_log", None):
        changes["event_log"] = str(args.event_log)
    if getattr(args, "no_user", False):
        changes["scripted_user"] = False
    config = dataclasses.replace(config, agent=dataclasses.replace(agent, **changes))
    if getattr(args, "paced", False):
        config = dataclasses.replace(config, room=dataclasses.replace(config.room, paced=True))
    mqtt_changes: dict = {}
    if getattr(args, "mqtt", None):
        host, sep, port = args.mqtt.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"--mqtt {args.mqtt!r}: expected HOST:PORT, e.g. 127.0.0.1:1883")
        mqtt_changes.update(enabled=True, host=host, port=int(port))
    if getattr(args, "site_id", None):
        mqtt_changes["site_id"] = args.site_id
    if mqtt_changes:
        from agent.config import MqttConfig, build, to_dict

        config = dataclasses.replace(config, mqtt=build(MqttConfig, {**to_dict(config.mqtt), **mqtt_changes}))
    if getattr(args, "mic", None) is not None and config.audio.backend != "wav":
        config = dataclasses.replace(config, audio=dataclasses.replace(config.audio, backend="wav"))
    return config


def run(args: argparse.Namespace) -> int:
    config = _configure(args.config, args)
    choice = choose_backend(config)
    print(f"audio: {choice.reason}.")
    if not choice.available:
        return 1
    print("loading models (echo suppressor, VAD, ASR, voice)…", flush=True)
    try:
        session = build_session(config, choice, getattr(args, "mic", None), getattr(args, "played_out", None))
    except (ModelLoadError, VoiceError, ResponderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    summary = asyncio.run(run_session(session))
    if summary.barge_in_latency_ms or summary.response_latency_ms:
        def med(v: list[float]) -> str:
            return f"{sorted(v)[len(v) // 2]:.0f} ms" if v else "-"
        print(f"turns {len(summary.turns)}, barge-ins {summary.barge_ins} (latency median "
              f"{med(summary.barge_in_latency_ms)}), response latency median {med(summary.response_latency_ms)}")
    if getattr(args, "summary", None):
        args.summary.write_text(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0
