"""The end-of-turn text cue: features, file format, training, the endpointer's use of it and the ASR's peek."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.config import VadConfig
from models.vad.endpointer import Endpointer
from models.vad.text_cue import (
    SHIPPED_CUE,
    PauseTextScorer,
    SentenceEndCue,
    TextCueError,
    asr_spans,
    endpoint_with_text,
    resolve_text_cue,
    text_features,
    words_of,
)


def test_words_drop_punctuation_and_keep_bangla_signs() -> None:
    assert words_of("আমি বাজারে গিয়েছিলাম, কিন্তু।") == ["আমি", "বাজারে", "গিয়েছিলাম", "কিন্তু"]
    assert words_of("Hello, World!") == ["hello", "world"]
    assert words_of(" ,. ") == []
    assert text_features([]) == []
    assert "w=world" in text_features(["hello", "world"]) and "p=hello" in text_features(["hello", "world"])


def test_cue_file_round_trips_and_bad_files_are_named(tmp_path: Path) -> None:
    cue = SentenceEndCue({"bias": -1.0, "w=done": 3.0}, {"command": "test"})
    path = tmp_path / "cue.json"
    cue.save(path)
    back = SentenceEndCue.load(path)
    assert back.probability("we are done") == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert back.probability("we are not") == pytest.approx(1 / (1 + np.exp(1.0)))
    assert back.probability("  ,") is None
    assert back.meta["command"] == "test"
    with pytest.raises(TextCueError, match="no such file"):
        SentenceEndCue.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(TextCueError, match="unreadable"):
        SentenceEndCue.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something else", "version": 1, "weights": {}}))
    with pytest.raises(TextCueError, match="not a text cue"):
        SentenceEndCue.load(tmp_path / "other.json")
    data = json.loads(path.read_text())
    data["weights"]["bias"] = "x"
    (tmp_path / "nan.json").write_text(json.dumps(data))
    with pytest.raises(TextCueError, match="finite numbers"):
        SentenceEndCue.load(tmp_path / "nan.json")
    assert resolve_text_cue(None) is None and resolve_text_cue("off") is None
    assert resolve_text_cue("shipped") == SHIPPED_CUE


def test_training_separates_finished_from_unfinished_held_out_sentences() -> None:
    from training.vad.text_cue import train_cue

    cue = train_cue(draws=1)
    held = cue.meta["metrics"]["held_out_clean"]
    assert held["examples"] > 100 and held["auc"] > 0.85, held
    assert cue.meta["metrics"]["held_out_noisy"]["auc"] < held["auc"] + 0.02  # the corrupted copies are harder


def test_shipped_cue_scores_held_out_sentences_above_their_clauses() -> None:
    from training.data.corpus import spoken_sentences
    from training.vad.text_cue import held_out

    cue = SentenceEndCue.load(SHIPPED_CUE)
    assert cue.meta["metrics"]["held_out_clean"]["auc"] > 0.9
    held = [s for _, s in spoken_sentences("bn") if held_out(s) and "," in s][:40]
    assert len(held) >= 10
    finished = [cue.probability(s) for s in held]
    clauses = [cue.probability(s.split(",")[0]) for s in held]
    assert np.median(finished) > 0.5 > np.median(clauses)


def drive(p_eot: float, text_end: float | None, frames: int = 40, config: VadConfig | None = None) -> list:
    cfg = config or VadConfig(min_speech_ms=20, max_silence_ms=5000, end_of_turn_threshold=0.9, text_end_threshold=0.5,
                              text_finished_eot_threshold=0.6, text_unfinished_eot_threshold=0.97)
    ep = Endpointer(cfg)
    events = []
    for _ in range(10):
        events += ep.process(0.9, 0.0)
    for _ in range(frames):
        events += ep.process(0.05, p_eot, text_end=text_end)
    return [e.kind for e in events]


def test_endpointer_threshold_follows_the_text_cue() -> None:
    # an end-of-turn probability of 0.7: below the plain threshold (0.9), above the finished-text one (0.6)
    assert "end_of_turn" not in drive(0.7, None)
    assert "end_of_turn" in drive(0.7, 0.9)
    assert "end_of_turn" not in drive(0.7, 0.1)
    # an unfinished text asks for more than the plain threshold
    assert "end_of_turn" in drive(0.95, None)
    assert "end_of_turn" not in drive(0.95, 0.1)
    assert "end_of_turn" in drive(0.98, 0.1)


class CountingStream:
    def __init__(self, text: str) -> None:
        self.text, self.peeks = text, 0

    def peek(self) -> str:
        self.peeks += 1
        return self.text


def test_pause_scorer_asks_once_per_pause_after_the_set_silence() -> None:
    cue = SentenceEndCue({"bias": -2.0, "w=done": 6.0})
    ep = Endpointer(VadConfig(min_speech_ms=20, max_silence_ms=5000, end_of_turn_threshold=1.0))
    scorer = PauseTextScorer.for_config(cue, VadConfig(text_cue_after_ms=100))  # 5 frames
    assert scorer.after_frames == 5
    stream = CountingStream("we are done")
    seen = []
    for p in [0.9] * 5 + [0.0] * 10 + [0.9] * 5 + [0.0] * 8:
        value = scorer.update(ep, stream)
        seen.append(value)
        ep.process(p, 0.0, text_end=value)
    assert stream.peeks == 2  # one per pause
    assert seen[:10] == [None] * 10  # speech, then the first 5 silent frames
    assert seen[10] == pytest.approx(1 / (1 + np.exp(-4.0)))
    assert seen[15] is not None and seen[16:20] == [None] * 4  # speech again (seen one frame late): forgotten
    assert scorer.update(ep, None) is None  # no stream: no cue
    stream.text = ""
    fresh = PauseTextScorer(cue, 0)
    assert fresh.update(ep, stream) is None  # nothing recognised: unknown

    class Broken:
        def peek(self) -> str:
            raise RuntimeError("decoder failed")

    broken = PauseTextScorer(cue, 0)
    assert broken.update(ep, Broken()) is None and broken.peeks == 1  # logged; the pause goes on without the cue
    assert broken.update(ep, Broken()) is None and broken.peeks == 1  # not asked again in the same pause


@pytest.fixture(scope="module")
def shipped_recognizer():
    from agent.config import AsrConfig
    from models.asr.paraformer import recognizer_from_config

    return recognizer_from_config(AsrConfig())


def sentence_audio() -> np.ndarray:
    from audio_io.speech_synth import SynthVoice, synthesize

    return synthesize("আমি প্রতিদিন সকালে হাঁটতে বের হই।", SynthVoice("espeak-ng", "bn", "bn"), 16000).astype(np.float32)


def test_peek_is_the_final_text_and_leaves_the_stream_unchanged(shipped_recognizer) -> None:  # noqa: ANN001
    audio = sentence_audio()
    cut = int(0.7 * audio.shape[0]) // 320 * 320
    live = shipped_recognizer.stream()
    for i in range(0, cut, 320):
        live.accept(audio[i : i + 320])
    peeked = live.peek()
    whole = shipped_recognizer.stream()
    whole.accept(audio[:cut])
    assert peeked == whole.finish() and peeked
    assert live.peek() == peeked  # peeking again changes nothing
    for i in range(cut, audio.shape[0], 320):
        live.accept(audio[i : i + 320])
    assert live.finish() == shipped_recognizer.transcribe(audio)


def test_offline_endpointing_with_text_equals_the_scorer_on_a_live_stream(shipped_recognizer) -> None:  # noqa: ANN001
    """endpoint_with_text (benchmarks) against the same loop over a real stream fed block by block (the agent)."""
    audio = sentence_audio()
    pad = np.zeros(16000, np.float32)
    signal = np.concatenate([pad, audio, pad[:8000], audio, pad, pad])
    frames = signal.shape[0] // 320
    loud = np.array([np.sqrt(np.mean(signal[t * 320 : (t + 1) * 320] ** 2)) > 1e-3 for t in range(frames)])
    probs = np.stack([np.where(loud, 0.9, 0.05), np.full(frames, 0.7)], 1).astype(np.float32)
    cue = SentenceEndCue({"bias": 5.0})  # any words end a sentence: the run does not depend on the ASR's quality
    cfg = VadConfig(max_silence_ms=3000, text_end_threshold=0.5, text_finished_eot_threshold=0.6,
                    text_unfinished_eot_threshold=0.97)
    memo: dict = {}
    offline = endpoint_with_text(probs, cfg, cue, asr_spans(shipped_recognizer, signal, memo), preroll_samples=4800)
    ep, scorer, stream, live, texts = Endpointer(cfg), PauseTextScorer.for_config(cue, cfg), None, [], []
    for t in range(frames):
        peeks = scorer.peeks
        text_end = scorer.update(ep, stream)
        if scorer.peeks > peeks:
            texts.append(scorer.text)
        decided = ep.process(float(probs[t, 0]), float(probs[t, 1]), text_end=text_end)
        if stream is not None:
            stream.accept(signal[t * 320 : (t + 1) * 320])
        for ev in decided:
            if ev.kind == "speech_start":
                stream = shipped_recognizer.stream()
                stream.accept(signal[max(0, ev.sample - 4800) : (t + 1) * 320])
            elif ev.kind == "end_of_turn":
                stream = None
        live += decided
    assert [(e.kind, e.sample, e.decided_at) for e in offline] == [(e.kind, e.sample, e.decided_at) for e in live]
    assert scorer.peeks >= 1 and any(e.kind == "end_of_turn" for e in live)
    assert texts == list(memo.values())  # the same texts, flushed at the same moments


def test_asr_cuts_follow_the_word_alignment() -> None:
    import random

    from training.vad.text_cue_asr import align_prefixes, cut_pairs

    ref = "a b c d e".split()
    assert align_prefixes(ref, ref) == [0, 1, 2, 3, 4, 5]
    assert align_prefixes(ref, "a x c e".split()) == [0, 1, 2, 3, 3, 4]  # b misheard, d dropped
    assert align_prefixes(ref, "a b z c d e".split()) == [0, 1, 2, 4, 5, 6]  # z inserted: it goes with the words after
    assert align_prefixes(ref, []) == [0, 0, 0, 0, 0, 0]
    pairs = cut_pairs([("bn", "আমি বাজারে যাব, তারপর বাড়ি ফিরব।"), ("bn", "তুমি কি আসবে?")],
                      "আমি বাজাে যাব তারপ বাড়ি ফিব তুমি কি আসবে", 2, random.Random(0))
    finished = [" ".join(w) for w, y in pairs if y == 1]
    unfinished = [" ".join(w) for w, y in pairs if y == 0]
    assert finished == ["আমি বাজাে যাব তারপ বাড়ি ফিব", "আমি বাজাে যাব তারপ বাড়ি ফিব তুমি কি আসবে"]
    assert "আমি বাজাে যাব" in unfinished and all(u not in finished for u in unfinished)
    assert cut_pairs([("bn", "আমি যাব।")], " ", 1, random.Random(0)) == []


@pytest.mark.slow
def test_cue_learns_from_the_asr_hypotheses_of_its_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three training utterances recognised by the shipped ASR (room and echo versions stand in as the same audio):
    their cuts join the training pairs, the hypotheses are cached, and a missing example folder is a clear error."""
    import training.vad.text_cue_asr as cue_asr
    from agent.scripted_user import USER_VOICE
    from audio_io.speech_synth import synthesize
    from training.vad.text_cue import train_cue
    from training.vad.text_cue_asr import AsrExamplesError

    monkeypatch.setattr(cue_asr, "CACHE", tmp_path / "hyps")
    examples, corpus = tmp_path / "asr" / "examples", tmp_path / "corpus" / "asr"
    examples.mkdir(parents=True)
    corpus.mkdir(parents=True)
    lines = ["আমি আজ বাজারে যাব, তারপর বাড়ি ফিরব।", "তুমি কখন আসবে?", "আজ বৃষ্টি হবে।"]
    with (corpus / "manifest.jsonl").open("w", encoding="utf-8") as f:
        for i, text in enumerate(lines):
            audio = (np.clip(synthesize(text, USER_VOICE), -1, 1) * 32767).astype(np.int16)
            np.savez(examples / f"u{i}.npz", room_audio=audio, echo_audio=audio)
            plain = " ".join(words_of(text))
            (examples / f"u{i}.json").write_text(json.dumps({"id": f"u{i}", "text": plain, "language": "bn",
                                                            "split": "train"}, ensure_ascii=False), encoding="utf-8")
            f.write(json.dumps({"id": f"u{i}", "language": "bn", "text": text,
                                "sentences": [{"text": text}]}, ensure_ascii=False) + "\n")
    plain = train_cue(draws=1, progress=False)
    cue = train_cue(draws=1, asr_utterances=3, asr_examples_dir=examples, progress=False)
    recipe = cue.meta["recipe"]
    assert recipe["asr_utterances"] == 3 and recipe["asr_train_examples"] >= 3
    assert recipe["train_examples"] == plain.meta["recipe"]["train_examples"] + recipe["asr_train_examples"]
    assert "--asr-utterances 3" in cue.meta["command"]
    (cached,) = list((tmp_path / "hyps").glob("*.jsonl"))
    hyps = [json.loads(line) for line in cached.read_text(encoding="utf-8").splitlines()]
    assert sorted(h["id"] for h in hyps) == ["u0", "u1", "u2"] and all(h["hyp"].strip() for h in hyps)
    with pytest.raises(AsrExamplesError, match="python -m training.asr prepare"):
        train_cue(draws=1, asr_utterances=3, asr_examples_dir=tmp_path / "none", progress=False)
