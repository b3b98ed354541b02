"""The end-of-turn text cue: does the user's text so far end a sentence? (the "semantic" part of the VAD).

A pause inside a sentence ("I went to the market, | but ...", a hesitation after "the") and the silence after a
finished sentence sound alike for a few hundred ms; the words before them often do not: a Bangla sentence mostly
ends on its finite verb, a clause cut at a comma or a hesitation seldom does. ``SentenceEndCue(path)
.probability(text)`` gives the probability that ``text`` (the ASR's partial transcript, no punctuation needed)
ends a sentence, from a logistic regression over the last words and their endings (:func:`text_features`),
trained by ``python -m training.vad text-cue`` (:mod:`training.vad.text_cue`). The model is a small JSON file
(feature → weight); :class:`PauseTextScorer` asks it once per pause, on the ASR stream's text flushed to the end
of what was heard (:meth:`models.asr.paraformer.AsrStream.peek`), and the
:class:`~models.vad.endpointer.Endpointer` combines it with the VAD's end-of-turn probability
(``vad.text_cue``).
"""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agent.config import VadConfig

if TYPE_CHECKING:  # pragma: no cover
    from models.asr.paraformer import AsrStream
    from models.vad.endpointer import Endpointer, VadEvent

log = logging.getLogger(__name__)
FORMAT = "duplex-agent text end cue"
FORMAT_VERSION = 1
SHIPPED_CUE = Path(__file__).with_name("text_cue.json")
MAX_TEXT_CHARS = 4000  # only the end of a longer text is read
_NOT_WORD = re.compile(r"[^\w\u0980-\u09ff]+")


class TextCueError(ValueError):
    """The text cue file is missing, unreadable or not a text cue."""


def words_of(text: str) -> list[str]:
    """Lower-case words of ``text`` without punctuation (Bangla signs such as ্ and ় are kept in the word)."""
    text = unicodedata.normalize("NFC", text[-MAX_TEXT_CHARS:]).lower()
    return [w for w in _NOT_WORD.sub(" ", text).split() if w]


def text_features(words: list[str]) -> list[str]:
    """Names of the binary features of a text's end: its last word, the last 1–3 characters of it, the word
    before it and the pair. Empty for no words."""
    if not words:
        return []
    last = words[-1]
    prev = words[-2] if len(words) > 1 else "<s>"
    return ["bias", f"w={last}", f"e1={last[-1:]}", f"e2={last[-2:]}", f"e3={last[-3:]}", f"p={prev}",
            f"pw={prev}|{last}", f"n={min(len(last), 8)}"]


def resolve_text_cue(value: str | None) -> Path | None:
    """``vad.text_cue`` → a path: null/none/off → None (no cue), ``shipped`` → the shipped file, else a path."""
    if value is None or str(value).strip().lower() in ("", "null", "none", "off", "false"):
        return None
    if str(value).strip().lower() == "shipped":
        return SHIPPED_CUE
    return Path(value).expanduser()


