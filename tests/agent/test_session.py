"""The asyncio session: turn flow with a scripted listening pipeline (exact, fast), then the real chain,
VAD and ASR in the simulated room (a scripted user interrupts; the agent's own voice at full volume)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from agent.__main__ import main
from agent.backends import BackendChoice
from agent.config import AgentConfig, load_config
from agent.events import read_event_log
from agent.pipeline import BlockResult, ListeningPipeline, load_models
from agent.responders import Responder, Turn
from agent.responders.echo import EchoResponder
from agent.runner import build_backend
from agent.session import Session
from agent.speech_out import EspeakEngine, SpeechEngine
from audio_io.backend import WavBackend
from models.vad.endpointer import VadEvent

SR = 16000
BLOCK = 320


def configured(**agent) -> AgentConfig:  # noqa: ANN003
    cfg = load_config()
    return dataclasses.replace(cfg, agent=dataclasses.replace(cfg.agent, **agent))


class ToneEngine(SpeechEngine):
    """Test double for the TTS: one second of a 440 Hz tone per sentence."""

    name = "tone"

    def stream(self, text: str) -> Iterator[np.ndarray]:
        for _ in [s for s in text.split("।") if s.strip()]:
            yield (0.3 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)).astype(np.float32)


class ScriptedPipeline:
    """Test double for the listening pipeline: VAD events at given blocks, a fixed transcript."""

    def __init__(self, script: dict[int, list[str]], transcript: str) -> None:
        self.script = script
        self.transcript = transcript
        self.block = 0
        self.refs: list[np.ndarray] = []
        self.started_at: list[int] = []
        self.model_paths = {"res": "scripted", "vad": "-", "asr": "-"}
        self.p_ride: float | None = None  # what a short-word spotter says (None: no spotter)
        self.ride_onsets: list[int] = []

    def process(self, block) -> BlockResult:  # noqa: ANN001
        self.refs.append(block.ref.copy())
        end = block.start_sample + block.num_samples
        events = [VadEvent(kind, block.start_sample - 2 * BLOCK, end) for kind in self.script.get(self.block, [])]
        self.block += 1
        return BlockResult(events=events)

    def start_utterance(self, from_sample: int) -> str | None:
        self.started_at.append(from_sample)
        return None

    def finish_utterance(self) -> str:
        return self.transcript

    def peek_utterance(self) -> str:
        return self.transcript

    def cancel_utterance(self) -> None:
        self.started_at.append(-1)  # marks the cancel

    def ride_probability(self, onset: int) -> float | None:
        self.ride_onsets.append(onset)
        return self.p_ride


def run_scripted(script: dict[int, list[str]], responder: Responder | None = None, seconds: float = 6.0,
                 transcript: str = "আজ কী বার", p_ride: float | None = None,
                 **agent) -> tuple[Session, ScriptedPipeline, WavBackend]:  # noqa: ANN003
    cfg = configured(**{"greeting": "এক। দুই। তিন।", **agent})
    pipeline = ScriptedPipeline(script, transcript)
    pipeline.p_ride = p_ride
    backend = WavBackend(np.zeros(int(seconds * SR), np.float32))
    session = Session(cfg, backend, pipeline, ToneEngine(), responder or EchoResponder(cfg))  # type: ignore[arg-type]
    asyncio.run(session.run())
    return session, pipeline, backend


def test_barge_in_stops_playback_on_the_next_block_and_the_turn_is_answered() -> None:
    session, pipeline, backend = run_scripted({50: ["speech_start", "barge_in"], 100: ["end_of_turn"]})
    ev = {e.kind: e for e in reversed(session.events)}  # first event of each kind
    kinds = [e.kind for e in session.events]
    assert kinds.index("barge_in") < kinds.index("playback_stopped") < kinds.index("final")
    decided = ev["barge_in"].data["decided_at"]
    assert decided == 51 * BLOCK
    stopped = ev["playback_stopped"].sample
    assert stopped == decided  # the very next block fades out
    refs = np.concatenate(pipeline.refs)
    assert np.abs(refs[decided - BLOCK:decided]).max() > 0.1  # the greeting was playing
    fade = int(session.config.audio.stop_fade_ms * SR / 1000)
    assert np.abs(refs[stopped + fade:100 * BLOCK]).max() == 0.0  # silent after the fade until the reply
    assert pipeline.started_at == [ev["speech_start"].sample]
    assert ev["final"].data["text"] == "আজ কী বার"
    assert ev["reply_text"].data["text"].startswith("এক")  # the greeting's first sentence
    assert ev["reply_audio"].data["text"] == ev["reply_text"].data["text"]
    cancelled = [e for e in session.events if e.kind == "reply_done" and e.data["cancelled"]]
    assert len(cancelled) == 1 and cancelled[0].data["spoken"].startswith("এক")
    assert session.summary.turns == [{"user": "আজ কী বার", "agent": "আপনি বললেন: আজ কী বার।"}]
    assert session.summary.response_latency_ms and session.summary.barge_ins == 1
    assert np.abs(refs[101 * BLOCK:]).max() > 0.1  # the reply was played
    assert session.turns.state == "listening"


def test_a_backchannel_pauses_the_reply_and_it_resumes_where_it_stopped_losing_nothing() -> None:
    """agent.backchannel_max_ms: a 200 ms run while the greeting plays stops playback at once, then (no stop word in
    its words) the greeting resumes after the speech end and plays to its end: every sample of its three seconds
    is heard once (apart from the two fades); the backchannel's end of turn is no turn."""
    script = {50: ["speech_start", "barge_in"], 60: ["speech_end"], 80: ["end_of_turn"]}
    session, pipeline, _ = run_scripted(script, seconds=8.0, transcript="হুঁ", backchannel_max_ms=500.0)
    kinds = [e.kind for e in session.events]
    assert kinds.index("playback_stopped") < kinds.index("playback_resumed")
    assert "end_of_turn" not in kinds and "final" not in kinds and session.summary.turns == []
    (resumed,) = [e for e in session.events if e.kind == "playback_resumed"]
    assert resumed.data["speech_ms"] == 200.0 and resumed.sample == 61 * BLOCK and resumed.data["heard"] == "হুঁ"
    assert resumed.data["paused_ms"] == (61 - 51) * BLOCK * 1000 / SR
    (done,) = [e for e in session.events if e.kind == "reply_done"]
    assert not done.data["cancelled"] and done.data["spoken"] == "এক। দুই। তিন।"
    refs = np.concatenate(pipeline.refs)
    assert np.abs(refs[52 * BLOCK:61 * BLOCK]).max() == 0.0  # silent while paused
    fade = int(session.config.audio.stop_fade_ms * SR / 1000)
    heard = np.count_nonzero(refs)
    assert 3 * SR - 2 * fade <= heard <= 3 * SR, heard
    assert pipeline.started_at == [script_sample(50), -1]  # the ASR started at the onset, then dropped
    assert session.summary.resumed == 1 and session.summary.barge_ins == 1
    from agent.runner import describe

    assert describe(resumed) == "[   1.22 s] backchannel (200 ms): the reply resumes after 200 ms"


