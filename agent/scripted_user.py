"""A scripted user for the simulated room: talks, interrupts the agent, and waits for answers.

Each :class:`UserLine` waits for a cue from the session's events — ``agent_speaking``: ``after_s``
seconds after the agent's voice starts (an interruption, a barge-in), or ``agent_done``: ``after_s``
seconds after the agent finished a reply — and is then placed in the room as near-end speech (its
own voice through its own room response). The user knows the true onset of each line (the first
sample above -30 dB of the line's peak at the microphone), which the session uses to measure the
barge-in latency against the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from agent.events import Event
from audio_io.frames import SAMPLE_RATE
from audio_io.room import SimulatedRoom
from audio_io.speech_synth import SynthVoice, synthesize

Cue = Literal["agent_speaking", "agent_done", "at"]
USER_VOICE = SynthVoice("espeak-ng", "bn+f3", "bn", speed_wpm=165, pitch=60)
ONSET_DB = -30.0


@dataclass(frozen=True)
class UserLine:
    text: str
    cue: Cue
    after_s: float  # agent_speaking/agent_done: seconds after the cue; at: seconds from the session start
    voice: SynthVoice | None = None  # None = the user's default voice
    gain_db: float = 0.0  # level relative to room.talker_level_dbfs


# The user interrupts at the room's plain talker level (SER about -14 dB at the mic while the VITS voice speaks).
# Measured with the echo-aware VAD and tts.seed 0, 1, 2: caught 200, 880 and 720 ms after the onset (with the
# earlier VAD and the chain's echo gate this needed a 10 dB louder user and took 300-1320 ms).
DEFAULT_SCRIPT = (
    UserLine("থামো, আজকের আবহাওয়া কেমন হবে?", "agent_speaking", 2.0),
    UserLine("ঠিক আছে, ধন্যবাদ।", "agent_done", 1.0),
)


@dataclass
class PlacedLine:
    line: UserLine
    onset: int  # first sample of speech at the microphone
    end: int  # last sample + 1 (with the room's reverberation tail)
    speech_end: int = 0  # end of the line's last active 10 ms frame (dry speech, see speech_offset)
    announced: bool = False


def speech_onset(x: np.ndarray, floor_db: float = ONSET_DB, frame: int = 160) -> int:
    """First sample of the first 10 ms frame within ``floor_db`` of the loudest frame."""
    n = (x.shape[0] // frame) * frame
    if n == 0:
        return 0
    e = np.mean(x[:n].astype(np.float64).reshape(-1, frame) ** 2, axis=1)
    return int(np.argmax(e >= e.max() * 10 ** (floor_db / 10))) * frame


def speech_offset(x: np.ndarray, floor_db: float = ONSET_DB, frame: int = 160) -> int:
    """End (sample after) of the last 10 ms frame within ``floor_db`` of the loudest frame."""
    n = (x.shape[0] // frame) * frame
    if n == 0:
        return x.shape[0]
    e = np.mean(x[:n].astype(np.float64).reshape(-1, frame) ** 2, axis=1)
    return (int(np.nonzero(e >= e.max() * 10 ** (floor_db / 10))[0][-1]) + 1) * frame


class ScriptedUser:
    """See the module doc. ``speech`` (optional) gives each line's dry audio instead of espeak-ng."""

    def __init__(self, room: SimulatedRoom, lines: tuple[UserLine, ...] = DEFAULT_SCRIPT,
                 voice: SynthVoice = USER_VOICE, speech: list[np.ndarray] | None = None) -> None:
        self.room = room
        self.lines = tuple(lines)
        self.speech = speech if speech is not None else [synthesize(line.text, line.voice or voice, SAMPLE_RATE)
                                                         for line in lines]
        if len(self.speech) != len(self.lines):
            raise ValueError(f"{len(self.lines)} lines but {len(self.speech)} recordings")
        self.placed: list[PlacedLine] = []

    @property
    def waiting_for(self) -> UserLine | None:
        """The next line, not yet placed."""
        return self.lines[len(self.placed)] if len(self.placed) < len(self.lines) else None

    def on_event(self, event: Event) -> None:
        """Watch the session's events for the next line's cue."""
        line = self.waiting_for
        if line is None:
            return
        cued = ((line.cue == "agent_speaking" and event.kind == "reply_audio")
                or (line.cue == "agent_done" and event.kind == "reply_done" and not event.data.get("cancelled")))
        if cued:
            self._place(event.sample + int(line.after_s * SAMPLE_RATE))

    def _place(self, at: int) -> None:
        line = self.lines[len(self.placed)]
        at = max(at, self.room.position)
        dry = self.speech[len(self.placed)]
        wet = self.room.add_talker(dry, at, line.gain_db)
        self.placed.append(PlacedLine(line, at + speech_onset(wet), at + wet.shape[0], at + speech_offset(dry)))

    def poll(self, position: int) -> list[PlacedLine]:
        """Lines whose speech has begun by ``position`` and were not reported yet (and places the next line when
        its cue is a time: ``at``)."""
        line = self.waiting_for
        if line is not None and line.cue == "at" and (not self.placed or self.placed[-1].end <= position):
            self._place(int(line.after_s * SAMPLE_RATE))
        out = []
        for p in self.placed:
            if not p.announced and p.onset < position:
                p.announced = True
                out.append(p)
        return out

    def onset_before(self, sample: int) -> int | None:
        """True onset of the latest line that began at or before ``sample``."""
        onsets = [p.onset for p in self.placed if p.onset <= sample]
        return max(onsets) if onsets else None

    def finished(self, position: int) -> bool:
        """Every line has been said to the end."""
        return self.waiting_for is None and all(p.end <= position for p in self.placed)
