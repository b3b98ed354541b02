"""Synthetic speech corpus: ``python -m training.data.corpus --out cache/corpus/NAME --num N``.

Offline speech for training and tests, from the system synthesisers (espeak-ng for Bangla and
English with ~100 voice variants, flite and festival for English). Each utterance joins 1–3
sentences from the project's lists with pauses of 150–700 ms, between a leading and a trailing
silence, so that speech and sentence boundaries are known by construction.

Output (all under ``--out``, which git ignores when it is under ``cache/``):
- ``wavs_16k/<id>.wav`` (and ``wavs_22k/<id>.wav`` for TTS training), mono PCM-16;
- ``meta/<id>.json``, one per finished utterance (what makes a run resumable);
- ``manifest.jsonl`` (all utterances, in id order) and ``train.jsonl`` / ``valid.jsonl`` /
  ``test.jsonl``: splits disjoint by voice (held-out voices for validation and test);
- ``metadata_bn.csv``: LJSpeech-style ``wavs_22k/<id>|normalised text`` for the Bangla utterances.

Every utterance's choices come from ``(seed, index)`` only, so the corpus is the same whatever
the number of workers and however often the run was interrupted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from audio_io.resample import resample
from audio_io.speech_synth import SynthesisError, SynthVoice, list_voices, synthesize
from audio_io.wav import write_wav
from models.tts.text import clean_text

SENTENCE_DIR = Path(__file__).parent / "sentences"
SYNTH_RATE = 22050  # synthesise at the TTS rate; 16 kHz is derived from it
SPLITS = ("train", "valid", "test")
TRIM_DB = -45.0  # edge-trim threshold, relative to the loudest 5 ms frame


@dataclass(frozen=True)
class CorpusSpec:
    """What to build. Every field is a command-line option."""

    out: str
    num: int = 100
    seed: int = 0
    bn_fraction: float = 0.7
    max_sentences: int = 3
    rates: tuple[int, ...] = (16000, 22050)
    valid_fraction: float = 0.1
    test_fraction: float = 0.1
    spoken_only: bool = False  # only sentences with no digits or symbols (ASR targets = what was said)


@lru_cache(maxsize=2)
def load_sentences(lang: str) -> tuple[tuple[str, str], ...]:
    """``(kind, sentence)`` pairs of the project's list for ``lang`` ('bn' or 'en')."""
    path = SENTENCE_DIR / f"{lang}.txt"
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        kind, _, text = line.partition("\t")
        if text:
            pairs.append((kind, text))
    return tuple(pairs)


_WRITTEN_FORMS = re.compile(r"[0-9\u09e6-\u09ef%$৳&@#/+=:]")


@lru_cache(maxsize=2)
def spoken_sentences(lang: str) -> tuple[tuple[str, str], ...]:
    """The sentences of ``lang`` written as they are spoken: no digits, currency or other symbols.

    A synthesiser reads "১৯৫২" or "56%" its own way; without the number normaliser of the TTS
    front-end the ASR target for such a sentence is unknown, so ASR corpora skip them.
    """
    return tuple(p for p in load_sentences(lang) if not _WRITTEN_FORMS.search(p[1]))


