"""Runtime of the short-word spotter on onnxruntime (no torch).

When the user's speech during the agent's reply was short (``agent.backchannel_max_ms``) the agent must tell a
command it must obey (না, থামো, stop …) from a backchannel or a noise it may talk over (হুঁ, আচ্ছা, okay, a
cough). The recogniser is bad at single words under echo, so the ``ShortWordSpotter`` classifies the run's audio
(the echo chain's ASR output from shortly before the speech start to the check) into :data:`CLASSES`:
``stop`` and ``other`` (any other words) stop the agent, ``backchannel`` and ``noise`` let it talk on.
``p_ride(audio)`` is the probability of the last two. A model may also read the chain's echo estimate and its
linear canceller's output over the same samples (metadata ``inputs``, e.g. ``output,echo,laec``). The model file carries its contract (sample rate, features,
classes) and its word lists as ONNX metadata; a file that is missing, corrupt or made for another contract gives
a :class:`SpotterModelError`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from models.onnx_model import open_onnx_model
from models.vad.features import FEATURES, SAMPLE_RATE, file_features

CLASSES = ("stop", "backchannel", "other", "noise")
RIDE = ("backchannel", "noise")  # classes the agent talks over
INPUTS = ("output", "echo", "laec")  # signals a model may read: the chain's ASR output, echo estimate, LAEC output
FORMAT_VERSION = "1"
SHIPPED_MODEL = Path(__file__).with_name("short_word_spotter.onnx")
REQUIRED_METADATA = {"sample_rate": str(SAMPLE_RATE), "features": str(FEATURES), "classes": ",".join(CLASSES),
                     "format_version": FORMAT_VERSION}
MIN_SAMPLES = 320  # one frame
MAX_SAMPLES = 10 * SAMPLE_RATE  # a short run is under 3 s; anything longer is a caller's mistake


class SpotterModelError(ValueError):
    """The spotter model file is missing, unreadable, or does not fit this runtime."""


def resolve_spotter_model(value: str | None) -> Path | None:
    """``agent.short_word_model`` → a path: null/``none`` → None (off), ``shipped`` → the shipped model, anything
    else is a path."""
    if value is None or str(value).strip().lower() in ("", "null", "none", "off"):
        return None
    if str(value).strip().lower() == "shipped":
        return SHIPPED_MODEL
    return Path(value).expanduser()


class ShortWordSpotter:
    """See the module doc. ``classify(audio)`` → class probabilities; ``p_ride(audio)`` → their ride share."""

    def __init__(self, path: str | Path | None = None, threads: int = 1) -> None:
        self.path = Path(path) if path is not None else SHIPPED_MODEL
        self.session, self.metadata = open_onnx_model(self.path, REQUIRED_METADATA, SpotterModelError,
                                                      "short-word spotter", threads)
        try:
            self.words = json.loads(self.metadata.get("words", "{}"))
        except json.JSONDecodeError:
            raise SpotterModelError(f"{self.path}: metadata words is not JSON") from None
        self.inputs = tuple(self.metadata.get("inputs", "output").split(","))
        if not self.inputs or any(i not in INPUTS for i in self.inputs):
            raise SpotterModelError(f"{self.path}: metadata inputs {self.metadata.get('inputs')!r}, this runtime "
                                    f"knows {','.join(INPUTS)}")

    @property
    def echo_aware(self) -> bool:
        return "echo" in self.inputs

    @property
    def laec_aware(self) -> bool:
        return "laec" in self.inputs

    def classify(self, audio: np.ndarray, echo: np.ndarray | None = None,
                 laec: np.ndarray | None = None) -> dict[str, float]:
        """Probabilities of :data:`CLASSES` for one short run: ``audio`` mono float 16 kHz samples of the chain's
        ASR output, 320 to 160,000 of them (0.02–10 s); ``echo``: the chain's echo estimate over the same samples
        (None = nothing was played) and ``laec``: its linear canceller's output (None = ``audio``), each read only
        by a model whose metadata ``inputs`` name it."""
        x = _checked(audio, "audio")
        signals = {"output": x, "echo": echo, "laec": laec}
        fallback = {"echo": np.zeros_like(x), "laec": x}
        feats = []
        for name in self.inputs:
            sig = fallback[name] if signals[name] is None else _checked(signals[name], name)
            if sig.shape != x.shape:
                raise ValueError(f"the {name} signal has {sig.shape[0]} samples, the audio {x.shape[0]}")
            feats.append(file_features(sig).astype(np.float32))
        return self.classify_features(np.concatenate(feats, axis=1))

    def classify_features(self, features: np.ndarray) -> dict[str, float]:
        """:meth:`classify` from features already computed: (frames, 40 × inputs), the log-mel of each input signal
        side by side in the model's ``inputs`` order."""
        width = FEATURES * len(self.inputs)
        if features.ndim != 2 or features.shape[1] != width or features.shape[0] < 1:
            raise ValueError(f"the spotter takes features of shape (frames, {width}), got {features.shape}")
        (logits,) = self.session.run(None, {"features": features.astype(np.float32)[None]})
        z = logits[0].astype(np.float64)
        p = np.exp(z - z.max())
        p /= p.sum()
        return {c: float(v) for c, v in zip(CLASSES, p, strict=True)}

    def p_ride(self, audio: np.ndarray, echo: np.ndarray | None = None, laec: np.ndarray | None = None) -> float:
        """Probability that the run is one the agent talks over (a backchannel or a noise)."""
        probs = self.classify(audio, echo, laec)
        return sum(probs[c] for c in RIDE)


def _checked(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"the spotter takes mono {what} (samples,), got shape {x.shape}")
    if not MIN_SAMPLES <= x.shape[0] <= MAX_SAMPLES:
        raise ValueError(f"the spotter takes {MIN_SAMPLES}-{MAX_SAMPLES} samples of {what}, got {x.shape[0]}")
    return x.astype(np.float64)