def script_sample(block: int) -> int:
    """The sample ScriptedPipeline gives an event scripted at ``block``."""
    return block * BLOCK - 2 * BLOCK


@pytest.mark.parametrize("transcript, speech_end_block", [("না", 60), ("পাশ", 60), ("আজ কী বার", 100)])
def test_a_stop_word_or_a_long_run_cancels_the_held_reply(transcript: str, speech_end_block: int) -> None:
    script = {50: ["speech_start", "barge_in"], speech_end_block: ["speech_end"], speech_end_block + 20: ["end_of_turn"]}
    session, _, _ = run_scripted(script, seconds=10.0, transcript=transcript, backchannel_max_ms=500.0)
    kinds = [e.kind for e in session.events]
    assert "playback_resumed" not in kinds
    cancelled = [e for e in session.events if e.kind == "reply_done" and e.data["cancelled"]]
    assert len(cancelled) == 1 and cancelled[0].data["spoken"].startswith("এক")
    assert session.summary.turns and session.summary.turns[0]["user"] == transcript


@pytest.mark.parametrize("transcript, p_ride, resumes", [
    ("পাশ", 0.9, True),  # the spotter calls it a backchannel: the ASR's odd word does not stop the agent
    ("", 0.2, False),  # the spotter calls it a command: no words heard, the agent stops all the same
    ("না", 0.95, False),  # a stop word the ASR hears always stops
    ("হুঁ", 0.5, True),  # at the threshold: resumes
])
def test_with_a_short_word_spotter_its_verdict_replaces_the_word_lists(transcript: str, p_ride: float,
                                                                       resumes: bool) -> None:
    """agent.short_word_model: the spotter's p_ride (of the audio since the speech start) against
    agent.short_word_threshold decides; a stop word the ASR heard stops; the short_run event reports both."""
    script = {50: ["speech_start", "barge_in"], 60: ["speech_end"], 80: ["end_of_turn"]}
    session, pipeline, _ = run_scripted(script, seconds=10.0, transcript=transcript, p_ride=p_ride,
                                        backchannel_max_ms=500.0, short_word_threshold=0.5)
    (checked,) = [e for e in session.events if e.kind == "short_run"]
    assert checked.data == {"heard": transcript, "p_ride": p_ride, "stops": not resumes}
    assert pipeline.ride_onsets == [script_sample(50)]  # the audio from the speech start
    from agent.runner import describe

    assert describe(checked).endswith(f"spotter p_ride {p_ride:.2f}: "
                                      + ("a backchannel, the reply goes on" if resumes else "the agent stops"))
    assert any(e.kind == "playback_resumed" for e in session.events) == resumes
    assert any(e.kind == "reply_done" and e.data["cancelled"] for e in session.events) != resumes


