"""Conversation scenarios: parsing errors, a short scenario through the real agent with its report, and the CLI's
verdict (a failing expectation is a non-zero exit)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.__main__ import main
from agent.config import ConfigError, load_config
from agent.pipeline import load_models
from agent.responders.rules import load_intents
from agent.simulate import library_line, library_metrics, load_scenario, run_scenario, write_report

SHORT = """\
description: One question after the greeting, answered by the rules responder.
duration_s: 15
agent: {greeting: "নমস্কার!", responder: rules}
users:
  - {say: "এখন কয়টা বাজে?", cue: agent_done, after_s: 0.5}
expect:
  turns_at_least: 1
  reply_within_ms: 2000
  no_barge_in: true
"""


@pytest.mark.parametrize("text, message", [
    ("duration_s: 0\n", r"duration_s: 0.* out of range"),
    ("users: [{say: hi, cue: later}]\n", r"users\[0\]\.cue: 'later' is not allowed"),
    ("users: [{say: ''}]\n", "say: the line is empty"),
    ("room: {volume: 2}\n", r"room\.volume: 2.* out of range"),
    ("expect: {interrupt_within: 5}\n", r"unknown key 'expect\.interrupt_within'"),
    ("users: {say: hi}\n", "users"),
    ("agent: {greeting_file: no/such/file.txt}\n", r"agent\.greeting_file: cannot read .*file\.txt"),
])
def test_bad_scenarios_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        load_scenario(f)
    assert str(f) in str(info.value)


def test_the_shipped_scenario_library_parses() -> None:
    files = sorted((Path(__file__).parents[2] / "configs" / "scenarios").rglob("*.yaml"))
    assert len(files) >= 7
    scenarios = {f.stem: load_scenario(f) for f in files}
    assert {"barge_in_ser_-10", "monologue_full_volume", "delay_jump_and_drift", "monologue_30min"} <= set(scenarios)
    # the long monologue reads a whole sentence list: at 15 characters a second, more than 30 minutes of speech
    assert len(scenarios["monologue_30min"].agent.full_greeting) > 15 * 1800
    for scenario in scenarios.values():  # every rules file a scenario names loads (resolved as the agent does)
        if scenario.agent.responder == "rules":
            load_intents(scenario.agent.rules_file)
    # the series' replies are fixed (one per user line), so its latencies do not move with the ASR model
    intents, replies = load_intents(scenarios["barge_in_series"].agent.rules_file)
    assert intents == [] and len(replies) == len(scenarios["barge_in_series"].users)


def test_a_greeting_file_is_read_without_comments(tmp_path: Path) -> None:
    text = tmp_path / "talk.txt"
    text.write_text("# a comment\nপ্রথম বাক্য।\n\n  দ্বিতীয় বাক্য।\n", encoding="utf-8")
    f = tmp_path / "s.yaml"
    f.write_text(f"agent: {{greeting_file: {text}}}\n", encoding="utf-8")
    assert load_scenario(f).agent.full_greeting == "প্রথম বাক্য। দ্বিতীয় বাক্য।"
    text.write_text("# only a comment\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="holds no text"):
        load_scenario(f)


def _metrics(latencies: list[float], interruptions: int, missed: int, false: int, speech_s: float,
             eot: list[float], reply: list[float]) -> dict:
    return {"barge_in_latency_ms": latencies, "interruptions": interruptions, "missed_barge_ins": missed,
            "false_barge_ins": false, "agent_speech_s": speech_s, "end_of_turn_latency_ms": eot,
            "response_latency_ms": reply}


def test_library_metrics_pool_the_scenarios() -> None:
    pooled = library_metrics([_metrics([170.0, 190.0], 2, 0, 0, 600.0, [440.0], [120.0]),
                              _metrics([240.0], 2, 1, 0, 300.0, [520.0, 580.0], [80.0]),
                              _metrics([], 0, 0, 1, 2700.0, [], [])])
    assert pooled["interruptions"] == 4 and pooled["missed_share"] == 0.25
    assert pooled["barge_in_p50_ms"] == 190.0 and 230.0 < pooled["barge_in_p95_ms"] <= 240.0
    assert pooled["agent_speech_h"] == 1.0 and pooled["false_barge_ins"] == 1 and pooled["false_barge_ins_per_h"] == 1.0
    assert pooled["end_of_turn_p50_ms"] == 520.0 and pooled["response_p50_ms"] == 100.0
    assert pooled["ends_of_turn"] == 3 and pooled["premature_ends_of_turn"] == 0
    line = library_line(pooled)
    assert "end of turn p50 520 ms (0 premature of 3)" in line
    assert "p50 190 ms" in line and "missed 25.0 %" in line and "60.0 min of agent speech (1 per hour)" in line
    empty = library_metrics([_metrics([], 0, 0, 0, 0.0, [], [])])
    assert empty["barge_in_p50_ms"] is None and empty["missed_share"] is None and empty["false_barge_ins_per_h"] is None
    assert "p50 -" in library_line(empty)


@pytest.mark.slow
def test_a_short_scenario_runs_and_writes_its_report(tmp_path: Path) -> None:
    f = tmp_path / "question.yaml"
    f.write_text(SHORT, encoding="utf-8")
    scenario = load_scenario(f)
    result = run_scenario(scenario, load_models(load_config()))
    assert [c["name"] for c in result.checks] == ["no_barge_in", "reply_within_ms", "turns_at_least"]
    assert result.metrics["turns"] == 1 and result.metrics["response_latency_ms"]
    assert result.passed == all(c["passed"] for c in result.checks)
    files = write_report(result, tmp_path / "out")
    assert {p.name for p in files} == {"report.json", "report.md", "events.jsonl", "timeline.png", "spectrograms.png"}
    for png in ("timeline.png", "spectrograms.png"):
        data = (tmp_path / "out" / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["name"] == "question" and report["metrics"]["transcripts"]
    assert "| T1 |" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_cli_fails_on_an_unmet_expectation(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    f = tmp_path / "impossible.yaml"
    f.write_text(SHORT.replace("reply_within_ms: 2000", "reply_within_ms: 0.001"), encoding="utf-8")
    rc = main(["simulate", str(f), "--out", str(tmp_path / "out"), "--no-pictures"])
    out = capsys.readouterr().out
    assert rc == 1 and "impossible: FAIL" in out and "reply_within_ms failed" in out
    assert not (tmp_path / "out" / "timeline.png").exists()
    assert main(["simulate"]) == 2
    # several scenarios: the summary table and the library's pooled numbers
    g = tmp_path / "question.yaml"
    g.write_text(SHORT, encoding="utf-8")
    rc = main(["simulate", str(f), str(g), "--out", str(tmp_path / "two"), "--no-pictures"])
    out = capsys.readouterr().out
    pooled = json.loads((tmp_path / "two" / "library.json").read_text(encoding="utf-8"))
    assert rc == 1 and "library (2 scenarios)" in out and pooled["scenarios"] == 2 and pooled["interruptions"] == 0
    assert pooled["agent_speech_h"] > 0 and pooled["response_p50_ms"] is not None
    assert len(json.loads((tmp_path / "two" / "summary.json").read_text(encoding="utf-8"))) == 2


def test_a_line_that_starts_as_the_reply_ends_on_its_own_is_not_a_missed_barge_in() -> None:
    from types import SimpleNamespace

    from agent.config import AgentConfig
    from agent.events import Event
    from agent.session import SessionSummary
    from agent.simulate.run import measure

    sr = 16000
    events = [Event("playback_stopped", 2 * sr + 3200, 0.0),  # line 0 interrupted after 200 ms
              Event("reply_done", 10 * sr + 800, 0.0, {"cancelled": False}),  # ends 50 ms after line 1 starts
              Event("reply_done", 21 * sr, 0.0, {"cancelled": False}),  # ends 1 s after line 2 starts: a miss
              # ends of turn: inside line 0 with 1 s of its speech to come (premature); 100 ms before line 1's speech
              # ends (within the slack: not premature); after line 2's speech
              Event("end_of_turn", 2 * sr, 0.0, {"decided_at": 3 * sr}),
              Event("end_of_turn", 11 * sr, 0.0, {"decided_at": int(11.5 * sr)}),
              Event("end_of_turn", 21 * sr, 0.0, {"decided_at": 22 * sr})]
    summary = SessionSummary(duration_s=30.0, stop_reason="script finished")
    session = SimpleNamespace(events=events, config=AgentConfig(), summary=summary,
                              backend=SimpleNamespace(playback=SimpleNamespace(played_samples=20 * sr)))
    speech_ends = (4 * sr, int(11.6 * sr), int(21.5 * sr))
    user = SimpleNamespace(placed=[SimpleNamespace(onset=o * sr, end=(o + 2) * sr, speech_end=e)
                                   for o, e in zip((2, 10, 20), speech_ends, strict=True)])
    m = measure(session, user, [True, True, True])
    assert m["barge_in_latency_ms"] == [200.0]
    assert m["agent_finished_first"] == 1 and m["missed_barge_ins"] == 1 and m["interruptions"] == 2
    assert m["false_barge_ins"] == 0
    assert m["premature_ends_of_turn"] == 1


def test_speech_offset_finds_the_last_active_frame() -> None:
    import numpy as np

    from agent.scripted_user import speech_offset, speech_onset

    x = np.zeros(16000)
    x[3200:4800] = 0.5  # speech 200-300 ms
    x[8000:9600] = 0.1  # a quieter word 500-600 ms (-14 dB: within the -30 dB floor)
    x[12000:12160] = 0.001  # a faint click at 750 ms (-54 dB: not speech)
    assert speech_onset(x) == 3200 and speech_offset(x) == 9600
    assert speech_offset(np.zeros(100)) == 100


def test_a_stop_the_agent_took_back_is_no_interruption() -> None:
    """agent.backchannel_max_ms: a stop followed by playback_resumed is fine within a line not meant to interrupt
    (a backchannel), a miss within one meant to interrupt, and a false barge-in outside every line."""
    from types import SimpleNamespace

    from agent.config import AgentConfig
    from agent.events import Event
    from agent.session import SessionSummary
    from agent.simulate.run import measure

    sr = 16000
    events = [Event("playback_stopped", 2 * sr + 3200, 0.0), Event("playback_resumed", 3 * sr, 0.0),  # in line 0
              Event("playback_stopped", 10 * sr + 3200, 0.0), Event("playback_resumed", 11 * sr, 0.0),  # in line 1
              Event("playback_stopped", 15 * sr, 0.0), Event("playback_resumed", 16 * sr, 0.0),  # in no line
              Event("playback_stopped", 20 * sr + 4800, 0.0)]  # line 2: a real interruption after 300 ms
    session = SimpleNamespace(events=events, config=AgentConfig(), summary=SessionSummary(duration_s=30.0),
                              backend=SimpleNamespace(playback=SimpleNamespace(played_samples=20 * sr)))
    user = SimpleNamespace(placed=[SimpleNamespace(onset=o * sr, end=o * sr + 8000, speech_end=o * sr + 8000)
                                   for o in (2, 10, 20)])
    m = measure(session, user, [False, True, True])
    assert m["resumed"] == 3
    assert m["barge_in_latency_ms"] == [300.0] and m["missed_barge_ins"] == 1
    assert m["false_barge_ins"] == 1
