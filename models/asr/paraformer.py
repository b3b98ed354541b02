"""Streaming Paraformer recognition through FunASR: a recogniser per model folder, a stream per utterance.

The model is loaded by FunASR's own ``AutoModel`` from a local folder (``config.yaml``, ``model.pt``,
``tokens.json``/``tokens.txt``, ``am.mvn``) with ``disable_update=True``: nothing is downloaded. A
stream buffers 16 kHz samples and runs FunASR's streaming mode chunk by chunk (``chunk_size
[0, 10, 5]`` in feature frames: 600 ms chunks with 300 ms look-ahead for FunASR's released models, whose
features hop 60 ms; 300 / 150 ms for a model with 30 ms features, ``lfr_n: 3``; encoder look-back 4 chunks,
decoder 1): a partial text after every chunk, the final text when the utterance ends. For this project's models (one token
per code point, ``<space>``) tokens become text with the project's own rules (``models.asr.tokens``),
because FunASR's sentence post-processing only knows Chinese and Latin scripts; other FunASR models
keep FunASR's joining.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.asr.tokens import SPACE, collapse_repeats, tokens_to_text

SAMPLE_RATE = 16000
LFR_HOP_SAMPLES = 960  # FunASR's released Paraformers: one feature vector per 60 ms (LFR n=6 of a 10 ms hop)
MAX_UTTERANCE_S = 300.0  # a stream refuses more audio than this (bounded memory)

SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "weights" / "asr_paraformer_bn_en"
log = logging.getLogger(__name__)


def resolve_asr_model(value: str | None) -> Path:
    """``asr.model_dir`` → a folder: null/``shipped`` → the shipped model, anything else is a path."""
    if value is None or str(value).strip().lower() in ("", "shipped", "null", "none"):
        return SHIPPED_MODEL
    return Path(value).expanduser()


class AsrModelError(RuntimeError):
    """The ASR model folder is missing, incomplete or unreadable."""


@dataclass(frozen=True)
class StreamingOptions:
    """FunASR streaming settings: chunk_size in feature frames [0, chunk, look-ahead] (a frame is the model's feature
    hop, :attr:`Recognizer.hop_samples`: 60 ms for FunASR's released models)."""

    chunk_size: tuple[int, int, int] = (0, 10, 5)
    encoder_chunk_look_back: int = 4
    decoder_chunk_look_back: int = 1

    def __post_init__(self) -> None:
        if len(self.chunk_size) != 3 or self.chunk_size[1] < 1 or min(self.chunk_size) < 0:
            raise ValueError(f"chunk_size must be [0, chunk >= 1, look-ahead >= 0], got {list(self.chunk_size)}")


def feature_hop_samples(frontend_conf: dict) -> int:
    """16 kHz samples per Paraformer feature vector of a model's ``frontend_conf``: the fbank hop (``frame_shift``,
    ms) times the LFR hop (``lfr_n``, fbank frames); 960 (60 ms) for FunASR's released models."""
    hop = float(frontend_conf.get("frame_shift", 10)) * int(frontend_conf.get("lfr_n", 6)) * SAMPLE_RATE / 1000
    if hop < 1 or hop != int(hop):
        raise AsrModelError(f"frontend_conf gives a feature hop of {hop} samples; expected a whole number >= 1")
    return int(hop)


def check_model_folder(path: str | Path) -> Path:
    """Raise ``AsrModelError`` naming what is wrong unless ``path`` holds a FunASR model folder."""
    path = Path(path)
    if not path.is_dir():
        raise AsrModelError(f"ASR model folder not found: {path} (train one with `python -m training.asr "
                            "--config configs/train/asr.yaml`, or set asr.model_dir to a FunASR model folder)")
    missing = [n for n in ("config.yaml", "model.pt", "am.mvn") if not (path / n).is_file()]
    if not ((path / "tokens.json").is_file() or (path / "tokens.txt").is_file()):
        missing.append("tokens.json or tokens.txt")
    if missing:
        raise AsrModelError(f"{path} is not a complete FunASR model folder: missing {', '.join(missing)}")
    import torch

    try:
        state = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a truncated or foreign file
        raise AsrModelError(f"{path / 'model.pt'} is not a readable checkpoint: {exc}") from None
    if not isinstance(state, dict) or not state:
        raise AsrModelError(f"{path / 'model.pt'} holds no weights")
    return path


@contextlib.contextmanager
def quiet_funasr():
    """FunASR prints banners to stdout and logs INFO on the root logger; keep both out of the agent's output."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logging.disable(previous)


def join_tokens(tokens: list[str], project_tokens: bool, collapse: bool = False) -> str:
    """Text of a token sequence: this project's rules for its own token lists (one token per code point and
    ``<space>``; ``collapse``: runs of one Bangla code point written once, :func:`models.asr.tokens.collapse_repeats`),
    FunASR's joining for other FunASR models (Chinese characters, English word pieces with @@)."""
    if project_tokens:
        text = tokens_to_text(tokens)
        return collapse_repeats(text) if collapse else text
    from funasr.utils.postprocess_utils import sentence_postprocess

    return sentence_postprocess(list(tokens))[0].strip() if tokens else ""


