"""Offline speech from the system's synthesisers: espeak-ng, flite and festival.

Used to make training corpora and the scripted users of the simulated room. Text never passes
through a shell: espeak-ng reads it from stdin, flite and festival from a temporary file.
espeak-ng speaks Bangla (``bn``) and English with about 100 voice variants; flite and festival
give more natural English voices. All output is returned as mono float32 at the asked rate.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf

from audio_io.resample import resample

Engine = Literal["espeak-ng", "flite", "festival"]

FLITE_VOICES = ("kal16", "awb", "rms", "slt")  # 'kal' is an 8 kHz voice: left out
FESTIVAL_VOICES = ("kal_diphone", "cmu_us_slt_arctic_hts")
MAX_TEXT_CHARS = 2000
TIMEOUT_S = 60


class SynthesisError(RuntimeError):
    """A system synthesiser is missing or failed on a text."""


@dataclass(frozen=True)
class SynthVoice:
    """A system voice with its prosody settings.

    ``voice_id`` names the speaker identity (engine, language, voice); pitch and speed vary a
    speaker's delivery but do not make a new speaker, so corpus splits are disjoint by ``voice_id``.
    """

    engine: Engine
    name: str  # espeak-ng: language+variant (e.g. "bn+adam"); flite/festival: voice name
    language: str  # "bn" or "en"
    speed_wpm: int = 160  # espeak-ng only: words per minute
    pitch: int = 50  # espeak-ng only: 0..99

    @property
    def voice_id(self) -> str:
        return f"{self.engine}:{self.name}"


def _require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise SynthesisError(f"'{program}' is not installed; run: bash scripts/setup.sh")
    return path


@functools.lru_cache(maxsize=1)
def espeak_variants() -> tuple[str, ...]:
    """Names of espeak-ng's voice variants (e.g. 'adam', 'f3'), sorted."""
    out = subprocess.run([_require("espeak-ng"), "--voices=variant"], capture_output=True, text=True, timeout=TIMEOUT_S)
    names = []
    for line in out.stdout.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 5 and cols[4].startswith("!v/"):
            names.append(cols[4][3:])
    return tuple(sorted(set(names)))


def list_voices(language: str) -> list[SynthVoice]:
    """Every speaker identity available offline for ``language`` ('bn' or 'en'), at default prosody."""
    if language not in ("bn", "en"):
        raise ValueError(f"language must be 'bn' or 'en', got {language!r}")
    espeak_lang = "bn" if language == "bn" else "en-us"
    voices = [SynthVoice("espeak-ng", espeak_lang, language)]
    voices += [SynthVoice("espeak-ng", f"{espeak_lang}+{v}", language) for v in espeak_variants()]
    if language == "en":
        if shutil.which("flite"):
            voices += [SynthVoice("flite", v, "en") for v in FLITE_VOICES]
        if shutil.which("text2wave"):
            voices += [SynthVoice("festival", v, "en") for v in FESTIVAL_VOICES]
    return voices


def _read_output(path: Path, engine: str, sample_rate: int) -> np.ndarray:
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise SynthesisError(f"{engine} wrote no readable audio ({exc})") from None
    x = data.mean(axis=1)
    if x.size == 0:
        raise SynthesisError(f"{engine} produced no audio")
    return resample(x, rate, sample_rate)


def synthesize(text: str, voice: SynthVoice, sample_rate: int = 16000) -> np.ndarray:
    """Speak ``text`` with ``voice``; returns mono float32 at ``sample_rate`` Hz (with the engine's own edge silences)."""
    text = " ".join(text.split())
    if not text:
        raise SynthesisError("nothing to say: the text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise SynthesisError(f"text of {len(text)} characters is longer than {MAX_TEXT_CHARS}")
    with tempfile.TemporaryDirectory(prefix="synth-") as tmp:
        wav = Path(tmp) / "out.wav"
        txt = Path(tmp) / "in.txt"
        txt.write_text(text + "\n", encoding="utf-8")
        if voice.engine == "espeak-ng":
            cmd = [_require("espeak-ng"), "-v", voice.name, "-s", str(voice.speed_wpm), "-p", str(voice.pitch),
                   "-w", str(wav), "--stdin"]
            stdin = text
        elif voice.engine == "flite":
            cmd = [_require("flite"), "-voice", voice.name, "-f", str(txt), "-o", str(wav)]
            stdin = None
        elif voice.engine == "festival":
            # festival 2.5 crashes (SIGSEGV) on a text that starts with "--".
            txt.write_text(text.lstrip("-–— ") + "\n", encoding="utf-8")
            cmd = [_require("text2wave"), "-eval", f"(voice_{voice.name})", "-o", str(wav), str(txt)]
            stdin = None
        else:
            raise SynthesisError(f"unknown engine {voice.engine!r}")
        try:
            proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise SynthesisError(f"{voice.engine} took longer than {TIMEOUT_S} s") from None
        if proc.returncode < 0:
            raise SynthesisError(f"{voice.engine} crashed (signal {-proc.returncode}) on {text[:60]!r}")
        if proc.returncode != 0:
            raise SynthesisError(f"{voice.engine} failed ({proc.returncode}): {proc.stderr.strip()[:300]}")
        return _read_output(wav, voice.engine, sample_rate)
