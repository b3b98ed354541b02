"""The demo voice's teacher set: espeak-ng's Bangla voice reading the project's sentences, in LJSpeech layout.

espeak-ng is the only Bangla speech available offline, so the demo voice learns to imitate it. The
teacher reads the *normalised* text (numbers already spelled out by the front-end), so audio and
transcript agree. Output: ``<out>/wavs/<id>.wav`` (22 050 Hz mono PCM-16) and ``<out>/metadata.csv``
(``id|text|normalised text``). Resumable: finished WAVs are kept.
"""

from __future__ import annotations

import random
from pathlib import Path

from audio_io.speech_synth import SynthesisError, SynthVoice, synthesize
from audio_io.wav import write_wav
from models.tts.text import TextFrontEnd
from training.common.loop import run_jobs
from training.data.corpus import load_sentences

RATE = 22050


def teacher_lines(repeats: int = 1) -> list[tuple[str, str, str, int]]:
    """``(id, text, normalised, speed_wpm)`` for every Bangla sentence of the project's list, ``repeats`` times."""
    fe = TextFrontEnd()
    lines = []
    for r in range(repeats):
        rng = random.Random(r)
        for i, (_, text) in enumerate(load_sentences("bn")):
            norm = fe.normalize(text)
            if norm:
                speed = 160 if r == 0 else rng.randint(140, 180)
                lines.append((f"bn{r}_{i:05d}", text, norm, speed))
    return lines


def _work(job: tuple[str, str, str, int, str, str]) -> str | None:
    uid, _, norm, speed, voice, out = job
    path = Path(out) / "wavs" / f"{uid}.wav"
    if path.exists():
        return None
    try:
        audio = synthesize(norm, SynthVoice("espeak-ng", voice, "bn", speed_wpm=speed), RATE)
    except SynthesisError as exc:
        return f"{uid}: {exc}"
    tmp = path.with_suffix(".tmp.wav")
    write_wav(tmp, audio, RATE)
    tmp.replace(path)
    return None


def build_teacher(out: Path, voice: str = "bn", repeats: int = 1, workers: int = 2, progress: bool = True,
                  limit: int | None = None) -> Path:
    """Synthesise (or finish) the teacher set in ``out`` (the first ``limit`` lines only, when given); returns the
    path of its ``metadata.csv``."""
    out = Path(out)
    (out / "wavs").mkdir(parents=True, exist_ok=True)
    lines = teacher_lines(repeats)[:limit]
    failures = run_jobs(_work, [(*ln, voice, str(out)) for ln in lines], workers, "teacher", progress)
    if len(failures) == len(lines):
        raise SynthesisError(f"the teacher set could not be synthesised: {failures[0]}")
    rows = [f"{uid}|{text}|{norm}\n" for uid, text, norm, _ in lines if (out / "wavs" / f"{uid}.wav").exists()]
    (out / "metadata.csv").write_text("".join(rows), encoding="utf-8")
    return out / "metadata.csv"
