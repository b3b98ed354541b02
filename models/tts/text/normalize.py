"""Unicode clean-up of Bangla and English text (the first stage of the TTS text front-end).

What this does today: NFC, removal of invisible characters (BOM, soft hyphen, zero-width space,
word joiner; ZWNJ/ZWJ kept only between Bengali letters where they change the glyph), one
precomposed form for ড় ঢ় য় (Unicode's NFC decomposes them into letter + nukta), split vowel
signs merged (ে + া → ো, ে + ৗ → ৌ), and white space folded. Number, date and abbreviation
expansion belongs to the full normaliser of the TTS issue.
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u00ad\u200b\u2060\u180e"), None)
_NUKTA_FORMS = {"\u09a1\u09bc": "\u09dc", "\u09a2\u09bc": "\u09dd", "\u09af\u09bc": "\u09df"}  # ড় ঢ় য়
_SPLIT_VOWELS = {"\u09c7\u09be": "\u09cb", "\u09c7\u09d7": "\u09cc"}  # ো ৌ
_BENGALI = "\u0980-\u09ff"
_JOINER_BETWEEN = re.compile(f"(?<=[{_BENGALI}])[\u200c\u200d](?=[{_BENGALI}])")
_JOINER_ANY = re.compile("[\u200c\u200d]")


def clean_text(text: str) -> str:
    """Canonical Unicode form of ``text`` with invisible characters removed and spaces folded."""
    s = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    for src, dst in (*_NUKTA_FORMS.items(), *_SPLIT_VOWELS.items()):
        s = s.replace(src, dst)
    # Keep ZWJ/ZWNJ only inside Bengali words (র‍্য and similar); drop them elsewhere.
    kept = {m.start() for m in _JOINER_BETWEEN.finditer(s)}
    s = "".join(c for i, c in enumerate(s) if not (_JOINER_ANY.match(c) and i not in kept))
    return " ".join(s.split())