def test_a_failing_spotter_is_reported_and_the_word_lists_judge_the_run() -> None:
    """A spotter that raises (a corrupt window, onnxruntime trouble) does not end the session: an error event, then
    the ASR's words against the lists (হুঁ is a backchannel word: the reply resumes)."""
    script = {50: ["speech_start", "barge_in"], 60: ["speech_end"], 80: ["end_of_turn"]}
    cfg = configured(greeting="এক। দুই। তিন।", backchannel_max_ms=500.0)
    pipeline = ScriptedPipeline(script, "হুঁ")

    def broken(onset: int) -> float:
        raise ValueError("the spotter takes 320-160000 samples of audio, got 12")

    pipeline.ride_probability = broken  # type: ignore[method-assign]
    session = Session(cfg, WavBackend(np.zeros(8 * SR, np.float32)), pipeline, ToneEngine(),  # type: ignore[arg-type]
                      EchoResponder(cfg))
    asyncio.run(session.run())
    (error,) = [e for e in session.events if e.kind == "error"]
    assert error.data["where"] == "short_word_spotter" and "samples" in error.data["message"]
    (checked,) = [e for e in session.events if e.kind == "short_run"]
    assert checked.data == {"heard": "হুঁ", "p_ride": None, "stops": False}
    assert any(e.kind == "playback_resumed" for e in session.events)


def test_stop_words_match_whole_words_whatever_the_case_and_punctuation() -> None:
    from agent.session import stopping_word

    words = ("না", "stop")
    assert stopping_word("না, থামো", words) == "না"
    assert stopping_word("Stop!", words) == "stop"
    assert stopping_word("নানা রকম", words) == "" and stopping_word("হুঁ", words) == ""
    assert stopping_word("", words) == ""


def test_a_word_outside_the_backchannel_words_stops_the_agent_and_silence_or_backchannels_do_not() -> None:
    """agent.backchannel_words: a short run the ASR misheard (না as «পাশ») is a command all the same; a cough (no
    words) or হুঁ / Uh-huh resumes; a stop word is found even among backchannel words."""
    from agent.session import stopping_word

    stops, backchannels = ("না", "stop"), ("হুঁ", "হ্যাঁ", "uh-huh", "ok")
    assert stopping_word("পাশ", stops, backchannels) == "পাশ"
    assert stopping_word("হ্যাঁ র", stops, backchannels) == "র"
    assert stopping_word("হ্যাঁ না", stops, backchannels) == "না"
    assert stopping_word("", stops, backchannels) == "" and stopping_word(" । ", stops, backchannels) == ""
    assert stopping_word("হুঁ, হ্যাঁ", stops, backchannels) == "" and stopping_word("Uh-huh. OK!", stops, backchannels) == ""
    assert stopping_word("পাশ", stops, ()) == ""  # no list: only stop words stop


