"""VAD input features, shared by training and the runtime (numpy).

One frame per 20 ms hop of the echo chain's STFT (640-sample √Hann window, 321 bins): 40 log-mel
band powers, ``log(power + floor)`` (natural log; ``floor`` = ``POWER_FLOOR`` unless a model was trained with
a higher one, :mod:`models.vad.power_floor`). The window ends with the current block, so a frame sees no audio
after it.
"""

from __future__ import annotations

import numpy as np

from models.aec.fft import rfft
from models.aec.stft import BINS, HOP, WINDOW, sqrt_hann
from models.mel import mel_matrix

SAMPLE_RATE = 16000
MEL_BANDS = 40
FEATURES = MEL_BANDS
POWER_FLOOR = 1e-10
FRAME_S = HOP / SAMPLE_RATE  # 0.02 s per frame


def vad_mel_matrix() -> np.ndarray:
    """(40, 321) float32, 0–8 kHz."""
    return mel_matrix(MEL_BANDS, BINS, SAMPLE_RATE)


class VadFeatures:
    """``process(block) -> (40,) float32`` for one 320-sample block of 16 kHz audio, or, with ``channels`` = k,
    ``process(blocks (k, 320)) -> (k, 40)`` for k signals at once (one transform and one product for all of them:
    the runtime's output, echo estimate and LAEC output; the same numbers as k single-channel objects);
    ``power_floor``: the floor added to the band powers before the log."""

    def __init__(self, power_floor: float = POWER_FLOOR, channels: int = 1) -> None:
        self.window = sqrt_hann()
        self.mel_t = vad_mel_matrix().T.astype(np.float64)
        self.power_floor = power_floor
        self.channels = channels
        self._frames = np.zeros((channels, WINDOW))  # per channel: the last block and this one

    def process(self, block: np.ndarray) -> np.ndarray:
        blocks = np.asarray(block, dtype=np.float64)
        if blocks.shape not in ((self.channels, HOP), (HOP,) if self.channels == 1 else ()):
            raise ValueError(f"VadFeatures({self.channels} channels) takes blocks of shape "
                             f"{(self.channels, HOP) if self.channels > 1 else (HOP,)}, not {blocks.shape}")
        self._frames[:, :HOP] = self._frames[:, HOP:]
        self._frames[:, HOP:] = blocks
        spec = rfft(self._frames * self.window)
        power = spec.real**2 + spec.imag**2
        out = np.log(power @ self.mel_t + self.power_floor).astype(np.float32)
        return out[0] if blocks.ndim == 1 else out

    def reset(self) -> None:
        self._frames[:] = 0.0


def file_features(audio: np.ndarray, power_floor: float = POWER_FLOOR) -> np.ndarray:
    """Features of a whole signal, (frames, 40): the same :class:`VadFeatures` run block by block.

    The last partial block is zero-padded; frame t covers samples up to (t + 1) · 320.
    """
    audio = np.asarray(audio, dtype=np.float64)
    frames = -(-audio.shape[0] // HOP)
    padded = np.zeros(frames * HOP)
    padded[: audio.shape[0]] = audio
    feats = VadFeatures(power_floor)
    return np.stack([feats.process(padded[i * HOP : (i + 1) * HOP]) for i in range(frames)]) if frames else \
        np.zeros((0, FEATURES), dtype=np.float32)
