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


def held_reply(t: TurnTaking) -> int:
    """A reply playing, then a barge-in that holds it; returns the reply's id."""
    (speak,) = t.say("নমস্কার")
    t.reply_audio_started(speak.reply_id)
    actions = t.speech_start()
    assert kinds(actions) == ["hold_playback", "start_asr"] and actions[0].reply_id == speak.reply_id
    assert t.state == "user_speaking" and t.held == speak.reply_id
    t.reply_finished(speak.reply_id)  # a held reply does not finish
    assert t.held == speak.reply_id
    return speak.reply_id


def test_a_short_barge_in_without_a_stop_word_resumes_the_held_reply() -> None:
    t = TurnTaking(hold_barge_ins=True)
    reply_id = held_reply(t)
    (check,) = t.speech_end(short=True)
    assert check.kind == "check_backchannel" and check.reply_id == reply_id and t.state == "user_speaking"
    actions = t.backchannel(stop_word=False, heard="হুঁ")
    assert kinds(actions) == ["cancel_asr", "resume_reply"] and actions[1].reply_id == reply_id
    assert actions[1].text == "হুঁ"
    assert t.state == "speaking" and t.held is None
    assert t.end_of_turn() == []  # the backchannel's end of turn is no turn
    t.reply_finished(reply_id)
    assert t.state == "listening"


def test_a_stop_word_or_a_long_run_cancels_the_held_reply_and_the_turn_goes_on() -> None:
    t = TurnTaking(hold_barge_ins=True)
    reply_id = held_reply(t)
    t.speech_end(short=True)
    actions = t.backchannel(stop_word=True)
    assert kinds(actions) == ["cancel_reply"] and actions[0].reply_id == reply_id and t.held is None
    assert kinds(t.end_of_turn()) == ["finish_asr"]
    (respond,) = t.final("না")
    assert respond.kind == "respond" and respond.text == "না"

    t = TurnTaking(hold_barge_ins=True)
    reply_id = held_reply(t)
    actions = t.speech_end(short=False)
    assert kinds(actions) == ["cancel_reply"] and t.state == "user_speaking" and t.held is None
    assert t.backchannel(stop_word=False) == []  # nothing held any more


def test_an_end_of_turn_before_the_speech_end_cancels_a_held_reply() -> None:
    t = TurnTaking(hold_barge_ins=True)
    held_reply(t)
    assert kinds(t.end_of_turn()) == ["cancel_reply", "finish_asr"] and t.held is None


def test_without_holding_a_barge_in_cancels_and_speech_end_does_nothing() -> None:
    t = TurnTaking()
    (speak,) = t.say("নমস্কার")
    t.reply_audio_started(speak.reply_id)
    assert kinds(t.speech_start()) == ["stop_playback", "cancel_reply", "start_asr"]
    assert t.speech_end(short=True) == [] and t.held is None