def test_a_reply_longer_than_the_playback_queue_waits_for_room_and_is_spoken_whole() -> None:
    cfg = configured(greeting="এক। দুই। তিন। চার। পাঁচ। ছয়।")
    pipeline = ScriptedPipeline({}, "")
    backend = WavBackend(np.zeros(9 * SR, np.float32), playback_buffer_s=2.5)  # room for two 1 s sentences
    session = Session(cfg, backend, pipeline, ToneEngine(), EchoResponder(cfg))  # type: ignore[arg-type]
    asyncio.run(session.run())
    assert not [e for e in session.events if e.kind == "error"]
    assert [e.data["text"] for e in session.events if e.kind == "reply_text"] == [
        "এক।", "দুই।", "তিন।", "চার।", "পাঁচ।", "ছয়।"]
    assert backend.playback.played_samples == 6 * SR  # every sentence reached the speaker
    done = [e for e in session.events if e.kind == "reply_done"]
    assert len(done) == 1 and not done[0].data["cancelled"]


class SlowResponder(Responder):
    """Answers after ``wait_s`` of wall clock (a responder that computes)."""

    name = "slow"

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s

    async def reply(self, turn: Turn):  # noqa: ANN201
        await asyncio.sleep(self.wait_s)
        yield "উত্তর।"


def run_in_room(compute: str, wait_s: float, latency_ms: float = 200.0) -> tuple[Session, np.ndarray]:
    """The scripted pipeline's turn (end of turn decided at the end of block 30) in a fast simulated room."""
    from audio_io.backend import RoomBackend
    from audio_io.room import SimulatedRoom

    cfg = configured(greeting="")
    cfg = dataclasses.replace(cfg, room=dataclasses.replace(cfg.room, compute=compute, compute_latency_ms=latency_ms))
    pipeline = ScriptedPipeline({10: ["speech_start"], 30: ["end_of_turn"]}, "আজ কী বার")
    backend = RoomBackend(SimulatedRoom(cfg.room), duration_s=3.0, compute=compute)
    session = Session(cfg, backend, pipeline, ToneEngine(), SlowResponder(wait_s))  # type: ignore[arg-type]
    asyncio.run(session.run())
    return session, np.concatenate(pipeline.refs)


def first_played_block(refs: np.ndarray) -> int:
    """The first sample of the first block in which anything was played."""
    return int(np.flatnonzero(np.abs(refs).reshape(-1, BLOCK).max(axis=1) > 0)[0]) * BLOCK


def test_fixed_compute_charges_its_latency_whatever_the_agent_takes_and_runs_repeat() -> None:
    decided = 31 * BLOCK
    starts, samples = [], []
    for wait_s in (0.0, 0.35):
        session, refs = run_in_room("fixed", wait_s)
        starts.append(first_played_block(refs))  # where the reply reached the speaker
        samples.append([(e.kind, e.sample) for e in session.events])
        assert session.summary.response_latency_ms == [(starts[-1] - decided) * 1000 / SR]
        assert session.summary.compute_ms[0] >= 1000 * wait_s  # the wall clock the responder took is reported
    assert starts[0] == starts[1] and samples[0] == samples[1]  # the same run, sample for sample
    # the reply's first audio is on the first block at least compute_latency_ms after the decision
    assert decided + 200 * SR // 1000 <= starts[0] < decided + 200 * SR // 1000 + 2 * BLOCK
    session, refs = run_in_room("fixed", 0.0, latency_ms=500.0)
    assert first_played_block(refs) - starts[0] == 300 * SR // 1000


def test_real_time_compute_lets_the_room_run_while_the_agent_computes() -> None:
    session, refs = run_in_room("real_time", 0.35)
    start = first_played_block(refs)
    assert start - 31 * BLOCK >= 0.35 * SR  # the responder's wall time passed in the room too
    assert not session.summary.compute_ms and session.summary.response_latency_ms[0] >= 350


class FailingResponder(Responder):
    name = "failing"

    async def reply(self, turn: Turn):  # noqa: ANN201
        yield "প্রথম বাক্য। "
        raise RuntimeError("backend down")


def test_a_failing_responder_is_answered_with_the_apology_and_the_agent_keeps_listening() -> None:
    cfg = configured()
    session, _, _ = run_scripted({10: ["speech_start"], 30: ["end_of_turn"], 200: ["speech_start"],
                                  220: ["end_of_turn"]}, FailingResponder(cfg), seconds=10.0, greeting="")
    errors = [e for e in session.events if e.kind == "error"]
    assert errors and "backend down" in errors[0].data["message"]
    said = [e.data["text"] for e in session.events if e.kind == "reply_text"]
    assert said == ["প্রথম বাক্য।", cfg.agent.apology] * 2  # the second turn is answered too


