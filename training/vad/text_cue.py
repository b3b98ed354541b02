"""Train the end-of-turn text cue (:class:`models.vad.text_cue.SentenceEndCue`) from the project's sentence lists.

    python -m training.vad text-cue [--out models/vad/text_cue.json] [--draws 4] [--noise 0.15] [--l2 1.0]
        [--asr-utterances N [--asr-model DIR] [--asr-examples cache/asr/examples]]

Examples, built from the spoken sentences of both languages (:func:`training.data.corpus.spoken_sentences`) the
way the VAD's training turns cut them (:func:`training.vad.turns.split_clauses`): every clause of a sentence but
the last, and a cut at a random word (a hesitation), is an unfinished text (0); the whole sentence is a finished one
(1). Punctuation is dropped (the ASR writes none). A second copy of every example has the characters of its last two
words corrupted at rate ``--noise`` (substitutions, deletions and insertions from the sentence's own characters), as
the ASR's errors do. A stable hash of each sentence holds 15 % of them out: the file records the cue's AUC and its
recall at the 0.5 threshold on those, clean and corrupted (measured here; ``metrics`` in the JSON). Fit: L2-regularised
logistic regression on the binary features of :func:`models.vad.text_cue.text_features` (L-BFGS); a few seconds.
``--asr-utterances N`` adds the same kind of cuts on N of the ASR recipe's training utterances as the ASR recognised
them in a room or with echo (:mod:`training.vad.text_cue_asr`; the hypotheses are cached per ASR model), and records
the cue's metrics on the held-out ones (``held_out_asr``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

import numpy as np

from models.vad.text_cue import SHIPPED_CUE, SentenceEndCue, text_features, words_of

HELD_OUT_SHARE = 0.15


def held_out(sentence: str) -> bool:
    """Whether ``sentence`` belongs to the held-out 15 % (a stable hash, the same on every machine)."""
    return int(hashlib.sha1(sentence.encode("utf-8")).hexdigest()[:8], 16) / 2**32 < HELD_OUT_SHARE


def corrupt(words: list[str], rate: float, rng: random.Random, alphabet: str) -> list[str]:
    """A copy of ``words`` with the characters of the last two words substituted, dropped or doubled at ``rate``."""
    out = list(words)
    for i in range(max(0, len(out) - 2), len(out)):
        chars = []
        for ch in out[i]:
            r = rng.random()
            if r < rate / 3:
                chars.append(rng.choice(alphabet))
            elif r < 2 * rate / 3:
                continue
            elif r < rate:
                chars += [ch, rng.choice(alphabet)]
            else:
                chars.append(ch)
        out[i] = "".join(chars) or out[i]
    return out


def examples(sentences: list[tuple[str, str]], draws: int, seed: int) -> list[tuple[list[str], int]]:
    """``(words, finished)`` pairs; ``sentences`` are ``(language, sentence)``."""
    from training.vad.turns import split_clauses

    rng = random.Random(seed)
    out: list[tuple[list[str], int]] = []
    for lang, sentence in sentences:
        words = words_of(sentence)
        if not words:
            continue
        out.append((words, 1))
        for _ in range(draws):
            parts = split_clauses(sentence, rng, lang)
            prefix: list[str] = []
            for part in parts[:-1]:
                prefix += words_of(part)
                if prefix and len(prefix) < len(words):
                    out.append((list(prefix), 0))
        if len(words) >= 3:
            out.append((words[: rng.randrange(1, len(words) - 1) + 1], 0))
    return out


def with_noise(pairs: list[tuple[list[str], int]], rate: float, seed: int) -> list[tuple[list[str], int]]:
    rng = random.Random(seed)
    alphabet = "".join(sorted({ch for words, _ in pairs for w in words for ch in w}))
    return [(corrupt(words, rate, rng, alphabet), y) for words, y in pairs]


def fit(pairs: list[tuple[list[str], int]], l2: float) -> dict[str, float]:
    """Weights of an L2-regularised logistic regression on :func:`text_features` (the bias not regularised)."""
    from scipy.optimize import minimize
    from scipy.sparse import csr_matrix

    index: dict[str, int] = {}
    rows, cols = [], []
    for r, (words, _) in enumerate(pairs):
        for f in text_features(words):
            rows.append(r)
            cols.append(index.setdefault(f, len(index)))
    x = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(pairs), len(index)))
    y = np.array([lab for _, lab in pairs], np.float64)
    reg = np.full(len(index), l2)
    reg[index["bias"]] = 0.0

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
        nll = np.sum(np.logaddexp(0.0, z) - y * z)
        grad = x.T @ (p - y) + reg * w
        return float(nll + 0.5 * np.sum(reg * w * w)), grad

    w = minimize(loss, np.zeros(len(index)), jac=True, method="L-BFGS-B", options={"maxiter": 500}).x
    return {f: float(w[i]) for f, i in index.items() if abs(w[i]) > 1e-4 or f == "bias"}


def evaluate(cue: SentenceEndCue, pairs: list[tuple[list[str], int]], threshold: float = 0.5) -> dict:
    """AUC, and recall of finished / unfinished texts at ``threshold``."""
    scores = np.array([cue.score(words) for words, _ in pairs])
    y = np.array([lab for _, lab in pairs], bool)
    pos, neg = scores[y], scores[~y]
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    all_scores = np.concatenate([pos, neg])
    for v in np.unique(all_scores):  # average ranks of ties
        tie = all_scores == v
        ranks[tie] = ranks[tie].mean()
    auc = (ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / max(1, len(pos) * len(neg))
    z = np.log(threshold / (1 - threshold))
    return {"examples": len(pairs), "finished": int(y.sum()), "auc": round(float(auc), 4),
            "finished_recall": round(float(np.mean(pos >= z)), 4),
            "unfinished_recall": round(float(np.mean(neg < z)), 4)}


def turn_sentences(turn: dict) -> list[str]:
    """The sentences of a VAD turn record (its ``clauses`` joined up to each sentence end), as word strings."""
    from training.vad.turns import SENTENCE_END

    out, words = [], []
    for clause in turn["clauses"]:
        words += words_of(clause)
        if SENTENCE_END.search(clause.strip()):
            out.append(" ".join(words))
            words = []
    if words:
        out.append(" ".join(words))
    return out


def asr_examples(count: int, model_dir: Path | None, examples_dir: Path, draws: int, seed: int,
                 exclude: set[str] | None = None, progress: bool = True) -> tuple[list, list]:
    """(training, held-out) ``(words, finished)`` pairs from ``count`` ASR-recognised training utterances
    (:mod:`training.vad.text_cue_asr`); an utterance with a held-out sentence goes to the held-out pairs."""
    from training.vad.text_cue_asr import cut_pairs, recognise, training_utterances

    corpus = examples_dir.parent.parent / "corpus" / "asr" / "manifest.jsonl"
    rows = [r for r in training_utterances(examples_dir, corpus)
            if not exclude or not any(" ".join(words_of(s)) in exclude for _, s in r["sentences"])]
    random.Random(seed).shuffle(rows)
    rows = rows[:count]
    hyps = {h["id"]: h["hyp"] for h in recognise(rows, model_dir, seed, progress)}
    rng = random.Random(seed + 4)
    train, test = [], []
    for r in rows:
        pairs = cut_pairs(r["sentences"], hyps[r["id"]], draws, rng)
        (test if any(held_out(s) for _, s in r["sentences"]) else train).extend(pairs)
    return train, test


def train_cue(draws: int = 4, noise: float = 0.15, l2: float = 1.0, seed: int = 0,
              exclude: set[str] | None = None, asr_utterances: int = 0, asr_model: Path | None = None,
              asr_examples_dir: Path = Path("cache/asr/examples"), progress: bool = True) -> SentenceEndCue:
    """The cue (see the module doc); ``exclude``: sentences (as :func:`turn_sentences` writes them) left out of the
    training and held-out sets, e.g. those of a test material. ``asr_utterances`` > 0 adds that many utterances as
    the ASR (``asr_model``, None = the shipped one) heard them (:mod:`training.vad.text_cue_asr`)."""
    from training.data.corpus import spoken_sentences

    sentences = [(lang, s) for lang in ("bn", "en") for _, s in spoken_sentences(lang)
                 if not exclude or " ".join(words_of(s)) not in exclude]
    train = [p for p in sentences if not held_out(p[1])]
    test = [p for p in sentences if held_out(p[1])]
    train_pairs = examples(train, draws, seed)
    train_pairs += with_noise(train_pairs, noise, seed + 1)
    test_pairs = examples(test, draws, seed + 2)
    asr_train, asr_test = ([], [])
    if asr_utterances > 0:
        asr_train, asr_test = asr_examples(asr_utterances, asr_model, asr_examples_dir, draws, seed, exclude, progress)
    cue = SentenceEndCue(fit(train_pairs + asr_train, l2))
    command = f"python -m training.vad text-cue --draws {draws} --noise {noise} --l2 {l2} --seed {seed}"
    if asr_utterances > 0:
        command += f" --asr-utterances {asr_utterances}" + (f" --asr-model {asr_model}" if asr_model else "")
    metrics = {"held_out_clean": evaluate(cue, test_pairs),
               "held_out_noisy": evaluate(cue, with_noise(test_pairs, noise, seed + 3)),
               "train": evaluate(cue, train_pairs + asr_train)}
    if asr_test:
        metrics["held_out_asr"] = evaluate(cue, asr_test)
    cue.meta = {
        "command": command,
        "recipe": {"sentences": len(sentences), "excluded": len(exclude or ()), "held_out_sentences": len(test),
                   "train_examples": len(train_pairs) + len(asr_train), "asr_utterances": asr_utterances,
                   "asr_train_examples": len(asr_train), "draws": draws, "noise": noise, "l2": l2, "seed": seed},
        "metrics": metrics,
    }
    return cue


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.vad text-cue", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=SHIPPED_CUE, help=f"output JSON (default {SHIPPED_CUE})")
    ap.add_argument("--draws", type=int, default=4, help="clause cuts drawn per sentence")
    ap.add_argument("--noise", type=float, default=0.15, help="character error rate of the corrupted copies")
    ap.add_argument("--l2", type=float, default=1.0, help="L2 weight of the regression")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--asr-utterances", type=int, default=0,
                    help="also learn from this many ASR training utterances as the ASR heard them (0 = off)")
    ap.add_argument("--asr-model", type=Path, default=None, help="ASR model folder for that (default: the shipped one)")
    ap.add_argument("--asr-examples", type=Path, default=Path("cache/asr/examples"),
                    help="the ASR recipe's examples (python -m training.asr prepare)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if not 0 <= args.noise < 1 or args.draws < 1 or args.l2 <= 0 or args.asr_utterances < 0:
        print("error: --noise must be in [0, 1), --draws ≥ 1, --l2 > 0, --asr-utterances ≥ 0", file=sys.stderr)
        return 2
    from training.vad.text_cue_asr import AsrExamplesError

    try:
        cue = train_cue(args.draws, args.noise, args.l2, args.seed, asr_utterances=args.asr_utterances,
                        asr_model=args.asr_model, asr_examples_dir=args.asr_examples, progress=not args.no_progress)
    except AsrExamplesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cue.save(args.out)
    print(json.dumps(cue.meta["metrics"], indent=1))
    print(f"{len(cue.weights)} weights → {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0
