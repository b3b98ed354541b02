"""Runtime of the semantic VAD on onnxruntime (no torch): one 20 ms block at a time.

``SemanticVad(path).process(block, echo=None) -> (p_speech, p_end_of_turn)`` computes the block's
features, runs the exported streaming DFSMN step and keeps its state. An **echo-aware** model
(``echo_aware``; metadata ``echo_features`` 40) also takes the echo chain's echo estimate for the same
block (:attr:`models.aec.chain.EchoCanceller.echo_estimate`); None stands for silence (nothing played). A
**LAEC-aware** model (metadata ``laec_features`` 40) also takes the linear canceller's output for the block
(:attr:`models.aec.chain.EchoCanceller.laec_output`); None stands for the block itself (nothing played: the linear
canceller then passes the microphone, and the masks pass it too). A **prosody-aware** model (metadata ``pitch_features`` 3) also gets the block's pitch features
(:class:`models.vad.pitch.PitchTracker`, computed here from the same block). :func:`detect` runs it and the
:class:`~models.vad.endpointer.Endpointer` over a whole signal (the same objects as the agent, so
file and stream results are identical). The model file carries its contract as ONNX metadata; a file
that is missing, corrupt or made for another contract gives a :class:`VadModelError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent.config import VadConfig
from models.aec.stft import HOP
from models.onnx_model import BoundStep, open_onnx_model, state_shape_from
from models.vad.endpointer import Endpointer, VadEvent
from models.vad.features import FEATURES, POWER_FLOOR, SAMPLE_RATE, VadFeatures
from models.vad.pitch import PITCH_FEATURES, PitchTracker

FORMAT_VERSION = "1"
SHIPPED_MODEL = Path(__file__).with_name("vad_dfsmn.onnx")
REQUIRED_METADATA = {"sample_rate": str(SAMPLE_RATE), "hop": str(HOP), "features": str(FEATURES),
                     "outputs": "speech,end_of_turn", "format_version": FORMAT_VERSION}


class VadModelError(ValueError):
    """The VAD model file is missing, unreadable, or does not fit this runtime."""


def resolve_vad_model(value: str | None) -> Path:
    """``vad.model`` → a path: null/``shipped`` → the shipped model, anything else is a path."""
    if value is None or str(value).strip().lower() in ("", "shipped", "null", "none"):
        return SHIPPED_MODEL
    return Path(value).expanduser()


class SemanticVad:
    """Streaming VAD model; see the module doc. Blocks are 320 samples of 16 kHz float audio."""

    hop = HOP

    def __init__(self, path: str | Path | None = None, threads: int = 1) -> None:
        path = Path(path) if path is not None else SHIPPED_MODEL
        self.session, self.metadata = open_onnx_model(path, REQUIRED_METADATA, VadModelError, "VAD", threads)
        self.state_shape = state_shape_from(self.metadata, path, VadModelError)
        self.path = path
        self.echo_aware = self.metadata.get("echo_features", "0") == str(FEATURES)
        laec = self.metadata.get("laec_features", "0")
        if laec not in ("0", str(FEATURES)):
            raise VadModelError(f"{path}: metadata laec_features {laec!r}, this runtime computes {FEATURES}")
        self.laec_aware = laec == str(FEATURES)
        pitch = self.metadata.get("pitch_features", "0")
        if pitch not in ("0", str(PITCH_FEATURES)):
            raise VadModelError(f"{path}: metadata pitch_features {pitch!r}, this runtime computes {PITCH_FEATURES}")
        self.pitch_aware = pitch == str(PITCH_FEATURES)
        try:  # the model's feature floor (models.vad.power_floor); models without the key use the default
            self.power_floor = float(self.metadata.get("power_floor", POWER_FLOOR))
            if not self.power_floor >= POWER_FLOOR:
                raise ValueError(self.power_floor)
        except ValueError:
            raise VadModelError(f"{path}: metadata power_floor {self.metadata.get('power_floor')!r} is not a number "
                                f">= {POWER_FLOOR:g}") from None
        names = [i.name for i in self.session.get_inputs()]
        want = (["features"] + ["echo"] * self.echo_aware + ["laec"] * self.laec_aware + ["pitch"] * self.pitch_aware
                + ["state"])
        if names != want:
            raise VadModelError(f"{path}: inputs {names}, expected {want}")
        # the log-mel inputs (the output's, the echo estimate's, the LAEC output's) in one transform per block
        self.features = VadFeatures(self.power_floor, channels=1 + self.echo_aware + self.laec_aware)
        self._blocks = np.zeros((self.features.channels, HOP))
        self.pitch = PitchTracker()
        self._step = BoundStep(self.session, self.state_shape)
        self.reset()

    def reset(self) -> None:
        self.features.reset()
        self.pitch.reset()
        self._step.reset()

    def step(self, features: np.ndarray, echo: np.ndarray | None = None,
             pitch: np.ndarray | None = None, laec: np.ndarray | None = None) -> tuple[float, float]:
        """One frame of features (40,) [and echo-estimate features (40,)] [and pitch features (3,)] [and LAEC-output
        features (40,)] → (p_speech, p_end_of_turn)."""
        feed = {"features": features, "echo": echo, "laec": laec, "pitch": pitch}
        (probs,) = self._step.run(feed)
        return float(probs[0, 0]), float(probs[0, 1])

    def process(self, block: np.ndarray, echo: np.ndarray | None = None,
                laec: np.ndarray | None = None) -> tuple[float, float]:
        """(p_speech, p_end_of_turn) for one block of 320 samples; ``echo``: the echo estimate for the same
        320 samples (used by an echo-aware model, ignored by another; None = nothing played); ``laec``: the linear
        canceller's output for them (used by a LAEC-aware model; None = the block itself)."""
        if block.shape != (HOP,):
            raise ValueError(f"the VAD takes blocks of {HOP} samples, not {block.shape}")
        for name, x in (("echo estimate", echo), ("LAEC output", laec)):
            if x is not None and x.shape != (HOP,):
                raise ValueError(f"the {name} comes in blocks of {HOP} samples, not {x.shape}")
        pitch = self.pitch.process(block) if self.pitch_aware else None
        rows = self._blocks
        rows[0] = block
        if self.echo_aware:
            rows[1] = 0.0 if echo is None else echo
        if self.laec_aware:
            rows[-1] = block if laec is None else laec
        feats = self.features.process(rows)
        return self.step(feats[0], feats[1] if self.echo_aware else None, pitch,
                         feats[-1] if self.laec_aware else None)


