"""The endpointer state machine on scripted probability sequences, and the VAD metrics."""

from __future__ import annotations

import dataclasses

import numpy as np

from agent.config import VadConfig
from models.vad.endpointer import Endpointer
from models.vad.metrics import (
    barge_in_metrics,
    frame_dcf,
    playing_frames,
    speech_mask,
    summarize_barge_in,
    turn_metrics,
)

HOP = 320


def run(probs: list[tuple[float, float]], config: VadConfig | None = None, playing: list[bool] | None = None,
        echo: list[bool] | None = None) -> list:
    ep = Endpointer(config or VadConfig())
    events = []
    for t, (ps, pe) in enumerate(probs):
        events += ep.process(ps, pe, playing=bool(playing and playing[t]), echo_dominant=bool(echo and echo[t]))
    return events


def kinds(events: list) -> list[str]:
    return [e.kind for e in events]


def test_speech_start_needs_min_speech_and_is_back_dated() -> None:
    cfg = VadConfig(min_speech_ms=60)  # 3 frames
    events = run([(0.1, 0)] * 5 + [(0.9, 0)] * 2 + [(0.1, 0)] * 3 + [(0.9, 0)] * 4, cfg)
    assert kinds(events) == ["speech_start"]  # the 2-frame blip is not speech
    start = events[0]
    assert start.sample == 10 * HOP and start.decided_at == 13 * HOP


def test_hysteresis_and_hangover_give_one_segment_with_its_end() -> None:
    cfg = VadConfig(min_speech_ms=20, hangover_ms=200, end_of_turn_threshold=1.0, max_silence_ms=5000)
    # speech, a dip to 0.4 (above release 0.35: still speech), a 100 ms gap (shorter than the hangover), silence
    probs = [(0.9, 0)] * 10 + [(0.4, 0)] * 5 + [(0.9, 0)] * 5 + [(0.1, 0)] * 5 + [(0.9, 0)] * 5 + [(0.0, 0)] * 20
    events = run(probs, cfg)
    assert kinds(events) == ["speech_start", "speech_end"]
    assert events[1].sample == 30 * HOP  # first silent frame
    assert events[1].decided_at == (30 + 10) * HOP  # 200 ms hangover = 10 frames


def test_end_of_turn_from_the_model_before_the_hangover() -> None:
    cfg = VadConfig(min_speech_ms=20, hangover_ms=400, end_of_turn_threshold=0.5)
    probs = [(0.9, 0.0)] * 10 + [(0.1, 0.2)] * 3 + [(0.1, 0.8)] * 10
    events = run(probs, cfg)
    assert kinds(events) == ["speech_start", "speech_end", "end_of_turn"]
    assert events[2].decided_at == 14 * HOP and events[2].sample == 10 * HOP
    assert events[1].sample == 10 * HOP


def test_pause_with_low_end_of_turn_is_not_an_end_and_timeout_is_the_fallback() -> None:
    cfg = VadConfig(min_speech_ms=20, hangover_ms=100, end_of_turn_threshold=0.5, max_silence_ms=600)
    probs = [(0.9, 0)] * 5 + [(0.1, 0.1)] * 20 + [(0.9, 0)] * 5 + [(0.1, 0.1)] * 40
    events = run(probs, cfg)
    assert kinds(events) == ["speech_start", "speech_end", "speech_start", "speech_end", "end_of_turn"]
    # 20 silent frames (400 ms) < 600 ms: no end; the second silence reaches 600 ms = 30 frames
    assert events[-1].decided_at == (30 + 30) * HOP


def test_no_end_of_turn_without_speech() -> None:
    assert run([(0.1, 0.99)] * 100) == []


