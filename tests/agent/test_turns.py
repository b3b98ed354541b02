"""The turn-taking state machine on scripted event sequences (pure: no audio, no time)."""

from __future__ import annotations

from agent.turns import TurnTaking


def kinds(actions) -> list[str]:  # noqa: ANN001
    return [a.kind for a in actions]


def test_a_plain_turn_goes_listening_thinking_speaking_listening() -> None:
    t = TurnTaking()
    assert kinds(t.speech_start()) == ["start_asr"] and t.state == "user_speaking"
    assert t.speech_start() == []  # already speaking: nothing new
    assert kinds(t.end_of_turn()) == ["finish_asr"] and t.state == "thinking"
    (respond,) = t.final("  আজ কী বার?  ")
    assert respond.kind == "respond" and respond.text == "আজ কী বার?" and t.state == "thinking"
    t.reply_audio_started(respond.reply_id)
    assert t.state == "speaking"
    t.reply_finished(respond.reply_id)
    assert t.state == "listening"


def test_barge_in_stops_playback_cancels_and_listens() -> None:
    t = TurnTaking()
    (speak,) = t.say("নমস্কার")
    t.reply_audio_started(speak.reply_id)
    actions = t.speech_start()
    assert kinds(actions) == ["stop_playback", "cancel_reply", "start_asr"]
    assert actions[1].reply_id == speak.reply_id
    assert t.state == "user_speaking"
    # A late notice about the cancelled reply changes nothing.
    t.reply_finished(speak.reply_id)
    t.reply_audio_started(speak.reply_id)
    assert t.state == "user_speaking"


def test_nothing_recognised_goes_back_to_listening() -> None:
    t = TurnTaking()
    t.speech_start()
    t.end_of_turn()
    assert t.final("   ") == [] and t.state == "listening"


def test_speech_while_thinking_continues_the_same_turn() -> None:
    t = TurnTaking()
    t.speech_start()
    t.end_of_turn()
    (first,) = t.final("আমি জানতে চাই")
    actions = t.speech_start()  # the user was only pausing
    assert kinds(actions) == ["cancel_reply", "start_asr"] and actions[0].reply_id == first.reply_id
    t.end_of_turn()
    (second,) = t.final("আজ কী বার")
    assert second.text == "আমি জানতে চাই আজ কী বার" and second.reply_id != first.reply_id
    assert not first.continues and second.continues  # the responder answers it in place of the cancelled one
    t.reply_audio_started(second.reply_id)
    t.reply_finished(second.reply_id)
    t.speech_start()
    t.end_of_turn()
    (third,) = t.final("ধন্যবাদ")
    assert third.text == "ধন্যবাদ" and not third.continues  # the last reply was heard: a new turn


def test_end_of_turn_outside_a_user_turn_is_ignored_and_say_is_refused_while_the_user_speaks() -> None:
    t = TurnTaking()
    assert t.end_of_turn() == [] and t.state == "listening"
    t.speech_start()
    assert t.say("হ্যালো") == [] and t.state == "user_speaking"


def test_say_while_speaking_replaces_the_reply() -> None:
    t = TurnTaking()
    (a,) = t.say("এক")
    t.reply_audio_started(a.reply_id)
    actions = t.say("দুই")
    assert kinds(actions) == ["stop_playback", "cancel_reply", "speak"] and actions[-1].text == "দুই"
    assert t.state == "thinking"
    t.reply_finished(actions[-1].reply_id)  # no audio at all: back to listening
    assert t.state == "listening"
