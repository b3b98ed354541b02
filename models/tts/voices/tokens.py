"""How a voice turns a normalised sentence into the ids its model reads.

Every voice reads text through the project's Bangla front-end (:class:`models.tts.text.TextFrontEnd`:
numbers, dates, currency spelled out; punctuation unified; split into sentences). What differs is
the last step:

* the project's own voices: one id per character of :mod:`models.tts.text.symbols` (the front-end itself);
* :class:`CharTokenizer`: another model's character vocabulary (Coqui TTS, MMS-TTS): lower-casing,
  a blank id between characters, optional begin/end ids;
* :class:`PiperTokenizer`: Piper's ids: espeak-ng IPA (or the text's code points), each followed by
  the pad id, between ``^`` and ``$``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from models.tts.text import TextFrontEnd
from models.tts.voices.espeak_phonemes import phonemize


class Tokenizer(Protocol):
    """Text → sentences → ids. ``latin``: what the front-end does with words in Latin script."""

    latin: str

    def sentences(self, text: str) -> list[str]: ...

    def ids(self, sentence: str) -> list[int]: ...


@dataclass(frozen=True)
class CharTokens:
    """A character vocabulary (id = position; entries longer than one character, such as ``<PAD>``, are
    special ids never produced from text). ``blank_id``: interleaved before, between and after the
    characters when set; ``bos_id``/``eos_id``: added around the sentence when set; ``unicode_form``: the
    normalisation the model's own tokenizer applies first (Coqui's cleaners: NFC, which splits ড় ঢ় য়
    into letter + nukta)."""

    vocab: tuple[str, ...]
    blank_id: int | None = None
    bos_id: int | None = None
    eos_id: int | None = None
    lowercase: bool = False
    strip: bool = True
    unicode_form: str | None = None

    def __post_init__(self) -> None:
        if self.unicode_form not in (None, "NFC", "NFD", "NFKC", "NFKD"):
            raise ValueError(f"unicode_form {self.unicode_form!r} is not a Unicode normal form")
        for name in ("blank_id", "bos_id", "eos_id"):
            v = getattr(self, name)
            if v is not None and not 0 <= v < len(self.vocab):
                raise ValueError(f"{name}={v} is outside the vocabulary of {len(self.vocab)} entries")

    def to_dict(self) -> dict:
        return asdict(self) | {"vocab": list(self.vocab)}

    @classmethod
    def from_dict(cls, d: Mapping) -> CharTokens:
        return cls(vocab=tuple(d["vocab"]), blank_id=d.get("blank_id"), bos_id=d.get("bos_id"),
                   eos_id=d.get("eos_id"), lowercase=bool(d.get("lowercase", False)), strip=bool(d.get("strip", True)),
                   unicode_form=d.get("unicode_form"))


@dataclass
class CharTokenizer:
    """Sentences from ``frontend``; ids from another model's character vocabulary (unknown characters dropped)."""

    tokens: CharTokens
    frontend: TextFrontEnd = field(default_factory=TextFrontEnd)

    def __post_init__(self) -> None:
        self._table = {s: i for i, s in enumerate(self.tokens.vocab) if len(s) == 1}
        self.latin = self.frontend.latin

    def sentences(self, text: str) -> list[str]:
        return self.frontend.sentences(text)

    def ids(self, sentence: str) -> list[int]:
        t = self.tokens
        text = unicodedata.normalize(t.unicode_form, sentence) if t.unicode_form else sentence
        text = text.lower() if t.lowercase else text
        text = "".join(c for c in text if c in self._table)
        if t.strip:
            text = text.strip()
        ids = [self._table[c] for c in text]
        if t.blank_id is not None:
            out = [t.blank_id] * (2 * len(ids) + 1)
            out[1::2] = ids
            ids = out
        if t.bos_id is not None:
            ids = [t.bos_id, *ids]
        if t.eos_id is not None:
            ids = [*ids, t.eos_id]
        return ids if text else []


PIPER_PAD, PIPER_BOS, PIPER_EOS = "_", "^", "$"


@dataclass
class PiperTokenizer:
    """Piper's ids: ``^ _ p1 _ p2 _ … pn _ $`` with each phoneme's ids from ``phoneme_id_map``; phonemes from
    espeak-ng (``phoneme_type`` ``espeak``) or the sentence's code points after NFD (``text``)."""

    phoneme_id_map: Mapping[str, Sequence[int]]
    espeak_voice: str
    phoneme_type: str = "espeak"
    frontend: TextFrontEnd = field(default_factory=lambda: TextFrontEnd(latin="keep"))

    def __post_init__(self) -> None:
        self.latin = self.frontend.latin

    def sentences(self, text: str) -> list[str]:
        return self.frontend.sentences(text)

    def phonemes(self, sentence: str) -> list[str]:
        if self.phoneme_type == "text":
            return list(unicodedata.normalize("NFD", sentence))
        return phonemize(sentence, self.espeak_voice)

    def ids(self, sentence: str) -> list[int]:
        m = self.phoneme_id_map
        phonemes = [p for p in self.phonemes(sentence) if p in m]
        if not any(p.strip() for p in phonemes):
            return []
        ids = [*m[PIPER_BOS], *m[PIPER_PAD]]
        for p in phonemes:
            ids.extend(m[p])
            ids.extend(m[PIPER_PAD])
        ids.extend(m[PIPER_EOS])
        return ids
