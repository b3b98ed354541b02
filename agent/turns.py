"""Turn taking: a pure state machine from listening events to actions (no audio, no time, no I/O).

States: ``listening`` → (user speech) ``user_speaking`` → (end of turn) ``thinking`` → (first reply
audio) ``speaking`` → (reply played) ``listening``. User speech while the agent speaks is a barge-in:
playback stops, the reply is cancelled and the ASR starts on the new speech. Speech while the agent
is still thinking cancels the pending reply and continues the same turn (the transcripts are joined).

Every input returns the list of :class:`Action` s the session must carry out, in order. Replies carry
an id so that a late notice about a cancelled reply changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

State = Literal["listening", "user_speaking", "thinking", "speaking"]
ActionKind = Literal["stop_playback", "cancel_reply", "start_asr", "finish_asr", "cancel_asr", "respond", "speak"]


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    text: str = ""  # respond: the user's turn; speak: what to say
    reply_id: int = 0  # respond/speak: the id of the new reply; cancel_reply: the one cancelled
    continues: bool = False  # respond: the turn goes on from one whose reply was cancelled before it was heard


class TurnTaking:
    """See the module doc. ``state`` is read-only for callers; change it through the input methods."""

    def __init__(self) -> None:
        self.state: State = "listening"
        self.reply_id = 0  # id of the current (or last) reply
        self._reply_active = False
        self._carry = ""  # transcript of a turn whose reply was cancelled before it was heard

    # --- inputs -----------------------------------------------------------------------------------

    def speech_start(self) -> list[Action]:
        """The VAD declared user speech (a barge-in when the agent is speaking)."""
        if self.state == "user_speaking":
            return []
        actions: list[Action] = []
        if self.state == "speaking":
            actions += [Action("stop_playback"), self._cancel()]
            self._carry = ""
        elif self.state == "thinking":
            if self._reply_active:
                actions.append(self._cancel())
        self.state = "user_speaking"
        return [*actions, Action("start_asr")]

    def end_of_turn(self) -> list[Action]:
        """The endpointer decided that the user finished the turn."""
        if self.state != "user_speaking":
            return []
        self.state = "thinking"
        return [Action("finish_asr")]

    def final(self, text: str) -> list[Action]:
        """The final transcript of the turn (after ``finish_asr``)."""
        if self.state != "thinking" or self._reply_active:
            return []
        turn = " ".join(t for t in (self._carry, text.strip()) if t)
        if not turn:
            self.state = "listening"  # nothing intelligible: keep listening
            return []
        continues = bool(self._carry)
        self._carry = turn
        return [self._new_reply("respond", turn, continues)]

    def say(self, text: str) -> list[Action]:
        """Speak ``text`` now (greeting, a command from outside); refused while the user is speaking."""
        if self.state == "user_speaking" or not text.strip():
            return []
        actions: list[Action] = []
        if self.state == "speaking":
            actions.append(Action("stop_playback"))
        if self._reply_active:
            actions.append(self._cancel())
        self.state = "thinking"
        return [*actions, self._new_reply("speak", text)]

    def reply_audio_started(self, reply_id: int) -> list[Action]:
        """The first audio of reply ``reply_id`` reached the speaker."""
        if reply_id == self.reply_id and self._reply_active and self.state == "thinking":
            self.state = "speaking"
            self._carry = ""
        return []

    def reply_finished(self, reply_id: int) -> list[Action]:
        """Reply ``reply_id`` has played to the end (or produced no audio at all)."""
        if reply_id != self.reply_id or not self._reply_active:
            return []
        self._reply_active = False
        if self.state in ("speaking", "thinking"):
            self.state = "listening"
            self._carry = ""
        return []

    def stop(self) -> list[Action]:
        """Stop speaking (a command from outside): playback stops, the reply is cancelled, back to listening."""
        actions: list[Action] = []
        if self.state == "speaking":
            actions.append(Action("stop_playback"))
        if self._reply_active:
            actions.append(self._cancel())
        if self.state in ("speaking", "thinking"):
            self.state = "listening"
            self._carry = ""
        return actions

    def abandon_turn(self) -> list[Action]:
        """Listening was switched off: drop the user's turn in progress."""
        if self.state != "user_speaking":
            return []
        self.state = "listening"
        self._carry = ""
        return [Action("cancel_asr")]

    # --- helpers ----------------------------------------------------------------------------------

    def _new_reply(self, kind: ActionKind, text: str, continues: bool = False) -> Action:
        self.reply_id += 1
        self._reply_active = True
        return Action(kind, text, self.reply_id, continues)

    def _cancel(self) -> Action:
        self._reply_active = False
        return Action("cancel_reply", reply_id=self.reply_id)