class SentenceEndCue:
    """Logistic regression over :func:`text_features`; see the module doc."""

    def __init__(self, weights: dict[str, float], meta: dict | None = None) -> None:
        self.weights = {str(k): float(v) for k, v in weights.items()}
        self.meta = dict(meta or {})

    @classmethod
    def load(cls, path: str | Path) -> SentenceEndCue:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TextCueError(f"text cue {path}: no such file; train one with `python -m training.vad text-cue "
                               f"--out {path}` or set vad.text_cue: null") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TextCueError(f"text cue {path}: unreadable ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != FORMAT_VERSION:
            raise TextCueError(f"text cue {path}: not a text cue of version {FORMAT_VERSION} (format/version fields)")
        weights = data.get("weights")
        if not isinstance(weights, dict) or not all(isinstance(v, (int, float)) and math.isfinite(v)
                                                    for v in weights.values()):
            raise TextCueError(f"text cue {path}: 'weights' must map feature names to finite numbers")
        return cls(weights, {k: v for k, v in data.items() if k != "weights"})

    def save(self, path: str | Path) -> None:
        data = {"format": FORMAT, "version": FORMAT_VERSION, **{k: v for k, v in self.meta.items()
                                                                 if k not in ("format", "version")},
                "weights": {k: round(v, 5) for k, v in sorted(self.weights.items())}}
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")

    def score(self, words: list[str]) -> float:
        """The logit for a list of words (0 for none)."""
        return sum(self.weights.get(f, 0.0) for f in text_features(words))

    def probability(self, text: str) -> float | None:
        """Probability that ``text`` ends a sentence; None when it has no word."""
        words = words_of(text)
        if not words:
            return None
        z = self.score(words)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


class PauseTextScorer:
    """Asks the cue once per pause: when the endpointer's open turn has been silent for ``after_frames`` frames,
    the ASR stream's text so far (flushed, :meth:`~models.asr.paraformer.AsrStream.peek`) is scored, and the
    score holds until speech comes back. ``update`` returns the score for the endpointer's next frame (None: not
    known yet)."""

    def __init__(self, cue: SentenceEndCue, after_frames: int) -> None:
        self.cue = cue
        self.after_frames = max(0, int(after_frames))
        self.value: float | None = None
        self.text = ""
        self.peeks = 0  # flushes run (for tests and benchmarks)

    @classmethod
    def for_config(cls, cue: SentenceEndCue, config: VadConfig, frame_samples: int = 320) -> PauseTextScorer:
        """A scorer that asks after ``config.text_cue_after_ms`` of silence (whole frames, rounded up)."""
        return cls(cue, math.ceil(config.text_cue_after_ms * 16 / frame_samples - 1e-9))

    def reset(self) -> None:
        self.value, self.text = None, ""

    def update(self, endpointer: Endpointer, stream: AsrStream | None) -> float | None:
        """The cue for the endpointer's next frame: None in speech, without a stream, before ``after_frames`` of
        silence, or when the flushed text has no word (or the flush failed, which is logged)."""
        pause = endpointer.pause_frames
        if pause == 0 or stream is None:
            self.reset()
            return None
        if self.value is None and pause >= self.after_frames:
            self.peeks += 1
            try:
                self.text = stream.peek()
            except (ValueError, RuntimeError) as exc:  # the turn goes on without the cue
                log.warning("text cue: the ASR's text could not be read (%s); this pause goes without it", exc)
                self.text = ""
            self.value = self.cue.probability(self.text)
            if self.value is None:  # nothing recognised yet: say so once, not on every frame
                self.value = float("nan")
        return None if self.value is None or math.isnan(self.value) else self.value


class _SpanStream:
    """Offline stand-in for an :class:`~models.asr.paraformer.AsrStream` opened at sample ``start``: ``peek`` is
    ``text_of_span(start, end)`` for the samples fed so far (``end``)."""

    def __init__(self, text_of_span: Callable[[int, int], str], start: int) -> None:
        self.text_of_span, self.start, self.end = text_of_span, start, start

    def peek(self) -> str:
        return self.text_of_span(self.start, self.end)


def asr_spans(recognizer, audio: np.ndarray, memo: dict | None = None) -> Callable[[int, int], str]:  # noqa: ANN001
    """``text_of_span`` for :func:`endpoint_with_text` from a recogniser: ``audio[start:end]`` decoded in a fresh
    stream and flushed (:meth:`~models.asr.paraformer.AsrStream.peek`), which gives the same text as a live stream
    fed block by block (a stream cuts its chunks from what it has buffered). Texts are kept in ``memo`` by span."""
    memo = {} if memo is None else memo

    def text_of_span(start: int, end: int) -> str:
        if (start, end) not in memo:
            stream = recognizer.stream()
            if end > start:
                stream.accept(audio[start:end])
            memo[(start, end)] = stream.peek()
        return memo[(start, end)]

    return text_of_span


def endpoint_with_text(probs: np.ndarray, config: VadConfig, cue: SentenceEndCue,
                       text_of_span: Callable[[int, int], str], preroll_samples: int,
                       frame_samples: int = 320) -> list[VadEvent]:
    """The listening agent's endpointing over a whole signal, text cue included: an ASR stream opens at each speech
    start (``preroll_samples`` before it) and closes at the end of turn, and :class:`PauseTextScorer` scores its
    text once per pause, as :class:`agent.pipeline.ListeningPipeline` does live. ``probs``: (frames, 2) speech and
    end-of-turn probabilities; ``text_of_span(start, end)``: the text of samples [start, end) of the signal
    (:func:`asr_spans` for the ASR; the benchmark's oracle gives the true words)."""
    from models.vad.endpointer import Endpointer

    endpointer = Endpointer(config, frame_samples)
    scorer = PauseTextScorer.for_config(cue, config, frame_samples)
    stream: _SpanStream | None = None
    events: list[VadEvent] = []
    for t in range(probs.shape[0]):
        if stream is not None:
            stream.end = t * frame_samples  # fed up to the previous frame, as in the agent
        decided = endpointer.process(float(probs[t, 0]), float(probs[t, 1]),
                                     text_end=scorer.update(endpointer, stream))
        for ev in decided:
            if ev.kind == "speech_start":
                stream = _SpanStream(text_of_span, max(0, ev.sample - preroll_samples))
            elif ev.kind == "end_of_turn":
                stream = None
        events += decided
    return events
