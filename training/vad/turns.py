"""User turns for VAD training: 1–3 sentences with pauses *inside* sentences, boundaries known by construction.

A turn is a lead silence, then 1–3 sentences, then a trailing silence (1.5–3 s). Each sentence is cut
into clauses at commas, semicolons and colons (and, when it has none, sometimes at a random word: a
hesitation); every clause is synthesised on its own with its punctuation, so the synthesiser gives
it the intonation of a clause that goes on (comma) or of a finished sentence (।, ., ?, !). Clauses
are trimmed and joined with pauses of 150–700 ms; sentences too. The record keeps every boundary:

- ``speech``: [start_s, end_s] of every clause (the speech labels);
- ``clause_pauses``: pauses inside a sentence (not an end of turn: the "semantic" negatives);
- ``sentence_gaps``: pauses between the sentences of one turn (a complete sentence followed by a
  short silence; whether that ends the turn is ambiguous, so training ignores the end-of-turn label
  there and the benchmark reports them apart);
- ``end_s``: the end of the last sentence (the true end of the turn).

``python -m training.vad.turns --out cache/vad/turns --split train --num 1500`` builds a set
(resumable; voices are split by :func:`training.data.corpus.voice_split`, so validation and test
voices are never heard in training).
"""

from __future__ import annotations

import json
import logging
import random
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np

from audio_io.speech_synth import SynthesisError, SynthVoice, list_voices, synthesize
from audio_io.wav import write_wav
from training.common.loop import run_jobs
from training.data.corpus import load_sentences, speech_bounds, voice_split

SR = 16000
PAUSE_S = (0.15, 0.7)
LEAD_S = (0.2, 1.0)
TRAIL_S = (1.5, 3.0)
HESITATION_P = 0.35
SENTENCE_END = re.compile(r"[।?!.॥]$")
log = logging.getLogger(__name__)


def split_clauses(sentence: str, rng: random.Random, language: str) -> list[str]:
    """Clauses of ``sentence``, each ending with its punctuation; the last ends the sentence."""
    text = " ".join(sentence.split())
    if not SENTENCE_END.search(text):
        text += "।" if language == "bn" else "."
    parts = [p.strip() for p in re.split(r"(?<=[,;:])\s+", text) if p.strip()]
    parts = [p for p in parts if re.search(r"\w", p)]  # a clause must have something to say
    if len(parts) == 1:
        words = text.split()
        if len(words) >= 4 and rng.random() < HESITATION_P:
            cut = rng.randrange(2, len(words) - 1)
            parts = [" ".join(words[:cut]).rstrip(",;:") + ",", " ".join(words[cut:])]
    return parts


def split_voices(split: str) -> list[SynthVoice]:
    """The synthesiser voices of a split (both languages)."""
    return [v for lang in ("bn", "en") for v in list_voices(lang) if voice_split(v.voice_id, 0.1, 0.1) == split]


def plan_turn(split: str, index: int, seed: int = 0) -> dict:
    rng = random.Random(f"vad-turn:{seed}:{split}:{index}")
    voices = split_voices(split)
    if not voices:
        raise SynthesisError(f"no synthesiser voice belongs to split {split!r}")
    lang = "bn" if rng.random() < 0.7 else "en"
    pool = [v for v in voices if v.language == lang] or voices
    voice = rng.choice(pool)
    lang = voice.language
    if voice.engine == "espeak-ng":
        voice = SynthVoice(voice.engine, voice.name, lang, speed_wpm=rng.randint(120, 200), pitch=rng.randint(25, 75))
    sentences = load_sentences(lang)
    count = rng.choices((1, 2, 3), weights=(3, 2, 1))[0]
    chosen = [split_clauses(sentences[rng.randrange(len(sentences))][1], rng, lang) for _ in range(count)]
    return {"id": f"{split}-{seed}-{index:06d}", "language": lang, "voice": voice, "sentences": chosen,
            "lead_s": rng.uniform(*LEAD_S), "trail_s": rng.uniform(*TRAIL_S),
            "pauses_s": [[rng.uniform(*PAUSE_S) for _ in s] for s in chosen]}


