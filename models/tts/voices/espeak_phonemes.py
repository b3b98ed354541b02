"""Text → IPA phonemes with espeak-ng's library (``libespeak-ng.so.1``, through ctypes), the way Piper reads them.

Piper voices are trained on espeak-ng's IPA, clause by clause, with the clause's punctuation kept as
a "phoneme" (``, : ;`` followed by a space), language-switch flags such as ``(en)`` removed, and every
string decomposed (NFD) into code points. :func:`phonemize` does the same with the system library
(installed by ``scripts/setup.sh`` with the ``espeak-ng`` package). The text is handed to the
library in memory, never to a shell. The library keeps global state, so calls are serialised.
"""

from __future__ import annotations

import ctypes
import re
import threading
import unicodedata

LIBRARY = "libespeak-ng.so.1"
_AUDIO_OUTPUT_SYNCHRONOUS = 0x02
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02
_TERMINATORS = ".,?!:;"  # clause ends espeak reports; '।' ends a clause too but yields no symbol (as in Piper)
_FLAG = re.compile(r"\([^)]+\)")
MAX_TEXT_BYTES = 100_000


class PhonemizerError(RuntimeError):
    """espeak-ng's library is missing, or does not know the voice."""


class _Espeak:
    def __init__(self) -> None:
        try:
            lib = ctypes.cdll.LoadLibrary(LIBRARY)
        except OSError as exc:
            raise PhonemizerError(f"cannot load {LIBRARY} ({exc}); install espeak-ng: bash scripts/setup.sh") from None
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        if lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_DONT_EXIT) <= 0:
            raise PhonemizerError("espeak-ng's library failed to initialise (is espeak-ng-data installed?)")
        self.lib = lib
        self.voice: str | None = None

    def set_voice(self, voice: str) -> None:
        if voice != self.voice:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise PhonemizerError(f"espeak-ng has no voice {voice!r} (see: espeak-ng --voices)")
            self.voice = voice

    def clauses(self, text: str) -> list[tuple[str, str]]:
        """(IPA, terminator) per clause; the terminator is the clause's ASCII punctuation or ''."""
        raw = text.encode("utf-8")
        buf = ctypes.create_string_buffer(raw)
        start = ctypes.addressof(buf)
        ptr = ctypes.c_void_p(start)
        out: list[tuple[str, str]] = []
        while ptr.value:
            before = ptr.value - start
            ipa = self.lib.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, _PHONEMES_IPA)
            after = ptr.value - start if ptr.value else len(raw)
            out.append(((ipa or b"").decode("utf-8", "replace"), _terminator(raw[before:after].decode("utf-8", "ignore"))))
        return out


def _terminator(consumed: str) -> str:
    """The punctuation that ended a clause: the last of ``.,?!:;`` followed by a space or the end of the text
    (the library reads one character into the next clause)."""
    for i in range(len(consumed) - 1, -1, -1):
        if consumed[i] in _TERMINATORS and (i + 1 == len(consumed) or consumed[i + 1].isspace()):
            return consumed[i]
    return ""


_lock = threading.Lock()
_engine: _Espeak | None = None


def phonemize(text: str, voice: str) -> list[str]:
    """Phonemes (single code points, NFD) of ``text`` read by the espeak-ng ``voice``, clauses joined as Piper
    joins them: ``, : ;`` kept and followed by a space, ``. ? !`` kept. Raises :class:`PhonemizerError`."""
    global _engine
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise PhonemizerError(f"text longer than {MAX_TEXT_BYTES} bytes; split it into sentences")
    with _lock:
        if _engine is None:
            _engine = _Espeak()
        _engine.set_voice(voice)
        clauses = _engine.clauses(text) if text.strip() else []
    phonemes: list[str] = []
    for ipa, term in clauses:
        s = _FLAG.sub("", ipa) + term
        if term and term in ",:;":
            s += " "
        phonemes.extend(unicodedata.normalize("NFD", s))
    return phonemes
