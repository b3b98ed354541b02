"""The TTS text front-end: raw text → normalised sentences → symbol ids, one implementation for training and inference.

    >>> fe = TextFrontEnd()
    >>> fe.sentences("ডা. রহিম ১০:৩০-এ আসবেন। ঠিক আছে?")
    ['ডাক্তার রহিম দশটা ত্রিশ মিনিট এ আসবেন।', 'ঠিক আছে?']

Steps: Unicode clean-up (:mod:`normalize`), written forms spelled out (:mod:`expand`), words in
Latin script dropped / spelled / kept, punctuation unified (॥ . → ।; ; : dashes … → ,; quotes,
brackets and other symbols removed), split into sentences at । ? ! and newlines, and finally every
character outside the model's set (:mod:`symbols`) removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from models.tts.text.expand import expand, latin_words
from models.tts.text.normalize import clean_text
from models.tts.text.symbols import PAD, SENTENCE_END, SYMBOL_TO_ID, SYMBOLS

MAX_TEXT_CHARS = 100_000  # longer input is refused: split it yourself
LATIN_POLICIES = ("drop", "spell", "keep")

_TO_DANDA = re.compile(r"[.॥]+|।+")
_TO_COMMA = re.compile(r"\s[-–—]+\s|[;:…–—]+|-{2,}")
_HYPHEN = re.compile(r"(?<=\S)-(?=\S)")
_QUOTES_BRACKETS = re.compile(r"[\"'‘’“”«»()\[\]{}<>]")
_PUNCT_RUN = re.compile(r"\s*([,।?!])[\s,।?!]*")
_SPLIT = re.compile(r"(?<=[।?!])\s+")


def _strongest_mark(m: re.Match[str]) -> str:
    """A run of marks becomes one: the last sentence end in it (। ? !), else a comma."""
    ends = [c for c in m[0] if c in SENTENCE_END]
    return (ends[-1] if ends else ",") + " "


class TextError(ValueError):
    """The text cannot be read (too long, not a string)."""


@dataclass(frozen=True)
class TextFrontEnd:
    """Normalisation settings. ``latin``: what to do with words in Latin script (the paper drops them);
    ``lakh``: the word for 10⁵ (লাখ or লক্ষ); ``symbols``: the model's character set."""

    latin: str = "drop"
    lakh: str = "লাখ"
    symbols: tuple[str, ...] = SYMBOLS

    def __post_init__(self) -> None:
        if self.latin not in LATIN_POLICIES:
            raise ValueError(f"latin must be one of {LATIN_POLICIES}, got {self.latin!r}")
        if self.lakh not in ("লাখ", "লক্ষ"):
            raise ValueError(f"lakh must be 'লাখ' or 'লক্ষ', got {self.lakh!r}")

    def normalize(self, text: str) -> str:
        """``text`` as the model reads it: one line, spoken words, unified punctuation, the model's symbols only."""
        return " ".join(self.sentences(text))

    def sentences(self, text: str) -> list[str]:
        """The speakable sentences of ``text``, normalised; empty when nothing in it can be spoken."""
        if not isinstance(text, str):
            raise TextError(f"text must be a str, got {type(text).__name__}")
        if len(text) > MAX_TEXT_CHARS:
            raise TextError(f"text of {len(text)} characters is longer than {MAX_TEXT_CHARS}; split it")
        out: list[str] = []
        for line in text.splitlines():
            s = expand(clean_text(line), self.lakh)
            s = latin_words(s, self.latin)
            s = _QUOTES_BRACKETS.sub(" ", s)
            s = _TO_COMMA.sub(",", _HYPHEN.sub(" ", s))
            s = _TO_DANDA.sub("।", s)
            s = "".join(c if c in self._speakable else " " for c in s.replace("\t", " "))
            s = _PUNCT_RUN.sub(_strongest_mark, s)
            for sentence in _SPLIT.split(s):
                sentence = clean_text(sentence).strip(" ,")
                if any(c.isalpha() for c in sentence):
                    out.append(sentence if sentence[-1] in SENTENCE_END else sentence + "।")
        return out

    def ids(self, sentence: str) -> list[int]:
        """Symbol ids of an already normalised sentence (characters outside the set are skipped)."""
        table = self._symbol_ids
        return [table[c] for c in sentence if c in table]

    @cached_property
    def _symbol_ids(self) -> dict[str, int]:
        return SYMBOL_TO_ID if self.symbols == SYMBOLS else {s: i for i, s in enumerate(self.symbols)}

    @cached_property
    def _speakable(self) -> frozenset[str]:
        return frozenset(self.symbols) - {PAD}
