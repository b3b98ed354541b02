"""The agent's own voice as an echo source for VAD training.

In the agent the echo is always its own TTS voice (``tts.*`` defaults: the VITS demo voice), while the other
echo sources of the training examples are the synthesiser voices of the user turns. This module reads Bangla
text with that voice into a pool of WAV files (``cache/vad/agent_voice/NNNNN.wav``, resumable), which
:func:`training.vad.examples.make_example` plays as the agent's speech in a share of the examples
(``data.agent_voice_share``).

The text is **recombined** from the project's Bangla sentences: the first half of one sentence's words and the
second half of another's (:func:`recombined_sentences`), so the pool never reads a sentence that the VAD
benchmark's agent-voice material or the monologue scenario read (both read ``training/data/sentences/bn.txt``
as it is); the voice is the same, as it is in use.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from pathlib import Path

import numpy as np

from audio_io.wav import write_wav
from training.data.corpus import spoken_sentences

SR = 16000
log = logging.getLogger(__name__)


def recombined_sentences(count: int, seed: int = 0) -> list[str]:
    """``count`` Bangla sentences, each the first half of one listed sentence and the second half of another."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    listed = [s for _, s in spoken_sentences("bn") if len(s.split()) >= 4]
    if len(listed) < 2:
        raise ValueError("the Bangla sentence list has fewer than two sentences of four words or more")
    originals = {" ".join(s.split()) for _, s in spoken_sentences("bn")}
    rng = random.Random(f"vad-agent-voice:{seed}")
    out: list[str] = []
    while len(out) < count:
        a, b = rng.sample(listed, 2)
        wa, wb = a.split(), b.split()
        text = " ".join(wa[: len(wa) // 2] + wb[len(wb) // 2 :])
        if text not in originals:
            out.append(text)
    return out


def build_agent_voice(out: Path, count: int, seed: int = 0, progress: bool = True) -> list[Path]:
    """Read :func:`recombined_sentences` with the agent's default voice into ``out/NNNNN.wav`` (16 kHz; skips
    files that exist); returns the paths. A missing voice is an error (``tts.engine`` is forced to ``vits``:
    a pool of espeak-ng speech would not be the agent's voice)."""
    from tqdm import tqdm

    from agent.config import load_config
    from agent.speech_out import build_engine

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{i:05d}.wav" for i in range(count)]
    todo = [(p, t) for p, t in zip(paths, recombined_sentences(count, seed), strict=True) if not p.exists()]
    if todo:
        tts = load_config().tts
        engine = build_engine(dataclasses.replace(tts, engine="vits", max_text_chars=max(tts.max_text_chars, 2000)))
        for path, text in tqdm(todo, desc="agent voice", disable=not progress):
            chunks = list(engine.stream(text))
            audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
            if audio.shape[0] < SR // 4:
                log.warning("the agent's voice gave %d samples for %r; skipped", audio.shape[0], text)
                continue
            tmp = path.with_suffix(".tmp.wav")
            write_wav(tmp, audio.astype(np.float32), SR)
            tmp.replace(path)
    return [p for p in paths if p.exists()]