class Recognizer:
    """What every recogniser backend offers: ``stream()`` per utterance, ``transcribe(audio)``, ``text_of``.

    A backend implements ``new_state()`` (the caches of a fresh utterance) and
    ``run_chunk(state, samples, is_final) -> tokens`` (one chunk of 16 kHz samples, FunASR's streaming step)."""

    model_dir: Path
    options: StreamingOptions
    project_tokens: bool
    hop_samples: int = LFR_HOP_SAMPLES  # samples per feature vector (the model's frontend sets it)
    backend = "?"
    collapse_repeats = True  # asr.collapse_repeats: Bangla characters the model repeats are written once

    def text_of(self, tokens: list[str]) -> str:
        """Text of a token sequence, joined by the rules of this model's token list."""
        return join_tokens(tokens, self.project_tokens, self.collapse_repeats)

    @property
    def chunk_samples(self) -> int:
        """16 kHz samples per streaming chunk: ``chunk_size[1]`` feature frames."""
        return self.options.chunk_size[1] * self.hop_samples

    def stream(self) -> AsrStream:
        """A new utterance."""
        return AsrStream(self)

    def transcribe(self, audio: np.ndarray) -> str:
        """Text of a whole recording (16 kHz mono float32), through the same streaming path."""
        s = self.stream()
        s.accept(audio)
        return s.finish()

    def new_state(self) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    def run_chunk(self, state: dict, chunk: np.ndarray, is_final: bool) -> list[str]:  # pragma: no cover
        raise NotImplementedError


class ParaformerRecognizer(Recognizer):
    """A streaming Paraformer loaded from a local FunASR model folder (torch, CPU)."""

    backend = "torch"

    def __init__(self, model_dir: str | Path, options: StreamingOptions | None = None, threads: int = 1):
        folder = check_model_folder(model_dir)
        self.options = options or StreamingOptions()
        self.model_dir = folder
        os.environ.setdefault("FUNASR_DISABLE_UPDATE", "1")
        try:
            with quiet_funasr():
                from funasr import AutoModel

                auto = AutoModel(model=str(folder), disable_update=True, ncpu=threads, device="cpu",
                                 disable_pbar=True, disable_log=True)
        except Exception as exc:  # FunASR raises assorted errors for a bad config or weights
            raise AsrModelError(f"FunASR could not load {folder}: {exc}") from None
        self.model = auto.model
        self.kwargs = dict(auto.kwargs)
        self.tokenizer = self.kwargs["tokenizer"]
        self.frontend = self.kwargs["frontend"]
        if not hasattr(self.model, "generate_chunk"):
            raise AsrModelError(f"{folder}: model {self.kwargs.get('model')!r} is not a streaming Paraformer")
        fs = getattr(self.frontend, "fs", SAMPLE_RATE)
        if fs != SAMPLE_RATE:
            raise AsrModelError(f"{folder}: model expects {fs} Hz audio, the agent runs at {SAMPLE_RATE} Hz")
        self.hop_samples = feature_hop_samples(dict(self.kwargs.get("frontend_conf") or {}))
        o = self.options
        # What generate_chunk needs besides audio and caches, built once (not per 600 ms chunk).
        self.run_kwargs = {k: v for k, v in self.kwargs.items() if k not in ("tokenizer", "frontend", "cache", "key")}
        self.run_kwargs.update(chunk_size=list(o.chunk_size), encoder_chunk_look_back=o.encoder_chunk_look_back,
                               decoder_chunk_look_back=o.decoder_chunk_look_back, device="cpu")
        self.project_tokens = SPACE in (self.kwargs.get("token_list") or [])

    def new_state(self) -> dict:
        cache: dict = {}
        self.model.init_cache(cache, **self.run_kwargs)
        return cache

    def run_chunk(self, state: dict, chunk: np.ndarray, is_final: bool) -> list[str]:
        import torch
        from funasr.utils.load_utils import extract_fbank

        with torch.no_grad(), quiet_funasr():
            if is_final and chunk.shape[0] < self.hop_samples:
                # Too short for a feature frame: FunASR closes the stream on the cached features.
                state["encoder"]["tail_chunk"] = True
                speech = state["encoder"]["feats"]
                lengths = torch.tensor([speech.shape[1]], dtype=torch.int64)
            else:
                speech, lengths = extract_fbank([torch.from_numpy(chunk.copy())], data_type="sound",
                                                frontend=self.frontend, cache=state["frontend"], is_final=is_final)
            return self.model.generate_chunk(speech, lengths, key=["utt"], tokenizer=self.tokenizer,
                                             frontend=self.frontend, cache=state, **self.run_kwargs,
                                             is_final=is_final)