def test_barge_in_needs_threshold_duration_cooldown_and_no_echo() -> None:
    cfg = VadConfig(barge_in_threshold=0.7, barge_in_min_speech_ms=100, barge_in_cooldown_ms=200, barge_in_fast_min_speech_ms=0,
                    barge_in_echo_gate=True)
    n = 40
    playing = [True] * n
    # 0.6 is speech when listening but not enough while the agent speaks
    assert run([(0.6, 0)] * n, cfg, playing) == []
    assert kinds(run([(0.6, 0)] * n, cfg)) == ["speech_start"]
    # loud speech at once: the first 10 frames are in the cooldown, then 5 frames are needed
    events = run([(0.95, 0)] * n, cfg, playing)
    assert kinds(events) == ["speech_start", "barge_in"]
    assert events[1].decided_at == 15 * HOP
    # frames the echo chain marks as echo-dominated never count
    assert run([(0.95, 0)] * n, cfg, playing, echo=[True] * n) == []
    no_gate = dataclasses.replace(cfg, barge_in_echo_gate=False)
    assert kinds(run([(0.95, 0)] * n, no_gate, playing, echo=[True] * n)) == ["speech_start", "barge_in"]


def test_a_barge_in_run_survives_a_short_dip_only_when_asked() -> None:
    base = VadConfig(barge_in_threshold=0.7, barge_in_min_speech_ms=120, barge_in_cooldown_ms=0, barge_in_echo_gate=False,
                     barge_in_max_gap_ms=0)
    lead = [(0.1, 0)] * 5
    dipped = lead + [(0.9, 0)] * 3 + [(0.5, 0)] + [(0.9, 0)] * 3 + [(0.1, 0)] * 5  # 6 frames of speech, one dip
    playing = [True] * len(dipped)
    assert run(dipped, base, playing) == []  # gap 0: the dip starts the run again, 3 + 3 < 6 frames
    gap = dataclasses.replace(base, barge_in_max_gap_ms=40)  # two frames (the default)
    assert VadConfig().barge_in_max_gap_ms == 40
    events = run(dipped, gap, playing)
    assert kinds(events) == ["speech_start", "barge_in"]
    assert events[1].sample == 5 * HOP  # dated from the run's first frame, before the dip
    assert events[1].decided_at == 12 * HOP  # the dip's frame does not count: decided on the 6th frame above
    long_dip = lead + [(0.9, 0)] * 3 + [(0.5, 0)] * 3 + [(0.9, 0)] * 3 + [(0.1, 0)] * 5
    assert run(long_dip, gap, [True] * len(long_dip)) == []  # a dip longer than the gap ends the run
    two_dips = lead + [(0.9, 0)] * 2 + [(0.5, 0)] * 2 + [(0.9, 0)] * 2 + [(0.5, 0)] * 2 + [(0.9, 0)] * 2
    assert kinds(run(two_dips, gap, [True] * len(two_dips))) == ["speech_start", "barge_in"]  # each dip is short
    listening = lead + [(0.9, 0)] * 2 + [(0.1, 0)] + [(0.9, 0)] * 2 + [(0.1, 0)] * 3
    assert run(listening, dataclasses.replace(gap, min_speech_ms=60)) == []  # only barge-in runs hold through dips


