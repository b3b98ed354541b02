"""Unicode clean-up of Bangla and English text (the first stage of the TTS text front-end).

NFC; invisible characters removed (BOM, soft hyphen, zero-width space, word joiner); one
precomposed form for ড় ঢ় য় (Unicode's NFC decomposes them into letter + nukta); split vowel signs
merged (ে + া → ো, ে + ৗ → ৌ); khanda-ta written as ৎ; stray vowel signs and hasants (not after a
consonant) and repeated ones dropped; ZWJ kept only in র‍্য (ra + ZWJ + hasant: the ya-phala
after ra) and ZWNJ only next to a hasant (explicit hasant, no conjunct); white space folded.
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u00ad\u200b\u2060\u180e\u200e\u200f"), None)
_NUKTA_FORMS = {"\u09a1\u09bc": "\u09dc", "\u09a2\u09bc": "\u09dd", "\u09af\u09bc": "\u09df"}  # ড় ঢ় য়
_SPLIT_VOWELS = {"\u09c7\u09be": "\u09cb", "\u09c7\u09d7": "\u09cc"}  # ো ৌ
_KHANDA_TA = re.compile("\u09a4\u09cd\u200d")  # ত + hasant + ZWJ → ৎ
HASANT = "\u09cd"
NUKTA = "\u09bc"
CONSONANTS = frozenset(chr(c) for c in range(0x0995, 0x09BA)) | frozenset("\u09dc\u09dd\u09df")
VOWEL_SIGNS = frozenset("\u09be\u09bf\u09c0\u09c1\u09c2\u09c3\u09c4\u09c7\u09c8\u09cb\u09cc\u09d7\u09e2\u09e3")
ZWNJ, ZWJ = "\u200c", "\u200d"


def _drop_stray_signs(s: str) -> str:
    """Vowel signs and hasants only right after a consonant (or its nukta); ZWJ/ZWNJ only where they change the glyph."""
    out: list[str] = []
    for i, c in enumerate(s):
        prev = out[-1] if out else ""
        if c in VOWEL_SIGNS:
            if prev not in CONSONANTS and prev != NUKTA:
                continue
        elif c == HASANT:
            if prev not in CONSONANTS and prev not in (NUKTA, ZWJ):
                continue
        elif c == NUKTA:
            if prev not in CONSONANTS:
                continue
        elif c == ZWJ:
            if not (prev == "\u09b0" and s[i + 1 : i + 2] == HASANT):
                continue
        elif c == ZWNJ:
            if not (prev == HASANT or s[i + 1 : i + 2] == HASANT):
                continue
        out.append(c)
    return "".join(out)


def clean_text(text: str) -> str:
    """Canonical Unicode form of ``text`` with invisible characters and stray signs removed, spaces folded."""
    s = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    s = _KHANDA_TA.sub("\u09ce", s)
    for src, dst in (*_NUKTA_FORMS.items(), *_SPLIT_VOWELS.items()):
        s = s.replace(src, dst)
    s = _drop_stray_signs(s)
    return " ".join(s.split())