def voice_split(voice_id: str, valid_fraction: float, test_fraction: float) -> str:
    """Split of a voice, from a hash of its id: stable across corpora and seeds."""
    u = int(hashlib.sha1(voice_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if u < test_fraction:
        return "test"
    if u < test_fraction + valid_fraction:
        return "valid"
    return "train"


def speech_bounds(x: np.ndarray, rate: int, trim_db: float = TRIM_DB) -> tuple[int, int] | None:
    """First and one-past-last sample of the 5 ms frames within ``trim_db`` of the loudest; None if silent."""
    hop = max(1, rate // 200)
    n = len(x) // hop
    if n == 0:
        return None
    e = np.mean(x[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1)
    if e.max() <= 1e-12:
        return None
    active = np.flatnonzero(e >= e.max() * 10 ** (trim_db / 10))
    return int(active[0] * hop), int(min(len(x), (active[-1] + 1) * hop))


def plan_utterance(spec: CorpusSpec, index: int) -> dict:
    """All random choices of utterance ``index`` (depends on ``(seed, index)`` only)."""
    rng = random.Random(f"{spec.seed}:{index}")
    lang = "bn" if rng.random() < spec.bn_fraction else "en"
    voice = rng.choice(list_voices(lang))
    if voice.engine == "espeak-ng":
        voice = SynthVoice(voice.engine, voice.name, lang, speed_wpm=rng.randint(120, 200), pitch=rng.randint(25, 75))
    sentences = spoken_sentences(lang) if spec.spoken_only else load_sentences(lang)
    count = rng.choices(range(1, spec.max_sentences + 1), weights=[3, 2, 1][: spec.max_sentences])[0]
    chosen = [sentences[rng.randrange(len(sentences))][1] for _ in range(count)]
    return {
        "id": plan_id(spec, index),
        "language": lang,
        "voice": voice,
        "sentences": chosen,
        "lead_s": round(rng.uniform(0.1, 0.4), 3),
        "pauses_s": [round(rng.uniform(0.15, 0.7), 3) for _ in range(count - 1)],
        "trail_s": round(rng.uniform(0.1, 0.4), 3),
        "gain_db": round(rng.uniform(-12.0, -1.0), 2),  # peak level
    }


def build_utterance(spec: CorpusSpec, index: int) -> dict:
    """Synthesise, assemble and write utterance ``index``; returns its manifest record."""
    plan = plan_utterance(spec, index)
    voice: SynthVoice = plan["voice"]
    pieces: list[np.ndarray] = [np.zeros(int(plan["lead_s"] * SYNTH_RATE), dtype=np.float32)]
    bounds: list[tuple[int, int]] = []
    cursor = pieces[0].shape[0]
    for k, sentence in enumerate(plan["sentences"]):
        audio = synthesize(sentence, voice, SYNTH_RATE)
        b = speech_bounds(audio, SYNTH_RATE)
        if b is None:
            raise SynthesisError(f"{voice.voice_id} produced silence for {sentence!r}")
        speech = audio[b[0] : b[1]]
        bounds.append((cursor, cursor + speech.shape[0]))
        pieces.append(speech)
        cursor += speech.shape[0]
        gap = plan["pauses_s"][k] if k < len(plan["pauses_s"]) else plan["trail_s"]
        pieces.append(np.zeros(int(gap * SYNTH_RATE), dtype=np.float32))
        cursor += pieces[-1].shape[0]
    signal = np.concatenate(pieces)
    signal *= 10 ** (plan["gain_db"] / 20) / max(float(np.max(np.abs(signal))), 1e-9)

    out = Path(spec.out)
    files = {}
    for rate in spec.rates:
        x = signal if rate == SYNTH_RATE else resample(signal, SYNTH_RATE, rate)
        rel = f"wavs_{rate // 1000}k/{plan['id']}.wav"
        write_wav(out / rel, x, rate)
        files[str(rate)] = rel
    to_s = 1.0 / SYNTH_RATE
    text = " ".join(plan["sentences"])
    record = {
        "id": plan["id"],
        "text": text,
        "normalized_text": clean_text(text),
        "language": plan["language"],
        "voice_id": voice.voice_id,
        "voice": asdict(voice),
        "split": voice_split(voice.voice_id, spec.valid_fraction, spec.test_fraction),
        "duration_s": round(signal.shape[0] * to_s, 4),
        "speech_start_s": round(bounds[0][0] * to_s, 4),
        "speech_end_s": round(bounds[-1][1] * to_s, 4),
        "sentences": [
            {"text": s, "start_s": round(a * to_s, 4), "end_s": round(b * to_s, 4)}
            for s, (a, b) in zip(plan["sentences"], bounds, strict=True)
        ],
        "files": files,
    }
    meta = out / "meta" / f"{plan['id']}.json"
    meta.parent.mkdir(parents=True, exist_ok=True)
    tmp = meta.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    tmp.replace(meta)  # atomic: a record exists only when its WAVs are complete
    return record


def _work(args: tuple[CorpusSpec, int]) -> tuple[int, str | None]:
    spec, index = args
    try:
        build_utterance(spec, index)
        return index, None
    except (SynthesisError, OSError, ValueError) as exc:
        return index, str(exc)


def build_corpus(spec: CorpusSpec, workers: int | None = None, progress: bool = True) -> list[dict]:
    """Build (or resume) the corpus described by ``spec``; returns the manifest records in id order."""
    out = Path(spec.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.json").write_text(json.dumps(asdict(spec), indent=2), encoding="utf-8")
    todo = [i for i in range(spec.num) if not (out / "meta" / f"{plan_id(spec, i)}.json").exists()]
    workers = workers or os.cpu_count() or 1
    failures: list[str] = []
    bar = tqdm(total=spec.num, initial=spec.num - len(todo), desc="corpus", unit="utt", disable=not progress)
    if todo:
        jobs = [(spec, i) for i in todo]
        if workers == 1:
            results = map(_work, jobs)
            pool = None
        else:
            pool = get_context("spawn").Pool(workers)
            results = pool.imap_unordered(_work, jobs, chunksize=4)
        try:
            for index, error in results:
                if error:
                    failures.append(f"{index}: {error}")
                bar.update(1)
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    bar.close()
    if failures:
        print(f"{len(failures)} utterances failed (re-run to retry):", *failures[:10], sep="\n  ", file=sys.stderr)
    records = []
    for i in range(spec.num):
        meta = out / "meta" / f"{plan_id(spec, i)}.json"
        if meta.exists():
            records.append(json.loads(meta.read_text(encoding="utf-8")))
    write_manifests(out, records)
    return records


def plan_id(spec: CorpusSpec, index: int) -> str:
    return f"{spec.seed:04d}-{index:07d}"


def write_manifests(out: Path, records: list[dict]) -> None:
    """``manifest.jsonl``, one file per split, and the LJSpeech-style ``metadata_bn.csv``."""
    def dump(path: Path, rows: list[dict]) -> None:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")

    dump(out / "manifest.jsonl", records)
    for split in SPLITS:
        dump(out / f"{split}.jsonl", [r for r in records if r["split"] == split])
    lines = [f"{Path(r['files']['22050']).with_suffix('')}|{r['normalized_text']}\n"
             for r in records if r["language"] == "bn" and "22050" in r["files"]]
    (out / "metadata_bn.csv").write_text("".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.data.corpus", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="cache/corpus/default", help="output folder (default: cache/corpus/default)")
    p.add_argument("--num", type=int, default=100, help="number of utterances (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed: the same seed gives the same corpus (default 0)")
    p.add_argument("--bn-fraction", type=float, default=0.7, help="share of Bangla utterances (default 0.7)")
    p.add_argument("--max-sentences", type=int, default=3, choices=[1, 2, 3], help="sentences per utterance, at most")
    p.add_argument("--rates", default="16000,22050", help="output sample rates in Hz (default 16000,22050)")
    p.add_argument("--spoken-only", action="store_true",
                   help="only sentences without digits or symbols (for ASR corpora, whose targets must be what was said)")
    p.add_argument("--workers", type=int, default=None, help="parallel workers (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = p.parse_args(argv)
    if args.num < 1 or not 0 <= args.bn_fraction <= 1:
        p.error("--num must be >= 1 and --bn-fraction in [0, 1]")
    try:
        rates = tuple(int(r) for r in args.rates.split(","))
    except ValueError:
        p.error(f"--rates must be comma-separated integers, got {args.rates!r}")
    if any(r not in (16000, 22050) for r in rates):
        p.error("--rates: only 16000 and 22050 are supported")
    spec = CorpusSpec(out=args.out, num=args.num, seed=args.seed, bn_fraction=args.bn_fraction,
                      max_sentences=args.max_sentences, rates=rates, spoken_only=args.spoken_only)
    records = build_corpus(spec, args.workers, progress=not args.no_progress)
    hours = sum(r["duration_s"] for r in records) / 3600
    counts = {s: sum(r["split"] == s for r in records) for s in SPLITS}
    print(f"{len(records)}/{spec.num} utterances, {hours:.2f} h, splits {counts}, in {args.out}")
    return 0 if len(records) == spec.num else 1


if __name__ == "__main__":
    sys.exit(main())
