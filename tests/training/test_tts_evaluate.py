"""Voice evaluation metrics: mel-cepstral distortion with DTW, and the evaluation loop on a tiny voice."""

from __future__ import annotations

import numpy as np

from training.tts.data import Utterance
from training.tts.evaluate import dtw_cost, evaluate, mcd_db

SR = 22050


def tone_speech(rng: np.random.Generator, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    x = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / SR) / k for k in range(1, 12))
    return (0.1 * x * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + 0.001 * rng.standard_normal(t.size)).astype(np.float32)


def test_dtw_aligns_a_time_stretched_copy() -> None:
    a = np.cumsum(np.ones((40, 3)), axis=0)
    stretched = np.repeat(a, 2, axis=0)
    assert dtw_cost(a, stretched) == 0.0
    assert dtw_cost(a, stretched * 1.5) > 5.0


def test_mcd_is_zero_for_the_same_audio_and_grows_with_distortion(rng: np.random.Generator) -> None:
    x = tone_speech(rng, 1.5)
    assert mcd_db(x, x, SR) == 0.0
    delayed = np.concatenate([np.zeros(SR // 5, np.float32), x])  # DTW absorbs a shift in time
    light = x + 0.003 * rng.standard_normal(x.size).astype(np.float32)
    heavy = x + 0.05 * rng.standard_normal(x.size).astype(np.float32)
    assert mcd_db(x, delayed, SR) < mcd_db(x, light, SR) < mcd_db(x, heavy, SR)


def test_evaluate_scores_a_voice_on_held_out_utterances(tts_voice, rng: np.random.Generator) -> None:  # noqa: ANN001
    from models.tts.voice import Voice

    voice = Voice.load(tts_voice[1])
    utts = [Utterance(f"u{i}", tone_speech(rng, 1.0), np.zeros(1, np.int64), text)
            for i, text in enumerate(["আমি ভালো আছি।", "তুমি কেমন আছ?", "..."])]
    scores = evaluate(voice, utts)
    assert scores.utterances == 2  # the text with nothing speakable is skipped
    assert scores.mcd_db > 0 and scores.cer is None
    assert [e["uid"] for e in scores.examples] == ["u0", "u1"]
