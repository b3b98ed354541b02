"""Voice runtime on onnxruntime (no torch): text → audio, sentence by sentence.

A voice is ``NAME.onnx`` (inputs ``input``, ``input_lengths``, ``scales`` [, ``sid``] as in Piper)
next to ``NAME.onnx.json``. Four kinds load (:func:`detect_format`, or named as ``KIND:PATH``):

* ``project``: exported by ``python -m training.tts export`` (the JSON has a ``project`` section);
* ``piper``: a Piper voice (``bn_BD-google-medium.onnx`` + ``.onnx.json``), run as it is, phonemes
  from espeak-ng (:mod:`models.tts.voices.tokens`);
* ``coqui``: a Coqui TTS VITS folder (``config.json`` + ``model.pth``) and ``mms``: a transformers
  ``VitsModel`` folder (``facebook/mms-tts-ben``: ``config.json``, weights, ``vocab.json``): loaded into
  the project's VITS, exported once to a project voice in ``cache/voices/`` (:mod:`models.tts.voices.convert`)
  and run from there.

``synthesize`` yields one float32 chunk per sentence so that playback can start after the first one.

    voice = Voice.load("piper:voices/bn_BD-google-medium.onnx")
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
from models.tts.voices.espeak_phonemes import PhonemizerError, phonemize
from models.tts.voices.tokens import (
    PIPER_BOS,
    PIPER_EOS,
    PIPER_PAD,
    CharTokenizer,
    CharTokens,
    PiperTokenizer,
    Tokenizer,
)

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


FORMATS = ("project", "piper", "coqui", "mms")


def parse_voice_spec(spec: str | Path | None) -> tuple[str | None, Path | None]:
    """``"piper:PATH"`` → ("piper", PATH); a plain path → (None, PATH); None → (None, None)."""
    if spec is None:
        return None, None
    text = str(spec)
    kind, sep, rest = text.partition(":")
    if sep and kind in FORMATS:
        if not rest:
            raise VoiceError(f"voice {text!r}: a path must follow '{kind}:'")
        return kind, Path(rest).expanduser()
    return None, Path(text).expanduser()


MAX_JSON_BYTES = 5_000_000


def read_json(path: Path, what: str) -> dict:
    """The JSON object in ``path``; :class:`VoiceError` naming the file when it is missing, too large, not JSON or
    not an object (``what``: what the file should be, for the message)."""
    path = Path(path)
    if not path.is_file():
        raise VoiceError(f"{path}: missing ({what})")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise VoiceError(f"{path}: {path.stat().st_size} bytes is too large for {what}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise VoiceError(f"{path}: not {what} ({exc})") from None
    if not isinstance(data, dict):
        raise VoiceError(f"{path}: not {what} (not a JSON object)")
    return data


def _json_next_to(onnx: Path) -> dict:
    return read_json(onnx.with_name(onnx.name + ".json"),
                     "a voice description; a voice is NAME.onnx with NAME.onnx.json next to it")


def detect_format(path: Path) -> str:
    """The kind of voice at ``path`` (a file or folder), from the files it has; raises :class:`VoiceError`."""
    path = Path(path)
    if not path.exists():
        raise VoiceError(f"voice not found: {path}")
    if path.is_file():
        if path.suffix == ".onnx":
            return "project" if "project" in _json_next_to(path) else "piper"
        if path.suffix in (".pth", ".pt", ".tar"):
            return "coqui"
        if path.name == "config.json":
            return detect_format(path.parent)
        raise VoiceError(f"{path}: not a voice file (expected NAME.onnx, a Coqui model.pth, or a folder)")
    onnx = sorted(path.glob("*.onnx"))
    if len(onnx) == 1:
        return detect_format(onnx[0])
    if (path / "config.json").is_file() and (path / "vocab.json").is_file():
        return "mms"
    if (path / "config.json").is_file() and any(path.glob("*.pth")):
        return "coqui"
    raise VoiceError(f"{path}: cannot tell which kind of voice this folder holds (a project or Piper NAME.onnx, "
                     "a Coqui config.json + model.pth, or an MMS config.json + vocab.json + weights); "
                     "name it as piper:PATH, coqui:PATH or mms:PATH")


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


def _field(cfg: dict, dotted: str, kind: type | tuple[type, ...], where: Path) -> object:
    """``cfg["a"]["b"]`` for ``"a.b"``, checked to be of ``kind``; a clear error naming the field otherwise."""
    node: object = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise VoiceError(f"{where}: field {dotted!r} is missing")
        node = node[part]
    if not isinstance(node, kind) or isinstance(node, bool) and kind is not bool:
        raise VoiceError(f"{where}: field {dotted!r} has the wrong type ({type(node).__name__})")
    return node


def _piper_tokenizer(cfg: dict, where: Path) -> PiperTokenizer:
    id_map = _field(cfg, "phoneme_id_map", dict, where)
    for key, ids in id_map.items():
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise VoiceError(f"{where}: field 'phoneme_id_map' maps {key!r} to {ids!r}, not a list of ids")
    for special in (PIPER_PAD, PIPER_BOS, PIPER_EOS):
        if special not in id_map:
            raise VoiceError(f"{where}: field 'phoneme_id_map' has no {special!r} (Piper's pad/begin/end symbols)")
    phoneme_type = cfg.get("phoneme_type", "espeak")
    if phoneme_type not in ("espeak", "text"):
        raise VoiceError(f"{where}: field 'phoneme_type' is {phoneme_type!r}; this runtime reads 'espeak' and 'text'")
    voice = str(_field(cfg, "espeak.voice", str, where)) if phoneme_type == "espeak" else ""
    if voice:
        try:
            phonemize("ক", voice)
        except PhonemizerError as exc:
            raise VoiceError(f"{where}: field 'espeak.voice': {exc}") from None
    return PiperTokenizer(id_map, voice, phoneme_type)


def _project_tokenizer(cfg: dict) -> TextFrontEnd | CharTokenizer:
    text = cfg.get("text", {})
    frontend = TextFrontEnd(latin=text.get("latin", "drop"), lakh=text.get("lakh", "লাখ"))
    if "tokens" in text:
        return CharTokenizer(CharTokens.from_dict(text["tokens"]), frontend)
    return replace(frontend, symbols=tuple(cfg["symbols"]))


class Voice:
    """A loaded voice (see the module's doc for the kinds). ``threads``: onnxruntime intra-op threads;
    ``speaker``: id or name for a multi-speaker Piper voice (None = its default); ``seed``: of the voice's
    sampled noise (VITS prior and durations, UnivNet input): the same seed and the same calls give the same
    audio (default 0); None = different on every load."""

    def __init__(self, path: Path, threads: int = 1, speaker: int | str | None = None,
                 kind: str | None = None, vocoder: str | Path | None = None, seed: int | None = 0) -> None:
        self.path = Path(path)
        self.source = str(self.path)  # what the user named (Voice.load sets KIND:PATH for a converted voice)
        if not self.path.is_file():
            raise VoiceError(f"voice model not found: {self.path}")
        cfg = _json_next_to(self.path)
        where = self.path.with_name(self.path.name + ".json")
        self.kind = kind or ("project" if "project" in cfg else "piper")
        self.origin = self.kind  # the format the user brought (coqui/mms for a converted voice)
        if self.kind == "project" and "project" not in cfg:
            raise VoiceError(f"{where}: field 'project' is missing (not a voice exported by this project)")
        stage = cfg.get("project", {}).get("stage", "voice") if self.kind == "project" else "voice"
        if stage == "vocoder":
            raise VoiceError(f"{self.path} is a vocoder, not a voice: load the acoustic model (e.g. "
                             "tts_bn_aligntts.onnx) and name this file as its vocoder")
        required = {"voice_format": VOICE_FORMAT} if self.kind == "project" else {}
        self.session, self.metadata = open_onnx_model(self.path, required, VoiceError, "voice", threads, seed)
        try:
            self.sample_rate = int(_field(cfg, "audio.sample_rate", int, where))
            inference = cfg.get("inference", {})
            self.defaults = SynthesisSettings(float(inference.get("noise_scale", 0.667)),
                                              float(inference.get("length_scale", 1.0)),
                                              float(inference.get("noise_w", 0.8)))
            if self.kind == "project":
                _field(cfg, "symbols", list, where)
                self.frontend: Tokenizer = _project_tokenizer(cfg)
            else:
                self.frontend = _piper_tokenizer(cfg, where)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise VoiceError(f"{where}: not a voice description ({exc})") from None
        self.config = cfg
        self.speaker_id = self._speaker(cfg, speaker, where)
        names = [i.name for i in self.session.get_inputs()]
        want = ["input", "input_lengths", "scales"] + (["sid"] if self.speaker_id is not None else [])
        if names != want:
            raise VoiceError(f"{self.path}: inputs {names}, expected {want}")
        self.vocoder = self._vocoder(cfg, stage, vocoder, threads, where, seed)

    def _vocoder(self, cfg: dict, stage: str, given: str | Path | None, threads: int, where: Path,  # noqa: ANN202
                 seed: int | None):
        """The second stage of an acoustic model (None for a one-stage voice)."""
        if stage != "acoustic":
            if given is not None:
                raise VoiceError(f"{self.path} makes audio itself (a one-stage voice); it takes no vocoder")
            return None
        from models.tts.vocoders.runtime import Vocoder

        if given is None:
            name = cfg["project"].get("vocoder")
            if not isinstance(name, str) or not name:
                raise VoiceError(f"{where}: an acoustic model needs a vocoder: field 'project.vocoder' is missing; "
                                 "name one (tts.vocoder, --vocoder)")
            given = self.path.parent / name
        vocoder = Vocoder(resolve_voice(given), threads, VoiceError, seed)
        vocoder.check_fits(cfg.get("mel", {}), VoiceError, str(self.path))
        return vocoder

    def _speaker(self, cfg: dict, speaker: int | str | None, where: Path) -> int | None:
        """The speaker id fed as ``sid`` (None for a single-speaker voice)."""
        n = int(cfg.get("num_speakers", 1) or 1)
        if n <= 1:
            if speaker not in (None, 0, ""):
                raise VoiceError(f"{self.path}: a single-speaker voice has no speaker {speaker!r}")
            return None
        if speaker is None or speaker == "":
            return int(cfg.get("default_speaker_id", 0))
        names = cfg.get("speaker_id_map", {}) or {}
        if isinstance(speaker, str) and not speaker.isdigit():
            if speaker not in names:
                raise VoiceError(f"{where}: no speaker {speaker!r}; speakers: {sorted(names)[:20]}")
            return int(names[speaker])
        sid = int(speaker)
        if not 0 <= sid < n:
            raise VoiceError(f"{where}: speaker id {sid} outside 0..{n - 1}")
        return sid

    @classmethod
    def load(cls, spec: str | Path | None = None, threads: int = 1, speaker: int | str | None = None,
             vocoder: str | Path | None = None, seed: int | None = 0) -> Voice:
        """Load a voice: a file or folder (kind detected), ``KIND:PATH`` (kind = project, piper, coqui, mms), or
        None (the shipped demo voice). Coqui and MMS checkpoints are converted once and cached. ``vocoder``:
        the vocoder of a two-stage voice (default: the one its description names); ``seed``: see the class."""
        kind, path = parse_voice_spec(spec)
        if path is None:
            return cls(resolve_voice(None), threads, speaker, "project", vocoder, seed)
        kind = kind or detect_format(path)
        if kind in ("coqui", "mms"):
            from models.tts.voices.convert import converted_voice  # torch: only for a conversion

            voice = cls(converted_voice(kind, path), threads, speaker, "project", vocoder, seed)
            voice.source, voice.origin = f"{kind}:{path}", kind
            return voice
        return cls(resolve_voice(path), threads, speaker, kind, vocoder, seed)

    def settings(self, **overrides: float | None) -> SynthesisSettings:
        """The voice's defaults with the given (non-None) fields replaced."""
        return replace(self.defaults, **{k: v for k, v in overrides.items() if v is not None})

    def synthesize_ids(self, ids: list[int], settings: SynthesisSettings | None = None) -> np.ndarray:
        """Audio (float32, ``sample_rate`` Hz) of one sequence of symbol ids."""
        s = settings or self.defaults
        feed = {
            "input": np.asarray([ids], dtype=np.int64),
            "input_lengths": np.asarray([len(ids)], dtype=np.int64),
            "scales": np.asarray([s.noise_scale, s.length_scale, s.noise_w], dtype=np.float32),
        }
        if self.speaker_id is not None:
            feed["sid"] = np.asarray([self.speaker_id], dtype=np.int64)
        out = self.session.run(None, feed)[0]
        if self.vocoder is not None:
            return self.vocoder(out)
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


__all__ = ["FORMATS", "SHIPPED_VOICE", "SynthesisSettings", "TextError", "Voice", "VoiceError", "detect_format", "parse_voice_spec",
           "pieces", "resolve_voice"]