def test_a_quick_barge_in_run_of_high_probability_frames_only_when_asked() -> None:
    base = VadConfig(barge_in_threshold=0.7, barge_in_min_speech_ms=120, barge_in_cooldown_ms=0, barge_in_echo_gate=False,
                     barge_in_max_gap_ms=0, barge_in_fast_min_speech_ms=0)
    assert VadConfig().barge_in_fast_min_speech_ms == 60 and VadConfig().barge_in_fast_threshold == 0.95  # the defaults
    lead = [(0.1, 0)] * 5
    sure = lead + [(0.97, 0)] * 8
    events = run(sure, base, [True] * len(sure))
    assert events[1].kind == "barge_in" and events[1].decided_at == 11 * HOP  # the usual 6 frames
    fast = dataclasses.replace(base, barge_in_fast_min_speech_ms=80, barge_in_fast_threshold=0.95)
    events = run(sure, fast, [True] * len(sure))
    assert kinds(events) == ["speech_start", "barge_in"]
    assert events[1].decided_at == 9 * HOP and events[1].sample == 5 * HOP  # 4 frames at >= 0.95
    # frames between the two thresholds count toward the usual run only; the quick run dates from its own start
    mixed = lead + [(0.8, 0)] + [(0.97, 0)] * 4 + [(0.1, 0)] * 3
    assert run(mixed, base, [True] * len(mixed)) == []  # 5 frames: too short for the usual run alone
    events = run(mixed, fast, [True] * len(mixed))
    assert kinds(events) == ["speech_start", "barge_in"]
    assert events[1].decided_at == 10 * HOP and events[1].sample == 6 * HOP
    three = lead + [(0.97, 0)] * 3 + [(0.1, 0)] * 5
    assert run(three, fast, [True] * len(three)) == []  # too short for either run
    assert kinds(run(sure, fast)) == ["speech_start"]  # listening: the quick run is a barge-in rule only
    # a quick run's frames also need barge_in_threshold: a lower fast threshold is no looser than the usual one
    low = dataclasses.replace(fast, barge_in_fast_threshold=0.5)
    between = lead + [(0.6, 0)] * 8
    assert run(between, low, [True] * len(between)) == []
    # with the echo gate, the quick run's own frames must not be echo-dominated
    gated = dataclasses.replace(fast, barge_in_echo_gate=True)
    assert run(sure, gated, [True] * len(sure), echo=[True] * len(sure)) == []
    assert kinds(run(sure, gated, [True] * len(sure), echo=[False] * len(sure))) == ["speech_start", "barge_in"]


def test_no_barge_in_while_blocked_and_a_fresh_run_after() -> None:
    cfg = VadConfig(barge_in_threshold=0.7, barge_in_min_speech_ms=100, barge_in_cooldown_ms=0, barge_in_echo_gate=False,
                    barge_in_fast_min_speech_ms=0)
    ep = Endpointer(cfg)
    events = [ev for t in range(30) for ev in ep.process(0.95, 0.0, playing=True, barge_in_blocked=t < 20)]
    assert kinds(events) == ["speech_start", "barge_in"]
    assert events[1].decided_at == 25 * HOP and events[1].sample == 20 * HOP  # counted from the end of the block
    listening = Endpointer(cfg)  # the block is about barge-ins only: listening is not affected
    assert kinds([ev for _ in range(10) for ev in listening.process(0.95, 0.0, barge_in_blocked=True)]) == ["speech_start"]


def test_barge_in_needs_a_share_of_double_talk_frames_in_its_last_window() -> None:
    # 5-frame window, share 0.4: two frames of the last five not echo-dominated
    cfg = VadConfig(barge_in_threshold=0.7, barge_in_min_speech_ms=100, barge_in_cooldown_ms=0, barge_in_fast_min_speech_ms=0,
                    barge_in_double_talk_share=0.4, barge_in_echo_gate=True, barge_in_max_gap_ms=0)
    n = 30
    playing = [True] * n
    one_in_five = [t % 5 != 0 for t in range(n)]  # the double-talk test fires on every 5th frame only
    assert run([(0.95, 0)] * n, cfg, playing, echo=one_in_five) == []
    two_in_five = [t % 5 not in (0, 2) for t in range(n)]
    events = run([(0.95, 0)] * n, cfg, playing, echo=two_in_five)
    assert kinds(events) == ["speech_start", "barge_in"]
    assert events[1].decided_at == 5 * HOP and events[1].sample == 0  # frames 0 and 2 of the first window
    # echo-dominated speech before the user does not pile up: only the last window counts
    late = [t < 20 or t % 5 not in (0, 2) for t in range(n)]
    events = run([(0.95, 0)] * n, cfg, playing, echo=late)
    assert events[1].decided_at == 23 * HOP and events[1].sample == 18 * HOP
    # a silent frame ends the run (and its window)
    gaps = [(0.95 if t % 4 else 0.1, 0) for t in range(n)]
    assert run(gaps, cfg, playing, echo=[False] * n) == []
    # share 1.0: every frame of the window
    strict = dataclasses.replace(cfg, barge_in_double_talk_share=1.0)
    assert run([(0.95, 0)] * n, strict, playing, echo=two_in_five) == []
    assert kinds(run([(0.95, 0)] * n, strict, playing, echo=[t < 10 for t in range(n)])) == ["speech_start", "barge_in"]


