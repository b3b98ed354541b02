"""Recognition error rates: character error rate (Bangla) and word error rate (English)."""

from __future__ import annotations

from collections.abc import Sequence


def edit_distance(ref: Sequence, hyp: Sequence) -> int:
    """Levenshtein distance (substitutions, insertions, deletions all cost 1)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def error_units(text: str, language: str) -> list[str]:
    """Scoring units of a normalised transcript: code points without spaces ('bn'), words ('en')."""
    return text.split() if language == "en" else list(text.replace(" ", ""))


def error_counts(ref: str, hyp: str, language: str) -> tuple[int, int]:
    """(edits, reference units) of one utterance; sum both over a set and divide for the rate."""
    r, h = error_units(ref, language), error_units(hyp, language)
    return edit_distance(r, h), len(r)


def error_rate(pairs: Sequence[tuple[str, str]], language: str) -> float:
    """CER ('bn') or WER ('en') of (reference, hypothesis) pairs, pooled over the set (0..>1)."""
    edits = units = 0
    for ref, hyp in pairs:
        e, n = error_counts(ref, hyp, language)
        edits += e
        units += n
    return edits / max(units, 1)