def test_event_log_is_json_lines(tmp_path: Path) -> None:
    from agent.runner import run_session

    log = tmp_path / "events.jsonl"
    cfg = configured(greeting="এক।", event_log=str(log))
    session = Session(cfg, WavBackend(np.zeros(SR, np.float32)), ScriptedPipeline({}, ""), ToneEngine(),
                      EchoResponder(cfg))  # type: ignore[arg-type]
    lines: list[str] = []
    asyncio.run(run_session(session, print_line=lines.append))
    events = read_event_log(log)
    kinds = [e["kind"] for e in events]
    assert kinds[:3] == ["session_start", "state", "reply_text"] and kinds[-1] == "session_end"
    assert events[1]["state"] == "thinking" and events[1]["previous"] == "listening"
    assert all({"sample", "time_s", "wall_ms"} <= set(e) for e in events)
    assert any("agent: এক।" in line for line in lines)


# --- the real listening pipeline in the simulated room ----------------------------------------------


@pytest.fixture(scope="module")
def models():  # noqa: ANN201 - loaded once: the ASR takes seconds
    return load_models(load_config())


def room_session(models, cfg: AgentConfig) -> Session:  # noqa: ANN001
    from models.aec.chain import EchoCanceller

    _, vad, asr = models
    vad.reset()
    pipeline = ListeningPipeline(cfg, EchoCanceller(cfg.aec), vad, asr)
    backend, user = build_backend(cfg, BackendChoice("room", "test"))
    return Session(cfg, backend, pipeline, EspeakEngine(cfg.tts), EchoResponder(cfg), user)


@pytest.mark.slow
def test_scripted_user_interrupts_is_transcribed_and_answered(models) -> None:  # noqa: ANN001
    session = room_session(models, configured())
    summary = asyncio.run(session.run())
    events = list(session.events)
    said = [e for e in events if e.kind == "user_said"]
    assert len(said) == 2
    stops = [e for e in events if e.kind == "playback_stopped"]
    assert stops, "the interruption was not detected"
    first_stop = stops[0]
    # The barge-in answers the user's first line (not the agent's own voice): it comes after the line began,
    # while the user is still speaking, and one block after the decision.
    line = session.user.placed[0]
    assert line.onset < first_stop.sample < line.end
    barge = next(e for e in events if e.kind == "barge_in")
    assert first_stop.sample == barge.data["decided_at"]
    assert first_stop.data["onset"] == "true" and first_stop.data["barge_in_latency_ms"] > 0
    finals = [e.data["text"] for e in events if e.kind == "final"]
    assert finals and finals[0].strip(), "the interruption was not transcribed"
    assert summary.turns and summary.turns[0]["agent"] == f"আপনি বললেন: {finals[0].strip()}।"
    replies = [e for e in events if e.kind == "reply_audio" and "response_latency_ms" in e.data]
    assert replies and replies[0].sample > first_stop.sample
    assert summary.stop_reason == "script finished"


@pytest.mark.slow
def test_the_text_cue_ends_the_turn_once_the_asr_words_are_read(models) -> None:  # noqa: ANN001
    """vad.text_cue on, set so that any words end a sentence and then end the turn: every end of turn comes
    text_cue_after_ms (+ one frame) into the pause, from the ASR stream's flushed text, not the VAD's threshold."""
    cfg = configured()
    cfg = dataclasses.replace(cfg, vad=dataclasses.replace(
        cfg.vad, text_cue="shipped", text_cue_after_ms=100.0, text_end_threshold=0.0,
        text_finished_eot_threshold=0.0, end_of_turn_threshold=1.0, max_silence_ms=3000.0))
    session = room_session(models, cfg)
    summary = asyncio.run(session.run())
    scorer = session.pipeline.text_scorer
    assert scorer is not None and scorer.peeks >= 2
    ends = [e for e in session.events if e.kind == "end_of_turn"]
    assert ends and summary.turns
    for e in ends:
        assert 100 <= (e.data["decided_at"] - e.sample) * 1000 / SR <= 140


