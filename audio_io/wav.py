"""WAV files at the edges of the project: read to mono float32 at a wanted rate, write PCM-16.

Reading resamples (with a warning) files at another rate and mixes stereo down (with a warning);
empty, non-finite or unreadable files raise :class:`AudioFileError` naming the file.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from audio_io.frames import SAMPLE_RATE, as_mono_float32
from audio_io.resample import resample

log = logging.getLogger(__name__)

#: Longest file read in one go, seconds (a guard against reading hours of audio into memory).
MAX_READ_S = 4 * 3600


class AudioFileError(ValueError):
    """An audio file is missing, unreadable, empty, or holds non-finite samples."""


class AudioFormatWarning(UserWarning):
    """An audio file was converted on read (resampled or mixed down)."""


def read_wav(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read an audio file as mono float32 in [-1, 1] at ``sample_rate`` Hz.

    Other rates are resampled and multi-channel audio is averaged to mono, each with an
    :class:`AudioFormatWarning`. Raises :class:`AudioFileError` for missing, unreadable, empty or
    NaN/inf files.
    """
    path = Path(path)
    if not path.exists():
        raise AudioFileError(f"{path}: no such file")
    try:
        info = sf.info(str(path))
        if info.frames > MAX_READ_S * info.samplerate:
            raise AudioFileError(f"{path}: {info.frames / info.samplerate:.0f} s is longer than the {MAX_READ_S} s limit")
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except AudioFileError:
        raise
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise AudioFileError(f"{path}: not a readable audio file ({exc})") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{path}: the file holds no samples")
    if not np.isfinite(data).all():
        raise AudioFileError(f"{path}: contains NaN or infinite samples")
    if data.shape[1] > 1:
        warnings.warn(f"{path}: {data.shape[1]} channels mixed down to mono", AudioFormatWarning, stacklevel=2)
        x = data.mean(axis=1)
    else:
        x = data[:, 0]
    if rate != sample_rate:
        warnings.warn(f"{path}: resampled from {rate} Hz to {sample_rate} Hz", AudioFormatWarning, stacklevel=2)
        x = resample(x, rate, sample_rate)
    return np.ascontiguousarray(x, dtype=np.float32)


def write_wav(path: str | Path, x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write mono float32 samples as 16-bit PCM WAV (clipped to [-1, 1]); creates parent folders."""
    path = Path(path)
    arr = as_mono_float32(x, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    clipped = np.clip(arr, -1.0, 1.0)
    if np.any(clipped != arr):
        log.warning("%s: %d samples clipped to [-1, 1]", path, int(np.sum(clipped != arr)))
    sf.write(str(path), clipped, sample_rate, subtype="PCM_16")
    return path