def build_turn(out: Path, split: str, index: int, seed: int = 0) -> dict:
    """Synthesise turn ``index`` of ``split`` into ``out/wavs/<id>.wav``; returns its record (also saved)."""
    plan = plan_turn(split, index, seed)
    voice: SynthVoice = plan["voice"]
    pieces = [np.zeros(int(plan["lead_s"] * SR))]
    cursor = pieces[0].shape[0]
    speech, clause_pauses, sentence_gaps = [], [], []
    for s_idx, clauses in enumerate(plan["sentences"]):
        for c_idx, clause in enumerate(clauses):
            audio = synthesize(clause, voice, SR).astype(np.float64)
            b = speech_bounds(audio, SR)
            if b is None:
                raise SynthesisError(f"{voice.voice_id} produced silence for {clause!r}")
            seg = audio[b[0] : b[1]]
            seg /= np.sqrt(np.mean(seg**2)) + 1e-9
            speech.append([cursor / SR, (cursor + seg.shape[0]) / SR])
            pieces.append(seg)
            cursor += seg.shape[0]
            last_clause = c_idx == len(clauses) - 1
            last_sentence = s_idx == len(plan["sentences"]) - 1
            if last_clause and last_sentence:
                break
            gap = int(plan["pauses_s"][s_idx][c_idx] * SR)
            (sentence_gaps if last_clause else clause_pauses).append([cursor / SR, (cursor + gap) / SR])
            pieces.append(np.zeros(gap))
            cursor += gap
    end = cursor
    pieces.append(np.zeros(int(plan["trail_s"] * SR)))
    signal = np.concatenate(pieces)
    signal *= 0.5 / max(float(np.max(np.abs(signal))), 1e-9)
    rel = f"wavs/{plan['id']}.wav"
    write_wav(out / rel, signal.astype(np.float32), SR)
    r4 = lambda pairs: [[round(a, 4), round(b, 4)] for a, b in pairs]  # noqa: E731
    record = {"id": plan["id"], "split": split, "language": plan["language"], "voice_id": voice.voice_id,
              "voice": asdict(voice), "text": " ".join(" ".join(c) for c in plan["sentences"]),
              "clauses": [c for s in plan["sentences"] for c in s], "speech": r4(speech),
              "clause_pauses": r4(clause_pauses), "sentence_gaps": r4(sentence_gaps),
              "end_s": round(end / SR, 4), "duration_s": round(signal.shape[0] / SR, 4), "file": rel}
    meta = out / "meta" / f"{plan['id']}.json"
    meta.parent.mkdir(parents=True, exist_ok=True)
    tmp = meta.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    tmp.replace(meta)
    return record


def _work(args: tuple[Path, str, int, int]) -> str | None:
    out, split, index, seed = args
    try:
        build_turn(out, split, index, seed)
    except (SynthesisError, OSError) as exc:  # one failed synthesis must not stop a long build
        return f"{index}: {exc}"
    return None


def build_turns(out: Path, split: str, count: int, seed: int = 0, workers: int = 1,
                progress: bool = True) -> list[dict]:
    """Build (or resume) ``count`` turns of ``split`` under ``out``; returns their records, in index order."""
    out.mkdir(parents=True, exist_ok=True)
    ids = [f"{split}-{seed}-{i:06d}" for i in range(count)]
    todo = [(out, split, i, seed) for i, tid in enumerate(ids) if not (out / "meta" / f"{tid}.json").exists()]
    failures = run_jobs(_work, todo, workers, f"turns {split}", progress)
    if failures:
        log.warning("%d turns failed (first: %s)", len(failures), failures[0])
    return [json.loads((out / "meta" / f"{tid}.json").read_text(encoding="utf-8"))
            for tid in ids if (out / "meta" / f"{tid}.json").exists()]


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m training.vad.turns", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--split", choices=("train", "valid", "test"), default="train")
    ap.add_argument("--num", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    rows = build_turns(args.out, args.split, args.num, args.seed, args.workers, not args.no_progress)
    print(f"{len(rows)} turns in {args.out}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
