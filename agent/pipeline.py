"""The listening side of a session, run on the worker thread: echo chain → VAD → endpointer → ASR.

``ListeningPipeline.process(block)`` takes one duplex block (20 ms mic + what was played in the same
callback) and returns what it decided: VAD events, a new partial transcript, the chain's state. It
never touches the event loop; the session calls it through a single worker thread, so its state is
only ever used by one thread. The ASR runs only inside a user turn: ``start_utterance`` opens a
stream and feeds it the echo-cancelled audio from shortly before the speech start (kept in a
ring), ``finish_utterance`` returns the final text.

Times are microphone samples from the session start; the chain's one-hop latency is taken out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from agent.config import AgentConfig
from audio_io.frames import SAMPLE_RATE, DuplexBlock
from models.aec.chain import ChainStats, EchoCanceller, resolve_res_model
from models.asr.paraformer import (
    AsrModelError,
    AsrStream,
    Recognizer,
    recognizer_from_config,
    resolve_asr_model,
)
from models.kws.spotter import ShortWordSpotter, SpotterModelError, resolve_spotter_model
from models.vad.endpointer import Endpointer, VadEvent
from models.vad.runtime import SemanticVad, VadModelError, resolve_vad_model
from models.vad.text_cue import PauseTextScorer, SentenceEndCue, TextCueError, resolve_text_cue

log = logging.getLogger(__name__)

RING_S = 2.0  # echo-cancelled audio kept for the ASR's pre-roll


class ModelLoadError(RuntimeError):
    """A model the session needs is missing or corrupt; the message names the file and how to get it."""


@dataclass
class BlockResult:
    """What the pipeline decided on one block."""

    events: list[VadEvent] = field(default_factory=list)  # samples in microphone time
    partial: str | None = None  # the partial transcript, when it changed on this block
    stats: ChainStats | None = None
    p_speech: float = 0.0
    playing: bool = False  # the barge-in rules were in force (playback or its echo tail)
    audio: np.ndarray | None = None  # the echo chain's ASR output for this block (mic time start - latency)


class AudioRing:
    """The last ``capacity`` samples of a stream, addressable by absolute sample index."""

    def __init__(self, capacity: int) -> None:
        self._buf = np.zeros(capacity, dtype=np.float32)
        self.end = 0  # absolute index one past the newest sample

    def append(self, x: np.ndarray, start: int) -> None:
        n, cap = x.shape[0], self._buf.shape[0]
        if start != self.end:  # a gap (first block, or a dropped block): restart at ``start``
            self._buf[:] = 0.0
        if n >= cap:
            self._buf[:] = x[-cap:]
        else:
            self._buf[:-n] = self._buf[n:]
            self._buf[-n:] = x
        self.end = start + n

    def since(self, start: int) -> np.ndarray:
        """Samples from absolute index ``start`` (clamped to what is kept) to the newest."""
        keep = min(self._buf.shape[0], max(0, self.end - start))
        return self._buf[self._buf.shape[0] - keep:].copy()


def _hint(kind: str) -> str:
    return {
        "vad": "restore it with `git checkout -- models/vad/` or train one: python -m training.vad --config "
               "configs/train/vad.yaml",
        "asr": "restore it with `git checkout -- models/weights/asr_paraformer_bn_en` or train one: python -m "
               "training.asr --config configs/train/asr.yaml",
        "text_cue": "restore it with `git checkout -- models/vad/text_cue.json`, train one (python -m training.vad "
                    "text-cue) or set vad.text_cue=null",
        "spotter": "restore it with `git checkout -- models/kws/`, train one (python -m training.kws --config "
                   "configs/train/kws.yaml) or set agent.short_word_model=null",
        "res": "restore it with `git checkout -- models/aec/res/`, train one (python -m training.res --config "
               "configs/train/res.yaml) or set aec.res_model=null for the classical masks",
    }[kind]


def load_models(config: AgentConfig) -> tuple[EchoCanceller, SemanticVad, Recognizer]:
    """The echo chain, the VAD and the ASR that ``config`` asks for, or a :class:`ModelLoadError`."""
    try:
        chain = EchoCanceller(config.aec)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"echo suppressor model {resolve_res_model(config.aec.res_model)}: {exc}; "
                             f"{_hint('res')}") from None
    vad_path = resolve_vad_model(config.vad.model)
    try:
        vad = SemanticVad(vad_path, config.vad.threads)
    except VadModelError as exc:
        raise ModelLoadError(f"VAD model {vad_path}: {exc}; {_hint('vad')}") from None
    asr_path = resolve_asr_model(config.asr.model_dir)
    try:
        asr = recognizer_from_config(config.asr)
    except (AsrModelError, OSError, ValueError) as exc:
        raise ModelLoadError(f"ASR model {asr_path}: {exc}; {_hint('asr')}") from None
    return chain, vad, asr


def text_scorer_from_config(config: AgentConfig) -> PauseTextScorer | None:
    """The end-of-turn text cue that ``vad.text_cue`` names (None when off), or a :class:`ModelLoadError`."""
    path = resolve_text_cue(config.vad.text_cue)
    if path is None:
        return None
    try:
        cue = SentenceEndCue.load(path)
    except TextCueError as exc:
        raise ModelLoadError(f"{exc}; {_hint('text_cue')}") from None
    return PauseTextScorer.for_config(cue, config.vad)


def spotter_from_config(config: AgentConfig) -> ShortWordSpotter | None:
    """The short-word spotter that ``agent.short_word_model`` names (None when off), or a :class:`ModelLoadError`."""
    path = resolve_spotter_model(config.agent.short_word_model)
    if path is None:
        return None
    try:
        return ShortWordSpotter(path)
    except SpotterModelError as exc:
        raise ModelLoadError(f"{exc}; {_hint('spotter')}") from None


class ListeningPipeline:
    """See the module doc. Not thread-safe: one worker thread calls every method."""

    def __init__(self, config: AgentConfig, chain: EchoCanceller, vad: SemanticVad,
                 recognizer: Recognizer) -> None:
        self.config = config
        self.chain = chain
        self.vad = vad
        self.recognizer = recognizer
        self.endpointer = Endpointer(config.vad)
        self.text_scorer = text_scorer_from_config(config)
        self.spotter = spotter_from_config(config)
        self.latency = EchoCanceller.latency_samples
        self.preroll = int(config.agent.asr_preroll_ms * SAMPLE_RATE / 1000)
        self.tail_samples = int(config.vad.barge_in_tail_ms * SAMPLE_RATE / 1000)
        ring_samples = int(RING_S * SAMPLE_RATE) + self.preroll
        self.ring = AudioRing(ring_samples)
        # the echo estimate and the LAEC output over the same samples, for a spotter that reads them
        self.echo_ring = AudioRing(ring_samples) if self.spotter and self.spotter.echo_aware else None
        self.laec_ring = AudioRing(ring_samples) if self.spotter and self.spotter.laec_aware else None
        self.stream: AsrStream | None = None
        self._last_partial = ""
        self._last_played = -(10**12)  # end sample of the last block with audible playback
        self.warmup_blocks = int(config.vad.barge_in_warmup_ms / 20)
        self._far_blocks = 0  # blocks with far-end activity seen by the chain

    @classmethod
    def from_config(cls, config: AgentConfig) -> ListeningPipeline:
        return cls(config, *load_models(config))

    @property
    def model_paths(self) -> dict[str, str]:
        return {"res": self.chain.mask_source, "vad": str(self.vad.path),
                "asr": f"{self.recognizer.model_dir} ({self.recognizer.backend})",
                "short_words": str(self.spotter.path) if self.spotter is not None else "off (ASR words and lists)"}

    def process(self, block: DuplexBlock) -> BlockResult:
        """One 320-sample duplex block; see :class:`BlockResult`."""
        asr_out, vad_out, stats = self.chain.process(block.mic, block.ref)
        end = block.start_sample + block.num_samples
        if stats.far_end_active:  # the chain's own test of the played block (-60 dBFS)
            self._last_played = end
        playing = end - self._last_played <= self.tail_samples
        # ŷ: read by an echo-aware VAD; e (the linear canceller's output): by a LAEC-aware one
        p_speech, p_eot = self.vad.process(vad_out, self.chain.echo_estimate, self.chain.laec_output)
        if stats.far_end_active:
            self._far_blocks += 1
        # The echo canceller is still converging on the first far-end speech, or again after the echo path moved
        # (a delay jump): nothing heard during playback or its echo tail can be told from the agent's own voice.
        converging = playing and (self._far_blocks < self.warmup_blocks or stats.delay_samples is None
                                  or stats.echo_path_unsettled)
        echo_dominant = stats.far_end_active and not stats.double_talk
        out_start = block.start_sample - self.latency  # mic time of the chain's outputs
        # the text cue: the ASR's words so far, scored once per pause (fed up to the previous block)
        text_end = self.text_scorer.update(self.endpointer, self.stream) if self.text_scorer is not None else None
        events = [VadEvent(ev.kind, ev.sample - self.latency, end)
                  for ev in self.endpointer.process(p_speech, p_eot, playing, echo_dominant, converging, text_end)]
        if out_start >= 0:
            self.ring.append(asr_out, out_start)
            if self.echo_ring is not None:
                self.echo_ring.append(np.asarray(self.chain.echo_estimate, dtype=np.float32), out_start)
            if self.laec_ring is not None:
                self.laec_ring.append(np.asarray(self.chain.laec_output, dtype=np.float32), out_start)
            partial = self._accept(asr_out)
        else:
            partial = None
        return BlockResult(events, partial, stats, p_speech, playing, asr_out)

    def _accept(self, samples: np.ndarray) -> str | None:
        if self.stream is None:
            return None
        try:
            text = self.stream.accept(samples)
        except ValueError as exc:  # over the utterance bound: close this one, the turn goes on in a new stream
            log.warning("ASR: %s", exc)
            return None
        if text != self._last_partial:
            self._last_partial = text
            return text
        return None

    def start_utterance(self, from_sample: int) -> str | None:
        """Open an ASR stream and feed it the kept audio from ``from_sample`` minus the pre-roll."""
        self.stream = self.recognizer.stream()
        self._last_partial = ""
        return self._accept(self.ring.since(from_sample - self.preroll))

    def finish_utterance(self) -> str:
        """Close the current stream; its final text ('' when none was open)."""
        stream, self.stream = self.stream, None
        return stream.finish() if stream is not None else ""

    def peek_utterance(self) -> str:
        """The text of the open stream as if it ended now (the stream goes on unchanged; '' when none is open)."""
        return self.stream.peek() if self.stream is not None else ""

    def ride_probability(self, onset: int) -> float | None:
        """The spotter's probability that the speech since ``onset`` (microphone samples; the ASR pre-roll before
        it is included, as the ASR gets it) is a backchannel or a noise; None when no spotter is configured."""
        if self.spotter is None:
            return None
        audio = self.ring.since(onset - self.preroll)[-10 * SAMPLE_RATE :]
        if audio.shape[0] < 320:
            return None
        n = audio.shape[0]
        echo, laec = (r.since(onset - self.preroll)[-n:] if r is not None else None
                      for r in (self.echo_ring, self.laec_ring))
        return self.spotter.p_ride(audio, echo, laec)

    def cancel_utterance(self) -> None:
        self.stream = None

