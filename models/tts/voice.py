"""Voice runtime on onnxruntime (no torch): text → audio, sentence by sentence.

A voice is ``NAME.onnx`` (VITS exported by ``python -m training.tts export``; inputs ``input``,
``input_lengths``, ``scales`` as in Piper) next to ``NAME.onnx.json`` (sample rate, symbols,
default scales, front-end settings). ``synthesize`` yields one float32 chunk per sentence so that
playback can start after the first one.

    voice = Voice.load("models/weights/tts_bn_small.onnx")
    for chunk in voice.synthesize("আমি ভালো আছি। তুমি কেমন আছ?"):
        play(chunk)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from models.onnx_model import open_onnx_model
from models.tts.text import TextError, TextFrontEnd

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
SHIPPED_VOICE = WEIGHTS / "tts_bn_small.onnx"
MAX_SYMBOLS = 400  # a longer sentence is cut at spaces into pieces of at most this many symbols
VOICE_FORMAT = "1"


class VoiceError(RuntimeError):
    """A voice file is missing, corrupt, or does not fit this runtime."""


@dataclass(frozen=True)
class SynthesisSettings:
    """VITS controls: ``noise_scale`` (prior sampling), ``length_scale`` (>1 slower), ``noise_w`` (duration
    sampling), and the silence after each sentence in seconds."""

    noise_scale: float = 0.667
    length_scale: float = 1.0
    noise_w: float = 0.8
    sentence_silence_s: float = 0.2


def resolve_voice(path: str | Path | None) -> Path:
    """The ``.onnx`` file of a voice given as a file, a folder holding one voice, or None (the shipped demo voice)."""
    if path is None:
        if not SHIPPED_VOICE.exists():
            raise VoiceError(f"no voice configured and the demo voice {SHIPPED_VOICE} is missing; "
                             "train one with: python -m training.tts --config configs/train/tts_bn.yaml")
        return SHIPPED_VOICE
    p = Path(path)
    if p.is_dir():
        found = sorted(p.glob("*.onnx"))
        if len(found) != 1:
            raise VoiceError(f"{p}: expected one .onnx voice in the folder, found {len(found)}")
        return found[0]
    return p


def pieces(sentence: str, max_symbols: int = MAX_SYMBOLS) -> list[str]:
    """``sentence`` cut at spaces into pieces of at most ``max_symbols`` characters (hard cut inside a longer word)."""
    out: list[str] = []
    cur = ""
    for word in sentence.split(" "):
        while len(word) > max_symbols:
            if cur:
                out.append(cur)
                cur = ""
            out.append(word[:max_symbols])
            word = word[max_symbols:]
        if cur and len(cur) + 1 + len(word) > max_symbols:
            out.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}" if cur else word
    if cur:
        out.append(cur)
    return out


class Voice:
    """A loaded voice. ``threads``: onnxruntime intra-op threads."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        self.path = Path(path)
        self.session, self.metadata = open_onnx_model(self.path, {"voice_format": VOICE_FORMAT}, VoiceError, "voice",
                                                      threads)
        cfg_path = self.path.with_name(self.path.name + ".json")
        if not cfg_path.is_file():
            raise VoiceError(f"{cfg_path}: missing (a voice is NAME.onnx with NAME.onnx.json next to it)")
        try:
            cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
            self.sample_rate = int(cfg["audio"]["sample_rate"])
            symbols = tuple(cfg["symbols"])
            inference = cfg.get("inference", {})
            text = cfg.get("text", {})
            self.defaults = SynthesisSettings(float(inference.get("noise_scale", 0.667)),
                                              float(inference.get("length_scale", 1.0)),
                                              float(inference.get("noise_w", 0.8)))
            self.frontend = TextFrontEnd(latin=text.get("latin", "drop"), lakh=text.get("lakh", "লাখ"), symbols=symbols)
        except (ValueError, KeyError, TypeError) as exc:
            raise VoiceError(f"{cfg_path}: not a voice description ({exc})") from None
        self.config = cfg
        names = [i.name for i in self.session.get_inputs()]
        if names != ["input", "input_lengths", "scales"]:
            raise VoiceError(f"{self.path}: inputs {names}, expected ['input', 'input_lengths', 'scales']")

    @classmethod
    def load(cls, path: str | Path | None = None, threads: int = 1) -> Voice:
        """Load a voice file or folder (None = the shipped demo voice)."""
        return cls(resolve_voice(path), threads)

    def settings(self, **overrides: float | None) -> SynthesisSettings:
        """The voice's defaults with the given (non-None) fields replaced."""
        return replace(self.defaults, **{k: v for k, v in overrides.items() if v is not None})

    def synthesize_ids(self, ids: list[int], settings: SynthesisSettings | None = None) -> np.ndarray:
        """Audio (float32, ``sample_rate`` Hz) of one sequence of symbol ids."""
        s = settings or self.defaults
        out = self.session.run(None, {
            "input": np.asarray([ids], dtype=np.int64),
            "input_lengths": np.asarray([len(ids)], dtype=np.int64),
            "scales": np.asarray([s.noise_scale, s.length_scale, s.noise_w], dtype=np.float32),
        })[0]
        return np.clip(out.reshape(-1), -1.0, 1.0).astype(np.float32)

    def synthesize(self, text: str, settings: SynthesisSettings | None = None) -> Iterator[np.ndarray]:
        """Yield one chunk of audio per sentence (followed by ``sentence_silence_s`` of silence); nothing for
        text with nothing speakable. Raises :class:`models.tts.text.TextError` for text that is not a str or
        is longer than the front-end accepts."""
        s = settings or self.defaults
        silence = np.zeros(int(round(s.sentence_silence_s * self.sample_rate)), dtype=np.float32)
        for sentence in self.frontend.sentences(text):
            for piece in pieces(sentence):
                ids = self.frontend.ids(piece)
                if ids:
                    yield np.concatenate([self.synthesize_ids(ids, s), silence])

    def synthesize_all(self, text: str, settings: SynthesisSettings | None = None) -> np.ndarray:
        """The whole text as one array (empty when nothing is speakable)."""
        chunks = list(self.synthesize(text, settings))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


__all__ = ["SHIPPED_VOICE", "SynthesisSettings", "TextError", "Voice", "VoiceError", "pieces", "resolve_voice"]
