"""Conversation scenarios: a room, the agent's settings, scripted users and expectations, in YAML.

    name: barge_in_ser_-10
    description: The user interrupts the greeting at about -10 dB signal-to-echo ratio.
    room: {volume: 0.7, talker_level_dbfs: -25}        # any room.* key (docs/config.md)
    agent: {responder: echo, greeting: "নমস্কার! ..."}  # greeting, greeting_file, responder, rules_file
    duration_s: 30                                     # the most the scenario may run
    users:
      - {say: "থামো, আজকের আবহাওয়া কেমন হবে?", cue: agent_speaking, after_s: 2.0}
      - {say: "ধন্যবাদ।", cue: agent_done, after_s: 1.0, voice: "bn+m3"}
    expect:
      interrupt_within_ms: 1500      # each line cued on agent_speaking stops the agent within this (from its onset)
      no_barge_in: false             # true: the agent must never be interrupted
      transcript_contains: ["আবহাওয়া"]
      reply_within_ms: 500           # every reply starts within this after the end of turn
      turns_at_least: 1

Files are validated like the agent's config: an unknown key, a wrong type or a value out of range
names the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent.config import REPO_ROOT, ConfigError, RoomConfig, build, to_dict
from agent.config.base import load_yaml, section, setting

MAX_SCENARIO_S = 3600.0
MAX_GREETING_BYTES = 1_000_000


@dataclass(frozen=True)
class LineSpec:
    """One thing the user says."""

    say: str = setting("", "What the user says (spoken by espeak-ng with `voice`); with sound: cough, a label.")
    sound: Literal["speech", "cough"] = setting(
        "speech", "speech (the text, by espeak-ng) or cough (a burst of shaped noise, 0.35 s).")
    voice: str = setting("bn+f3", "espeak-ng voice of this line (e.g. bn, bn+m3, en-us+f2).")
    cue: Literal["agent_speaking", "agent_done", "at"] = setting(
        "agent_speaking", "When: after_s seconds after the agent starts speaking (an interruption), after it finished "
        "a reply, or at after_s seconds from the start.")
    after_s: float = setting(2.0, "Seconds after the cue.", min=0, max=MAX_SCENARIO_S)
    gain_db: float = setting(0.0, "Level relative to room.talker_level_dbfs, dB.", min=-40, max=40)
    interrupts: bool | None = setting(
        None, "Whether this line is meant to interrupt the agent (counted as a barge-in or a miss); null = yes for "
        "speech cued on agent_speaking, no otherwise. Set false for backchannels.")

    @property
    def meant_to_interrupt(self) -> bool:
        if self.interrupts is not None:
            return self.interrupts
        return self.cue == "agent_speaking" and self.sound == "speech"

    def validate(self) -> None:
        if not self.say.strip():
            raise ConfigError("say: the line is empty")


@dataclass(frozen=True)
class AgentSpec:
    """The agent's settings for the scenario."""

    greeting: str = setting("নমস্কার! আমি আপনার সহকারী। আমি কথা বলার সময়েও আপনি আমাকে থামিয়ে প্রশ্ন করতে পারেন।",
                            "What the agent says first (empty: it starts by listening).")
    greeting_file: str = setting(
        "", "A UTF-8 text file the agent reads out instead of the greeting (lines that are empty or start with '#' "
        "are skipped; a relative path is from the working folder or else the repository root; at most 1 MB): long "
        "stretches of its own speech, e.g. 30 minutes for the false barge-in target.")
    responder: str = setting("echo", "Responder (agent.responder).")
    rules_file: str = setting("configs/intents.yaml", "Intents of the rules responder.")

    @property
    def full_greeting(self) -> str:
        """The greeting, or the text of ``greeting_file``; a :class:`ConfigError` when that file is unreadable."""
        if not self.greeting_file:
            return self.greeting
        path = Path(self.greeting_file)
        if not path.is_absolute() and not path.exists():
            path = REPO_ROOT / path
        try:
            if path.stat().st_size > MAX_GREETING_BYTES:
                raise ConfigError(f"agent.greeting_file: {path} is larger than {MAX_GREETING_BYTES} bytes")
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"agent.greeting_file: cannot read {path}: {exc}") from None
        text = " ".join(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))
        if not text:
            raise ConfigError(f"agent.greeting_file: {path} holds no text")
        return text


@dataclass(frozen=True)
class Expect:
    """What must happen; a key left out (null) is not checked."""

    interrupt_within_ms: float | None = setting(
        None, "Each line cued on agent_speaking must stop the agent within this many ms of its onset.", min=0,
        max=60000)
    no_barge_in: bool = setting(False, "The agent must never be interrupted.")
    transcript_contains: tuple[str, ...] = setting((), "Strings that must appear in the final transcripts.")
    reply_within_ms: float | None = setting(
        None, "Every reply must start within this many ms of its end of turn.", min=0, max=60000)
    turns_at_least: int = setting(0, "Answered user turns needed.", min=0, max=1000)


@dataclass(frozen=True)
class Scenario:
    """A conversation in the simulated room."""

    name: str = setting("scenario", "Short name (used in reports).")
    description: str = setting("", "What the scenario checks.")
    duration_s: float = setting(60.0, "Longest run of the scenario, s (it ends earlier when the script is done).",
                                min=1, max=MAX_SCENARIO_S)
    room: RoomConfig = section(RoomConfig, "The room and device (room.* keys).")
    agent: AgentSpec = section(AgentSpec, "The agent.")
    users: tuple[LineSpec, ...] = setting((), "The user's lines, in order.")
    expect: Expect = section(Expect, "Expectations.")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; errors name the file and the key."""
    data = load_yaml(str(path))
    data.setdefault("name", Path(path).stem)
    try:
        scenario = build(Scenario, data)
        scenario.agent.full_greeting  # noqa: B018  (a greeting file that cannot be read fails here, not mid-run)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return scenario


def with_room(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """``scenario`` with some ``room.*`` keys replaced (validated like the file's); ConfigError when invalid."""
    if not overrides:
        return scenario
    room = build(RoomConfig, {**to_dict(scenario.room), **overrides})
    return dataclasses.replace(scenario, room=room)
