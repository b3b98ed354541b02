"""What the agent says: speech engines (VITS voice, espeak-ng) and a sentence splitter for streamed text.

An engine turns text into 16 kHz float32 chunks, one per sentence (``stream`` is a generator, so the
session runs each ``next()`` on its TTS thread and can stop between sentences). ``tts.engine=auto``
uses the VITS voice and falls back to espeak-ng, saying which file is missing and how to train it.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from agent.config import TtsConfig
from audio_io.frames import SAMPLE_RATE
from audio_io.resample import resample
from audio_io.speech_synth import SynthesisError, SynthVoice, synthesize
from models.tts.text import TextFrontEnd
from models.tts.voice import Voice, VoiceError

log = logging.getLogger(__name__)

# A sentence ends at । ? ! ॥ or '.', followed by white space (so 3.5 is not split), or at a newline.
_SENTENCE_END = re.compile(r"[।?!॥.]+[\"'”’)]*(?=\s)|\n")


class SpeechEngine(ABC):
    """Text → audio at 16 kHz, sentence by sentence."""

    name: str = "engine"

    @abstractmethod
    def stream(self, text: str) -> Iterator[np.ndarray]:
        """Yield one float32 chunk (16 kHz) per sentence of ``text``; nothing when nothing is speakable."""

    def apply(self, config: TtsConfig) -> None:  # noqa: B027 - engines without controls ignore it
        """Take new voice controls (length, noise) from ``config`` for the next sentence."""


class VitsEngine(SpeechEngine):
    """A project voice (VITS, a two-stage AlignTTS + vocoder, or a converted one; onnxruntime), resampled to 16 kHz."""

    def __init__(self, voice: Voice, config: TtsConfig) -> None:
        self.voice = voice
        self.name = f"vits ({Path(voice.source).name})"
        self.apply(config)

    def apply(self, config: TtsConfig) -> None:
        self.settings = self.voice.settings(noise_scale=config.noise_scale, length_scale=config.length_scale,
                                            noise_w=config.noise_scale_w, sentence_silence_s=config.sentence_silence_s)
        self.max_chars = config.max_text_chars

    def stream(self, text: str) -> Iterator[np.ndarray]:
        for chunk in self.voice.synthesize(text[: self.max_chars], self.settings):
            yield resample(chunk, self.voice.sample_rate, SAMPLE_RATE)


class EspeakEngine(SpeechEngine):
    """espeak-ng (robotic, but installed with the project): sentences from the same text front-end."""

    def __init__(self, config: TtsConfig) -> None:
        self.name = f"espeak-ng ({config.espeak_voice})"
        self.frontend = TextFrontEnd(latin="keep")
        self.apply(config)

    def apply(self, config: TtsConfig) -> None:
        self.voice = SynthVoice("espeak-ng", config.espeak_voice, "bn", speed_wpm=int(160 / config.length_scale))
        self.silence = np.zeros(int(config.sentence_silence_s * SAMPLE_RATE), dtype=np.float32)
        self.max_chars = config.max_text_chars

    def stream(self, text: str) -> Iterator[np.ndarray]:
        for sentence in self.frontend.sentences(text[: self.max_chars]):
            try:
                audio = synthesize(sentence, self.voice, SAMPLE_RATE)
            except SynthesisError as exc:
                log.warning("espeak-ng could not say %r: %s", sentence[:60], exc)
                continue
            yield np.concatenate([audio, self.silence])


def build_engine(config: TtsConfig) -> SpeechEngine:
    """The engine ``tts.engine`` asks for; ``auto`` falls back to espeak-ng with a warning."""
    if config.engine == "espeak":
        return EspeakEngine(config)
    try:
        return VitsEngine(Voice.load(config.voice, threads=config.threads, speaker=config.speaker,
                                      vocoder=config.vocoder, seed=config.seed), config)
    except VoiceError as exc:
        if config.engine == "vits":
            raise
        log.warning("%s — speaking with espeak-ng instead (tts.engine=auto)", exc)
        return EspeakEngine(config)


class SentenceSplitter:
    """Cuts streamed text (pieces of any size) into whole sentences as soon as each one is complete."""

    def __init__(self, max_chars: int = 100_000) -> None:
        self._buf = ""
        self.max_chars = max_chars
        self.total = 0  # characters accepted so far

    def push(self, piece: str) -> list[str]:
        """Add text; return the sentences completed by it (stripped, non-empty)."""
        room = self.max_chars - self.total
        piece = piece[: max(0, room)]
        self.total += len(piece)
        self._buf += piece
        out = []
        last = 0
        for m in _SENTENCE_END.finditer(self._buf):
            out.append(self._buf[last : m.end()].strip())
            last = m.end()
        self._buf = self._buf[last:]
        return [s for s in out if s]

    def flush(self) -> list[str]:
        """The text left over (the last sentence without an end mark)."""
        rest, self._buf = self._buf.strip(), ""
        return [rest] if rest else []
