"""The audio currency of the project: float32 mono blocks at a stated rate.

``DuplexBlock`` pairs a microphone block with the block that was *actually played* in the same
audio callback (the echo reference), so the echo chain never has to rebuild the reference from a
separate playback queue. Time is counted in samples at the internal rate (16 kHz).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SAMPLE_RATE = 16000
BLOCK_SAMPLES = 320  # 20 ms at 16 kHz: the echo chain's hop


class AudioFormatError(ValueError):
    """Audio of the wrong shape, type or content (stereo where mono is needed, NaN, empty)."""


def as_mono_float32(x: Any, name: str = "audio") -> np.ndarray:
    """Check that ``x`` is a 1-D finite float array and return it as contiguous float32 (no copy if it already is)."""
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise AudioFormatError(f"{name}: expected mono samples of shape (n,), got shape {arr.shape}")
    if arr.dtype.kind != "f":
        raise AudioFormatError(f"{name}: expected float samples in [-1, 1], got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise AudioFormatError(f"{name}: contains NaN or infinite samples")
    return arr


@dataclass(frozen=True)
class AudioBlock:
    """A block of mono float32 samples that starts at ``start_sample`` (counted at ``sample_rate``)."""

    samples: np.ndarray
    start_sample: int
    sample_rate: int = SAMPLE_RATE

    def __post_init__(self) -> None:
        object.__setattr__(self, "samples", as_mono_float32(self.samples, "AudioBlock.samples"))

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def end_sample(self) -> int:
        return self.start_sample + self.num_samples


@dataclass(frozen=True)
class DuplexBlock:
    """One capture block and the reference block played in the same callback.

    ``mic`` and ``ref`` have the same length (samples at ``sample_rate``). ``truth`` carries the
    simulated room's ground truth for this block (echo-only, near-end, true delay) and is empty
    for real devices and files.
    """

    mic: np.ndarray
    ref: np.ndarray
    start_sample: int
    sample_rate: int = SAMPLE_RATE
    truth: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        mic = as_mono_float32(self.mic, "DuplexBlock.mic")
        ref = as_mono_float32(self.ref, "DuplexBlock.ref")
        if mic.shape != ref.shape:
            raise AudioFormatError(f"DuplexBlock: mic has {mic.shape[0]} samples but ref has {ref.shape[0]}")
        object.__setattr__(self, "mic", mic)
        object.__setattr__(self, "ref", ref)

    @property
    def num_samples(self) -> int:
        return int(self.mic.shape[0])