@dataclass
class VadResult:
    """What :func:`detect` found in a signal; times in seconds."""

    segments: list[tuple[float, float]]
    end_of_turn: list[float]
    events: list[VadEvent] = field(default_factory=list)
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))  # (frames, 2)

    def as_json(self) -> dict:
        return {"segments": [[round(a, 3), round(b, 3)] for a, b in self.segments],
                "end_of_turn": [round(t, 3) for t in self.end_of_turn]}


def check_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float audio at 16 kHz, or a ValueError that says what is wrong."""
    audio = np.asarray(audio)
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"the VAD runs at {SAMPLE_RATE} Hz, not {sample_rate} Hz (resample first)")
    if audio.ndim != 1:
        raise ValueError(f"the VAD takes mono audio, not an array of shape {audio.shape}")
    return audio.astype(np.float64)


def detect(audio: np.ndarray, config: VadConfig | None = None, vad: SemanticVad | None = None,
           sample_rate: int = SAMPLE_RATE) -> VadResult:
    """Speech segments and end-of-turn times of a mono 16 kHz signal (listening mode: nothing is playing, so an
    echo-aware model is told the echo estimate is silence)."""
    config = config or VadConfig()
    audio = check_audio(audio, sample_rate)
    vad = vad or SemanticVad(resolve_vad_model(config.model), config.threads)
    vad.reset()
    endpointer = Endpointer(config)
    frames = -(-audio.shape[0] // HOP)
    padded = np.zeros(frames * HOP)
    padded[: audio.shape[0]] = audio
    probs = np.zeros((frames, 2), dtype=np.float32)
    events: list[VadEvent] = []
    for t in range(frames):
        probs[t] = vad.process(padded[t * HOP : (t + 1) * HOP])
        events += endpointer.process(float(probs[t, 0]), float(probs[t, 1]))
    return result_from_events(events, audio.shape[0], probs)


def result_from_events(events: list[VadEvent], total_samples: int, probs: np.ndarray) -> VadResult:
    segments: list[tuple[float, float]] = []
    start: int | None = None
    for ev in events:
        if ev.kind == "speech_start":
            start = ev.sample
        elif ev.kind == "speech_end" and start is not None:
            segments.append((start / SAMPLE_RATE, ev.sample / SAMPLE_RATE))
            start = None
    if start is not None:
        segments.append((start / SAMPLE_RATE, total_samples / SAMPLE_RATE))
    eot = [ev.decided_at / SAMPLE_RATE for ev in events if ev.kind == "end_of_turn"]
    return VadResult(segments, eot, events, probs)