def test_a_missing_text_cue_names_the_file_and_how_to_get_it(tmp_path: Path) -> None:
    from agent.pipeline import ModelLoadError, text_scorer_from_config

    assert text_scorer_from_config(load_config()) is None  # off by default
    on = text_scorer_from_config(load_config(overrides=["vad.text_cue=shipped"]))  # asked after 100 ms (5 frames)
    assert on is not None and on.after_frames == 5
    missing = tmp_path / "cue.json"
    with pytest.raises(ModelLoadError, match=r"cue\.json: no such file.*training\.vad text-cue"):
        text_scorer_from_config(load_config(overrides=[f"vad.text_cue={missing}"]))
    missing.write_text("{}")
    with pytest.raises(ModelLoadError, match="not a text cue"):
        text_scorer_from_config(load_config(overrides=[f"vad.text_cue={missing}"]))


@pytest.mark.slow
def test_a_minute_of_the_agents_own_voice_at_full_volume_never_barges_in(models) -> None:  # noqa: ANN001
    text = "আজ আবহাওয়া ভালো থাকবে, তবে বিকেলে বৃষ্টি হতে পারে। আমি আপনার সহকারী, আপনি যা জানতে চান আমাকে বলুন। " * 8
    cfg = configured(greeting=text, scripted_user=False, max_session_s=60.0)
    cfg = dataclasses.replace(cfg, room=dataclasses.replace(cfg.room, volume=1.0))
    session = room_session(models, cfg)
    summary = asyncio.run(session.run())
    played = [e for e in session.events if e.kind == "reply_text"]
    assert len(played) >= 10  # the agent really talked for most of the minute
    assert summary.barge_ins == 0
    assert not [e for e in session.events if e.kind in ("barge_in", "speech_start")]


def test_request_stop_ends_the_session_at_the_next_block() -> None:
    cfg = configured(greeting="এক। দুই।")
    session = Session(cfg, WavBackend(np.zeros(10 * SR, np.float32)), ScriptedPipeline({}, ""), ToneEngine(),
                      EchoResponder(cfg))  # type: ignore[arg-type]
    asked_at = []  # the stream position when the stop was asked (the reply's first audio)

    def stop(e) -> None:  # noqa: ANN001
        if e.kind == "reply_audio":
            asked_at.append(session.position)
            session.request_stop("Ctrl-C")

    session.listeners.append(stop)
    summary = asyncio.run(session.run())
    # When the first audio comes depends on the TTS thread (wall clock, machine load); the stop must follow it
    # within one block of the stream, whatever that position was.
    assert summary.stop_reason == "Ctrl-C" and asked_at
    assert summary.duration_s * SR - asked_at[0] <= BLOCK


def test_missing_or_corrupt_models_name_the_file_and_how_to_get_it(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from agent.pipeline import ModelLoadError

    bad = tmp_path / "vad.onnx"
    bad.write_bytes(b"not a model")
    for value in (str(bad), str(tmp_path / "missing.onnx")):
        with pytest.raises(ModelLoadError, match=rf"VAD model {value}: .*python -m training.vad"):
            load_models(load_config(overrides=[f"vad.model={value}"]))
    rc = main(["--set", "audio.backend=room", "--set", f"asr.model_dir={tmp_path}"])
    assert rc == 1 and f"ASR model {tmp_path}" in capsys.readouterr().err


def test_a_session_on_the_sound_card_backend_survives_a_device_error() -> None:
    """The device path through sounddevice's callback API (a stream double), with the device failing once."""
    from audio_io.device import DeviceBackend
    from tests.audio_io.test_device import FakeStream
    from tests.audio_io.test_device import cfg as device_cfg

    made: list[FakeStream] = []

    def factory(**kw):  # noqa: ANN003, ANN202
        made.append(FakeStream(source=np.zeros(48000 * 20, np.float32), fail_after=40 if not made else None, **kw))
        return made[-1]

    config = configured(greeting="এক। দুই।", max_session_s=3.0)
    backend = DeviceBackend(device_cfg(), stream_factory=factory)
    session = Session(config, backend, ScriptedPipeline({}, ""), ToneEngine(), EchoResponder(config))  # type: ignore[arg-type]
    summary = asyncio.run(asyncio.wait_for(session.run(), timeout=60))
    assert summary.stop_reason == "max_session_s reached"
    assert len(made) == 2 and backend.reopens == 1
    played = np.concatenate(made[0].played + made[1].played)
    assert np.abs(played).max() > 0.2  # the greeting reached the (fake) speaker
