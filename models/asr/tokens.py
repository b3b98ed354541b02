"""ASR text and tokens: one token per Unicode code point, Bangla and English.

Targets are normalised first (``normalize_transcript``): the TTS front-end's clean-up (NFC, one
form for ড় ঢ় য়, split vowel signs merged), English lower-cased, punctuation and joiners removed,
spaces folded. After that every code point is its own token, so ড় and ড + nukta can never be two
spellings of one sound, and a word boundary is the ``<space>`` token (FunASR's CharTokenizer turns
it back into a space).

The inventory is fixed (every assigned letter, sign and digit of the Bengali block, a–z, 0–9 and
the apostrophe) so a model folder's ``tokens.json`` does not depend on the data it was trained on.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from models.tts.text import clean_text

BLANK, SOS, EOS, UNK, SPACE = "<blank>", "<s>", "</s>", "<unk>", "<space>"
SPECIAL = (BLANK, SOS, EOS, UNK, SPACE)  # ids 0..4; FunASR's Paraformer uses blank 0, sos 1, eos 2


def _bengali_symbols() -> list[str]:
    out = []
    for cp in range(0x0980, 0x0A00):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat[0] in "LMN" and unicodedata.name(ch, ""):
            out.append(ch)
    # Precomposed ড় ঢ় য় are canonical here; their decomposed nukta spelling never reaches the tokens.
    return out


def token_inventory() -> list[str]:
    """The token list of every model this project trains (index = token id)."""
    latin = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)] + ["'"]
    return [*SPECIAL, *_bengali_symbols(), *latin]


_KEEP = re.compile(r"[^\u0980-\u09ff a-z0-9']")
_SPACES = re.compile(r"\s+")


def normalize_transcript(text: str) -> str:
    """The form of ``text`` a recogniser is trained on and scored against (what was said, no punctuation).

    >>> normalize_transcript("Turn ON the lights, please!")
    'turn on the lights please'
    """
    s = clean_text(text).lower().replace("\u200c", "").replace("\u200d", "")
    s = s.replace("\u2019", "'")
    s = _KEEP.sub(" ", s)
    s = " ".join(w.strip("'") for w in _SPACES.split(s))
    return " ".join(s.split())


def text_to_tokens(text: str) -> list[str]:
    """Tokens of an already normalised transcript: one per code point, ``<space>`` between words."""
    return [SPACE if ch == " " else ch for ch in text]


def tokens_to_text(tokens: Iterable[str]) -> str:
    """Text of a token sequence; special tokens other than ``<space>`` are dropped, spaces folded."""
    s = "".join(" " if t == SPACE else ("" if t in SPECIAL else t) for t in tokens)
    return " ".join(s.split())


_REPEATED_BANGLA = re.compile(r"([\u0980-\u09ff])\1+")


def collapse_repeats(text: str) -> str:
    """``text`` with every run of one Bangla code point written once (``হহয়েেছে`` → ``হয়েছে``); Latin letters are
    kept as they are (English doubles its letters). The project's models emit some Bangla characters twice (the CIF
    predictor fires twice on one character); Bangla spelling almost never repeats a code point (4 runs in 150
    validation sentences, e.g. আসসালামু), so the recogniser's output is collapsed (``asr.collapse_repeats``)."""
    return _REPEATED_BANGLA.sub(r"\1", text)


class TokenTable:
    """Ids of tokens, from a token list (a model folder's ``tokens.json``)."""

    def __init__(self, tokens: Sequence[str]):
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("token list has duplicates")
        missing = [t for t in SPECIAL[:4] if t not in self.index]
        if missing:
            raise ValueError(f"token list lacks {missing}")

    def encode(self, text: str) -> list[int]:
        """Ids of a normalised transcript; unknown characters map to ``<unk>``."""
        unk = self.index[UNK]
        return [self.index.get(t, unk) for t in text_to_tokens(text)]

    def decode(self, ids: Iterable[int]) -> str:
        return tokens_to_text(self.tokens[i] for i in ids if 0 <= i < len(self.tokens))
