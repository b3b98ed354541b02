"""Examples for the end-of-turn text cue as the ASR writes them: its own errors at sentence ends and inside sentences.

    python -m training.vad text-cue --asr-utterances 1500 [--asr-model DIR] [--asr-examples cache/asr/examples]

The cue reads the recogniser's text, not the sentence lists' clean words, and the shipped ASR drops, merges and
misspells the last words of a text often (CER ~40 % on the VAD's validation turns, which pass through a room and the
echo chain). This module recognises the ASR recipe's own examples (training voices only; `python -m training.asr
prepare` builds them) in their *room* or *echo* version, the echo chain's ASR output as the agent's recogniser hears
a user, aligns each hypothesis word by word to its reference (Levenshtein) and carries the reference's cuts over to
it: the words the ASR wrote up to the end of a sentence are a finished text (1); up to a clause cut or a random word
inside a sentence (the cuts :func:`training.vad.text_cue.examples` makes on clean text) an unfinished one (0).
Hypotheses are cached per ASR model (`cache/vad/text_cue_asr/<model key>.jsonl`), so a second training run
recognises nothing again.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from models.vad.text_cue import words_of

CACHE = Path(__file__).resolve().parents[2] / "cache" / "vad" / "text_cue_asr"
VERSIONS = ("room", "echo")


class AsrExamplesError(RuntimeError):
    """The ASR examples or the corpus they come from are missing."""


def align_prefixes(ref: list[str], hyp: list[str]) -> list[int]:
    """For every reference prefix length k (0..len(ref)), how many hypothesis words the ASR wrote for it: the
    hypothesis words aligned (minimum word edit distance) to reference words before k. Words the ASR inserted between
    reference words k-1 and k count with the words after the cut."""
    n, m = len(ref), len(hyp)
    d = np.zeros((n + 1, m + 1), np.int32)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    first = [m] * (n + 1)  # smallest hypothesis length on the path at each reference length
    i, j = n, m
    while i > 0 or j > 0:
        first[i] = min(first[i], j)
        if i > 0 and j > 0 and d[i, j] == d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            i, j = i - 1, j - 1
        elif i > 0 and d[i, j] == d[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    first[0] = 0
    return first


def cut_pairs(sentences: list[tuple[str, str]], hyp: str, draws: int, rng: random.Random) -> list[tuple[list[str], int]]:
    """``(words, finished)`` pairs of one recognised utterance; ``sentences``: its reference ``(language, sentence)``
    in order, ``hyp``: what the ASR wrote for all of them. Empty when the hypothesis is empty."""
    from training.vad.turns import split_clauses

    hyp_words = words_of(hyp)
    if not hyp_words:
        return []
    ref_words: list[str] = []
    ends: list[int] = []  # reference word count at each sentence end
    cuts: set[int] = set()  # reference word counts at cuts inside a sentence
    for lang, sentence in sentences:
        words = words_of(sentence)
        start = len(ref_words)
        for _ in range(draws):
            count = start
            for part in split_clauses(sentence, rng, lang)[:-1]:
                count += len(words_of(part))
                if start < count < start + len(words):
                    cuts.add(count)
        if len(words) >= 3:
            cuts.add(start + rng.randrange(1, len(words) - 1))
        ref_words += words
        ends.append(len(ref_words))
    prefix = align_prefixes(ref_words, hyp_words)
    out = [(hyp_words[: prefix[k]], 1) for k in ends]
    out += [(hyp_words[: prefix[k]], 0) for k in sorted(cuts)]
    return [(w, y) for w, y in out if w]


def model_key(folder: Path) -> str:
    """A short hash of an ASR model folder's files (the hypotheses cache is per model)."""
    h = hashlib.sha1()
    for f in sorted(p for p in folder.iterdir() if p.is_file()):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def training_utterances(examples_dir: Path, corpus_manifest: Path) -> list[dict]:
    """The ASR recipe's training-split examples with their reference sentences (``sentences``: (language, text))."""
    from training.asr.data import load_examples

    rows = [r for r in load_examples(examples_dir) if r["split"] == "train"] if examples_dir.is_dir() else []
    if not rows:
        raise AsrExamplesError(f"no ASR training examples in {examples_dir}: build them with `python -m training.asr "
                               "prepare --config configs/train/asr.yaml`")
    if not corpus_manifest.is_file():
        raise AsrExamplesError(f"{corpus_manifest} is missing (the ASR corpus the examples were built from)")
    manifest = {}
    with corpus_manifest.open(encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            manifest[rec["id"]] = rec
    out = []
    for r in rows:
        rec = manifest.get(r["id"])
        if rec is None:
            continue
        sentences = [(rec["language"], s["text"]) for s in rec.get("sentences", [])] or [(rec["language"], rec["text"])]
        if [w for _, s in sentences for w in words_of(s)] != words_of(r["text"]):
            continue  # the example's text is not these sentences' words (normalised differently): no cut can be placed
        out.append({**r, "sentences": sentences})
    return out


def recognise(rows: Iterable[dict], model_dir: Path | None, seed: int, progress: bool = True) -> list[dict]:
    """``{"id", "version", "hyp"}`` for every row (its room or echo version, drawn per id from ``seed``); cached."""
    from agent.config import AsrConfig
    from models.asr.paraformer import recognizer_from_config, resolve_asr_model

    rows = list(rows)
    folder = resolve_asr_model(str(model_dir) if model_dir else None)
    cache = CACHE / f"{model_key(folder)}.jsonl"
    done: dict[tuple[str, str], str] = {}
    if cache.is_file():
        for line in cache.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                done[(rec["id"], rec["version"])] = rec["hyp"]
            except (json.JSONDecodeError, KeyError):
                continue  # a line cut short by an interrupted run
    wanted = [(r, random.Random(f"{seed}:{r['id']}").choice(VERSIONS)) for r in rows]
    todo = [(r, v) for r, v in wanted if (r["id"], v) not in done]
    if todo:
        from tqdm import tqdm

        rec = recognizer_from_config(AsrConfig(model_dir=str(folder)))
        cache.parent.mkdir(parents=True, exist_ok=True)
        with cache.open("a", encoding="utf-8") as f:
            for r, v in tqdm(todo, desc="recognising the ASR examples", unit="utt", disable=not progress):
                with np.load(r["path"]) as z:
                    audio = z[f"{v}_audio"].astype(np.float32) / 32767
                done[(r["id"], v)] = hyp = rec.transcribe(audio)
                f.write(json.dumps({"id": r["id"], "version": v, "hyp": hyp}, ensure_ascii=False) + "\n")
                f.flush()
    return [{"id": r["id"], "version": v, "hyp": done[(r["id"], v)]} for r, v in wanted]
