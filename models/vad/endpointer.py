"""Endpointer: a state machine over the VAD's per-frame probabilities (pure python, no model).

``Endpointer(config).process(p_speech, p_end_of_turn, playing=False, echo_dominant=False,
barge_in_blocked=False)`` takes one 20 ms frame and returns the events it decided on that frame:

- ``speech_start``: ``min_speech_ms`` of frames at or above ``speech_threshold`` in a row; ``sample`` is
  the first sample of that run.
- ``speech_end``: ``hangover_ms`` of frames below ``release_threshold`` (or an end of turn, which ends
  speech at once); ``sample`` is the first silent sample.
- ``end_of_turn``: after speech, on a silent frame whose end-of-turn probability reaches
  ``end_of_turn_threshold``, or after ``max_silence_ms`` of silence whatever the model says; ``sample``
  is where the silence began.
- ``barge_in`` (with a ``speech_start``): while the agent plays (``playing=True``) a speech start needs
  the stricter ``barge_in_threshold`` for ``barge_in_min_speech_ms``, not in the first
  ``barge_in_cooldown_ms`` of playback, and (``barge_in_echo_gate``) at least ``barge_in_double_talk_share``
  of the last ``barge_in_min_speech_ms`` of that run must not be echo-dominated (the echo chain's
  double-talk test fired, or the far end was silent); ``sample`` is the start of that window. While
  ``barge_in_blocked`` (the agent's echo canceller is still converging) no barge-in run is counted. The default share 1.0 asks every frame; a lower share catches interruptions at low SER sooner
  (the chain flags only part of the frames of real double talk) but, as measured with the VITS voice (README,
  simulate), also lets the agent's own echo through more often. ``barge_in_max_gap_ms`` (default 40; 0 = off): a
  barge-in run survives a dip below ``barge_in_threshold`` of up to that long (the dip's frames do not count
  toward the run; with no dips the barge-in dates from the run's first frame as before).
  ``barge_in_fast_min_speech_ms`` (default 60 since 2026-12-07, eighth session; 0 = off): a run of that long with every frame at
  or above ``barge_in_fast_threshold`` and ``barge_in_threshold`` (no dips) is a barge-in too, whichever of the two
  runs completes first (with the echo gate, the share is asked of the quick run's own frames); it dates from the
  quick run's first frame.
- **Text cue** (``text_end``, optional, per frame): with the ASR's words scored by
  :class:`models.vad.text_cue.SentenceEndCue`, the end-of-turn threshold of a pause is
  ``text_finished_eot_threshold`` when the words end a sentence (``text_end >= text_end_threshold``) and
  ``text_unfinished_eot_threshold`` when they do not; ``end_of_turn_threshold`` while no cue is known.

Every event carries ``sample`` (where it happened) and ``decided_at`` (the end of the frame on which it
was decided), both in input samples from the start of the stream; latency = decided_at − true time.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from agent.config import VadConfig

EventKind = Literal["speech_start", "speech_end", "end_of_turn", "barge_in"]


@dataclass(frozen=True)
class VadEvent:
    kind: EventKind
    sample: int  # where it happened (16 kHz samples from the stream start)
    decided_at: int  # end of the frame that decided it

    def as_dict(self, sample_rate: int = 16000) -> dict:
        return {"kind": self.kind, "time_s": self.sample / sample_rate, "decided_s": self.decided_at / sample_rate}


def _frames(ms: float, frame_samples: int, sample_rate: int) -> int:
    return max(1, math.ceil(ms * sample_rate / 1000 / frame_samples - 1e-9))


class Endpointer:
    """See the module doc. One instance per audio stream."""

    def __init__(self, config: VadConfig | None = None, frame_samples: int = 320, sample_rate: int = 16000) -> None:
        self.config = config or VadConfig()
        self.frame_samples = frame_samples
        c = self.config
        self._min_speech = _frames(c.min_speech_ms, frame_samples, sample_rate)
        self._hangover = _frames(c.hangover_ms, frame_samples, sample_rate)
        self._max_silence = _frames(c.max_silence_ms, frame_samples, sample_rate)
        self._barge_min = _frames(c.barge_in_min_speech_ms, frame_samples, sample_rate)
        self._barge_clear = math.ceil(c.barge_in_double_talk_share * self._barge_min - 1e-9)
        self._cooldown = math.ceil(c.barge_in_cooldown_ms * sample_rate / 1000 / frame_samples - 1e-9)
        self._max_gap = math.floor(c.barge_in_max_gap_ms * sample_rate / 1000 / frame_samples + 1e-9)
        self._fast_min = (_frames(c.barge_in_fast_min_speech_ms, frame_samples, sample_rate)
                          if c.barge_in_fast_min_speech_ms > 0 else 0)
        self._fast_clear = math.ceil(c.barge_in_double_talk_share * self._fast_min - 1e-9)
        self.reset()

    def reset(self) -> None:
        self.frame = 0  # frames processed
        self.in_speech = False
        self.turn_open = False  # speech has started since the last end of turn
        self._run = 0  # frames in a row that count toward a speech start (a barge-in run: not counting its dips)
        self._run_start = 0  # first frame of the current run
        self._gap = 0  # frames of the current dip inside a barge-in run
        self._fast_run = 0  # frames in a row at or above barge_in_fast_threshold (a quick barge-in run)
        # last frames of a barge-in run: not echo-dominated
        self._clear: deque[bool] = deque(maxlen=max(self._barge_min, self._fast_min))
        self._silence = 0  # silent frames in a row since speech was last active
        self._playing_frames = 0  # frames since playback started (0 when not playing)

    @property
    def pause_frames(self) -> int:
        """Silent frames since speech, while a turn is open (0 in speech or when no turn is open)."""
        return self._silence if self.turn_open else 0

    def process(self, p_speech: float, p_end_of_turn: float, playing: bool = False,
                echo_dominant: bool = False, barge_in_blocked: bool = False,
                text_end: float | None = None) -> list[VadEvent]:
        """Events decided on this frame (usually none). ``text_end``: the text cue's probability that the user's
        words so far end a sentence (:class:`models.vad.text_cue.PauseTextScorer`), None when not known."""
        c = self.config
        t = self.frame
        self.frame += 1
        end = self.frame * self.frame_samples
        self._playing_frames = self._playing_frames + 1 if playing else 0
        events: list[VadEvent] = []

        if not self.in_speech:
            clear_enough = True
            held = False  # a barge-in run kept through a short dip on this frame
            fast = False  # a quick barge-in run completes on this frame
            if playing:
                allowed = self._playing_frames > self._cooldown and not barge_in_blocked
                counts = p_speech >= c.barge_in_threshold and allowed
                needed = self._barge_min
                fast_counts = counts and self._fast_min > 0 and p_speech >= c.barge_in_fast_threshold
                self._fast_run = self._fast_run + 1 if fast_counts else 0
                if counts:
                    self._clear.append(not echo_dominant)
                    self._gap = 0
                elif self._run and self._gap < self._max_gap and not barge_in_blocked:
                    self._gap += 1  # a short dip: the run goes on, the dip does not count toward it
                    held = True
                else:
                    self._clear.clear()
                    self._gap = 0
                if c.barge_in_echo_gate:  # over the last `needed` frames of the run
                    clear_enough = sum(list(self._clear)[-needed:]) >= self._barge_clear
                    fast_clear = sum(list(self._clear)[-self._fast_min:]) >= self._fast_clear if self._fast_min else False
                else:
                    fast_clear = True
                fast = self._fast_run >= self._fast_min > 0 and fast_clear
            else:
                counts = p_speech >= c.speech_threshold
                needed = self._min_speech
                self._clear.clear()
                self._gap = 0
                self._fast_run = 0
            if counts and self._run == 0:
                self._run_start = t
            self._run = self._run + 1 if counts else (self._run if held else 0)
            if (self._run >= needed and clear_enough) or fast:
                if fast and not (self._run >= needed and clear_enough):  # the quick run dates from its own start
                    start = (t + 1 - self._fast_run) * self.frame_samples
                elif playing and self._run > needed:  # a barge-in dates from its window (a run held back by the gate)
                    start = (t + 1 - needed) * self.frame_samples
                else:
                    start = self._run_start * self.frame_samples
                self.in_speech, self.turn_open, self._silence, self._run, self._fast_run = True, True, 0, 0, 0
                self._clear.clear()
                events.append(VadEvent("speech_start", start, end))
                if playing:
                    events.append(VadEvent("barge_in", start, end))
                return events
            if self.turn_open and not counts:
                self._silence += 1
                events += self._maybe_end_turn(t, p_end_of_turn, end, text_end)
            return events

        # in speech
        if p_speech >= c.release_threshold:
            self._silence = 0
            return events
        self._silence += 1
        eot = self._maybe_end_turn(t, p_end_of_turn, end, text_end)
        if eot or self._silence >= self._hangover:
            silence_start = (t + 1 - self._silence) * self.frame_samples
            self.in_speech = False
            self._run = self._fast_run = 0
            events.append(VadEvent("speech_end", silence_start, end))
        return events + eot

    def _maybe_end_turn(self, t: int, p_end_of_turn: float, end: int, text_end: float | None) -> list[VadEvent]:
        if not self.turn_open:
            return []
        if p_end_of_turn >= self.eot_threshold(text_end) or self._silence >= self._max_silence:
            self.turn_open = False
            return [VadEvent("end_of_turn", (t + 1 - self._silence) * self.frame_samples, end)]
        return []

    def eot_threshold(self, text_end: float | None = None) -> float:
        """The end-of-turn threshold: ``end_of_turn_threshold``, or with a text cue known (``text_end``),
        ``text_finished_eot_threshold`` when the cue reaches ``text_end_threshold`` (the words end a sentence) and
        ``text_unfinished_eot_threshold`` when it does not."""
        c = self.config
        if text_end is None:
            return c.end_of_turn_threshold
        if text_end >= c.text_end_threshold:
            return c.text_finished_eot_threshold
        return c.text_unfinished_eot_threshold