def test_release_threshold_above_speech_threshold_is_a_config_error() -> None:
    from agent.config import ConfigError, build

    try:
        build(VadConfig, {"speech_threshold": 0.3, "release_threshold": 0.5})
    except ConfigError as exc:
        assert "release_threshold" in str(exc)
    else:
        raise AssertionError("expected a ConfigError")


def test_frame_dcf_weights() -> None:
    truth = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    dec = np.array([1, 0, 0, 0, 0, 0, 1, 1], bool)
    m = frame_dcf(dec, truth)
    assert m["p_false"] == 0.25 and m["p_miss"] == 0.5
    assert np.isclose(m["dcf"], 0.75 * 0.25 + 0.25 * 0.5) and np.isclose(m["dcf_reverse"], 0.25 * 0.25 + 0.75 * 0.5)


def test_turn_metrics_latency_premature_and_onset() -> None:
    sr = 16000
    turn = {"speech": [[1.0, 2.0], [2.5, 3.0]], "clause_pauses": [[2.0, 2.5]], "sentence_gaps": [], "end_s": 3.0}
    from models.vad.endpointer import VadEvent

    events = [VadEvent("speech_start", 16000, int(1.1 * sr)), VadEvent("end_of_turn", 32000, int(2.2 * sr)),
              VadEvent("end_of_turn", 48000, int(3.25 * sr))]
    m = turn_metrics(events, [(0, turn)], 6 * sr)
    assert m["clause_pause_premature"] == [1]
    assert np.isclose(m["eot_latency_ms"][0], 250.0) and m["eot_missed"] == [0]
    assert np.isclose(m["onset_latency_ms"][0], 100.0)
    mask = speech_mask([VadEvent("speech_start", 3200, 0), VadEvent("speech_end", 6400, 0)], 30)
    assert mask.sum() == 10 and mask[10] and not mask[20]


def test_playing_frames_hold_for_the_echo_tail() -> None:
    far = np.array([0, 1, 1, 0, 0, 0, 0, 1, 0, 0], dtype=np.int8)
    assert playing_frames(far, 2).tolist() == [False, True, True, True, True, False, False, True, True, True]
    assert not playing_frames(np.zeros(4), 3).any()


def test_barge_in_metrics_judge_only_turns_begun_during_playback() -> None:
    from models.vad.endpointer import VadEvent

    sr = 16000
    turn = {"speech": [[0.5, 1.5]], "end_s": 1.5}
    placed = [(0, turn), (3 * sr, turn)]  # clause onsets at 0.5 s and 3.5 s
    playing = np.zeros(250, dtype=bool)
    playing[:100] = True  # the agent plays during the first 2 s only
    events = [VadEvent("barge_in", int(0.5 * sr), int(0.7 * sr)), VadEvent("barge_in", int(3.5 * sr), int(3.6 * sr))]
    out = barge_in_metrics(events, placed, playing, 5 * sr)
    assert out == {"barge_in_latency_ms": [200.0], "barge_in_missed": [0]}  # the second turn: not during playback
    assert barge_in_metrics([], placed, playing, 5 * sr)["barge_in_missed"] == [1]
    summary = summarize_barge_in({"barge_in_latency_ms": [100.0, 300.0], "barge_in_missed": [0, 0, 1, 1]})
    assert summary["barge_in_latency_median_ms"] == 200.0 and summary["barge_in_missed_rate"] == 0.5
    assert summary["barge_in_turns"] == 4
    assert np.isnan(summarize_barge_in({"barge_in_latency_ms": [], "barge_in_missed": []})["barge_in_missed_rate"])
