"""Turn taking: a pure state machine from listening events to actions (no audio, no time, no I/O).

States: ``listening`` → (user speech) ``user_speaking`` → (end of turn) ``thinking`` → (first reply
audio) ``speaking`` → (reply played) ``listening``. User speech while the agent speaks is a barge-in:
playback stops, the reply is cancelled and the ASR starts on the new speech. Speech while the agent
is still thinking cancels the pending reply and continues the same turn (the transcripts are joined).

With ``hold_barge_ins`` (the agent's ``agent.backchannel_max_ms`` > 0) a barge-in *holds* the reply instead of
cancelling it: playback stops at once all the same (``hold_playback``), and at the user's speech end the session
says whether the run was short (:meth:`speech_end`). A short one is checked (``check_backchannel``: the session
looks at the ASR's words so far and calls :meth:`backchannel`): a backchannel, a cough or a noise resumes the reply
(``resume_reply``; the ASR's words of it are dropped), a stop word or any word that is no backchannel cancels it
(:func:`agent.session.stopping_word`); anything longer cancels it. After a
cancel the turn goes on as after any barge-in.

Every input returns the list of :class:`Action` s the session must carry out, in order. Replies carry
an id so that a late notice about a cancelled reply changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

State = Literal["listening", "user_speaking", "thinking", "speaking"]
ActionKind = Literal["stop_playback", "hold_playback", "check_backchannel", "resume_reply", "cancel_reply", "start_asr",
                     "finish_asr", "cancel_asr", "respond", "speak"]


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    text: str = ""  # respond: the user's turn; speak: what to say; resume_reply: what the ASR heard of the run
    reply_id: int = 0  # respond/speak: the id of the new reply; cancel_reply: the one cancelled
    continues: bool = False  # respond: the turn goes on from one whose reply was cancelled before it was heard


class TurnTaking:
    """See the module doc. ``state`` is read-only for callers; change it through the input methods."""

    def __init__(self, hold_barge_ins: bool = False) -> None:
        self.state: State = "listening"
        self.reply_id = 0  # id of the current (or last) reply
        self.hold_barge_ins = hold_barge_ins
        self.held: int | None = None  # id of the reply held by a barge-in (until the user's speech end decides)
        self._reply_active = False
        self._carry = ""  # transcript of a turn whose reply was cancelled before it was heard

    # --- inputs -----------------------------------------------------------------------------------

    def speech_start(self) -> list[Action]:
        """The VAD declared user speech (a barge-in when the agent is speaking)."""
        if self.state == "user_speaking":
            return []
        actions: list[Action] = []
        if self.state == "speaking" and self.hold_barge_ins:
            self.held = self.reply_id
            actions.append(Action("hold_playback", reply_id=self.reply_id))
            self._carry = ""
        elif self.state == "speaking":
            actions += [Action("stop_playback"), self._cancel()]
            self._carry = ""
        elif self.state == "thinking":
            if self._reply_active:
                actions.append(self._cancel())
        self.state = "user_speaking"
        return [*actions, Action("start_asr")]

    def speech_end(self, short: bool) -> list[Action]:
        """The user's speech ended; ``short``: it lasted no longer than a backchannel. A held reply is checked after
        a short run (``check_backchannel``, then :meth:`backchannel`) and cancelled after a longer one. Nothing to
        do without a held reply."""
        if self.held is None or self.state != "user_speaking":
            return []
        if short and self._reply_active and self.held == self.reply_id:
            return [Action("check_backchannel", reply_id=self.held)]
        self.held = None
        return [self._cancel()] if self._reply_active else []

    def backchannel(self, stop_word: bool, heard: str = "") -> list[Action]:
        """The verdict on a short run that holds a reply: ``stop_word`` false (nothing in its words stops the agent)
        resumes the reply (back to speaking, the ASR dropped; ``heard``, the ASR's words, travels with the action);
        true cancels it (the turn goes on)."""
        if self.held is None or self.state != "user_speaking" or not self._reply_active:
            return []
        if stop_word:
            return [self._cancel()]
        reply_id, self.held = self.held, None
        self.state = "speaking"
        return [Action("cancel_asr"), Action("resume_reply", text=heard, reply_id=reply_id)]

    def end_of_turn(self) -> list[Action]:
        """The endpointer decided that the user finished the turn."""
        if self.state != "user_speaking":
            return []
        actions = self.speech_end(short=False)  # a reply still held now cannot resume
        self.state = "thinking"
        return [*actions, Action("finish_asr")]

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
        if reply_id != self.reply_id or not self._reply_active or self.held == reply_id:
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
        actions = self.speech_end(short=False)
        self.state = "listening"
        self._carry = ""
        return [*actions, Action("cancel_asr")]

    # --- helpers ----------------------------------------------------------------------------------

    def _new_reply(self, kind: ActionKind, text: str, continues: bool = False) -> Action:
        self.reply_id += 1
        self._reply_active = True
        return Action(kind, text, self.reply_id, continues)

    def _cancel(self) -> Action:
        self._reply_active = False
        self.held = None
        return Action("cancel_reply", reply_id=self.reply_id)