@dataclass
class AsrStream:
    """One utterance: ``accept`` samples as they arrive (partial text), ``finish`` for the final text."""

    recognizer: Recognizer
    tokens: list[str] = field(default_factory=list)
    samples_in: int = 0
    finished: bool = False

    def __post_init__(self) -> None:
        self._pending = np.zeros(0, np.float32)
        self._state = self.recognizer.new_state()

    @property
    def text(self) -> str:
        """The text so far (partial until ``finish``)."""
        return self.recognizer.text_of(self.tokens)

    def accept(self, samples: np.ndarray) -> str:
        """Add 16 kHz mono samples (any length); run every complete chunk; return the text so far."""
        if self.finished:
            raise RuntimeError("this ASR stream is finished; start a new one for the next utterance")
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"ASR input must be mono 1-D samples, got shape {x.shape}")
        if self.samples_in + x.shape[0] > MAX_UTTERANCE_S * SAMPLE_RATE:
            raise ValueError(f"utterance longer than {MAX_UTTERANCE_S:.0f} s; finish it and start a new stream")
        self.samples_in += x.shape[0]
        self._pending = np.concatenate([self._pending, x])
        step = self.recognizer.chunk_samples
        while self._pending.shape[0] >= step:
            chunk, self._pending = self._pending[:step], self._pending[step:]
            self.tokens.extend(self.recognizer.run_chunk(self._state, chunk, is_final=False))
        return self.text

    def peek(self) -> str:
        """The text of everything accepted so far, as if the utterance ended now (the pending samples are decoded
        with the look-ahead closed on a copy of the stream's state; the stream itself goes on unchanged). Costs one
        chunk's decoding; :class:`models.vad.text_cue.PauseTextScorer` calls it once per pause."""
        if self.finished:
            return self.text
        state = copy.deepcopy(self._state)
        tail = self.recognizer.run_chunk(state, self._pending.copy(), is_final=True)
        return self.recognizer.text_of(self.tokens + tail)

    def finish(self) -> str:
        """Flush the rest with the look-ahead closed; return the final text."""
        if not self.finished:
            self.tokens.extend(self.recognizer.run_chunk(self._state, self._pending, is_final=True))
            self._pending = np.zeros(0, np.float32)
            self.finished = True
        return self.text


def recognizer_from_config(config) -> Recognizer:  # noqa: ANN001 (agent.config.AsrConfig)
    """The recogniser that the ``asr`` config section describes (``asr.backend``: auto, onnx or torch)."""
    options = StreamingOptions(tuple(config.chunk_size), config.encoder_chunk_look_back,
                               config.decoder_chunk_look_back)
    folder = check_model_folder(resolve_asr_model(config.model_dir))  # a bad folder is an error on every backend
    rec: Recognizer
    if config.backend == "torch":
        rec = ParaformerRecognizer(folder, options, config.ncpu)
    else:
        from models.asr.onnx_runtime import OnnxParaformerRecognizer, cached_export

        try:
            rec = OnnxParaformerRecognizer(cached_export(folder), options, config.ncpu)
            rec.model_dir = folder  # the folder the user named; the graphs may live in the cache
        except (ValueError, OSError, AsrModelError) as exc:  # not exportable, an unwritable cache, bad graphs
            if config.backend == "onnx":
                raise AsrModelError(f"{folder}: no ONNX backend for this model: {exc}") from None
            log.warning("ASR: %s cannot run on onnxruntime (%s); using torch", folder, exc)
            rec = ParaformerRecognizer(folder, options, config.ncpu)
    rec.collapse_repeats = config.collapse_repeats
    return rec
