"""The model's character set: what the front-end may output and the ids VITS reads.

Id 0 is padding (also the blank between characters when a voice interleaves them). The set is
written into every exported voice's ``.onnx.json``, so a voice keeps working if this list grows.
"""

from __future__ import annotations

import unicodedata

PAD = "_"
PUNCTUATION = " ,।?!"
LATIN = "abcdefghijklmnopqrstuvwxyz'"
BENGALI = "".join(
    chr(c) for c in range(0x0981, 0x09E4)
    if unicodedata.category(chr(c)) in ("Lo", "Mn", "Mc") and c not in (0x09E2, 0x09E3, 0x098C, 0x09E0, 0x09E1)
) + "\u200c\u200d"
SYMBOLS: tuple[str, ...] = (PAD, *PUNCTUATION, *BENGALI, *LATIN)
SYMBOL_TO_ID: dict[str, int] = {s: i for i, s in enumerate(SYMBOLS)}
SENTENCE_END = "।?!"
