"""Voice evaluation: mel-cepstral distortion against held-out recordings and character error rate through the ASR.

For each held-out utterance (text + recording) the voice synthesises the text with its default
settings, then

- **MCD** (dB): cepstra c1..c24 of an 80-band log mel spectrum (1024/256 STFT at the voice's rate,
  DCT-II with real-cepstrum scaling), aligned with dynamic time warping, ``10/ln10 * sqrt(2 * sum_d (c_d - c'_d)^2)`` averaged
  over the path. (MFCC-style cepstra, not SPTK mel-generalised cepstra: values are comparable with
  each other in this project, not with papers that use SPTK.)
- **CER**: the project's ASR transcribes the synthesised audio (resampled to 16 kHz); the same ASR on
  the recording itself gives the ceiling, since the ASR is far from perfect.

``evaluate_vocoder`` scores a vocoder alone by copy synthesis: the recording's own log-mel → vocoder →
the same two scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft

from audio_io.resample import resample
from models.asr.metrics import error_counts
from models.asr.tokens import normalize_transcript
from models.mel import mel_matrix

N_FFT, HOP, MELS, CEPSTRA = 1024, 256, 80, 24
MCD_SCALE = 10.0 / math.log(10.0) * math.sqrt(2.0)


def mel_cepstra(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """(frames, 24) cepstra c1..c24 of ``audio`` (mono float); silent edges are not trimmed."""
    x = np.asarray(audio, dtype=np.float64)
    if x.shape[0] < N_FFT:
        x = np.pad(x, (0, N_FFT - x.shape[0]))
    frames = 1 + (x.shape[0] - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * np.hanning(N_FFT), axis=1))
    mel = np.log(np.maximum(spec @ mel_matrix(MELS, N_FFT // 2 + 1, sample_rate, 0.0, 8000.0).T, 1e-5))
    # Real-cepstrum scaling (log|X(w)| = c0 + 2 sum c_n cos(n w)): c_n = DCT-II(log mel)_n / (2 * bands).
    return scipy.fft.dct(mel, type=2, axis=1)[:, 1 : CEPSTRA + 1] / (2 * MELS)


def dtw_cost(a: np.ndarray, b: np.ndarray) -> float:
    """Mean frame distance along the best monotonic alignment of (n, d) and (m, d) (steps (1,0), (0,1), (1,1))."""
    dist = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))
    n, m = dist.shape
    acc = np.full((n + 1, m + 1), np.inf)
    steps = np.zeros((n + 1, m + 1), dtype=np.int64)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        row, prev = acc[i], acc[i - 1]
        srow, sprev = steps[i], steps[i - 1]
        d = dist[i - 1]
        for j in range(1, m + 1):
            best, count = prev[j - 1], sprev[j - 1]
            if prev[j] < best:
                best, count = prev[j], sprev[j]
            if row[j - 1] < best:
                best, count = row[j - 1], srow[j - 1]
            row[j] = best + d[j - 1]
            srow[j] = count + 1
    return float(acc[n, m] / steps[n, m])


def mcd_db(reference: np.ndarray, synthesised: np.ndarray, sample_rate: int) -> float:
    """Mel-cepstral distortion in dB between two recordings of the same text (DTW-aligned)."""
    return MCD_SCALE * dtw_cost(mel_cepstra(reference, sample_rate), mel_cepstra(synthesised, sample_rate))


@dataclass
class VoiceScores:
    utterances: int
    mcd_db: float
    cer: float | None  # ASR on the synthesised audio
    cer_reference: float | None  # the same ASR on the held-out recordings (the ceiling)
    examples: list[dict]

    def as_json(self) -> dict:
        return {"utterances": self.utterances, "mcd_db": round(self.mcd_db, 3),
                "cer": None if self.cer is None else round(self.cer, 4),
                "cer_reference": None if self.cer_reference is None else round(self.cer_reference, 4),
                "examples": self.examples}


class CopySynthesis:
    """A vocoder behind the ``synthesize_all`` of a voice: it re-synthesises the recording of the text it is given
    (``recordings``: text → audio), from that recording's log-mel."""

    def __init__(self, vocoder, recordings: dict[str, np.ndarray]) -> None:  # noqa: ANN001 (runtime.Vocoder)
        self.vocoder, self.recordings, self.sample_rate = vocoder, recordings, vocoder.sample_rate

    def synthesize_all(self, text: str) -> np.ndarray:
        import torch

        from training.tts.audio import HOP, mel_of_audio

        audio = self.recordings[text]
        mel = mel_of_audio(torch.from_numpy(audio[: len(audio) // HOP * HOP]).unsqueeze(0))
        return self.vocoder(mel.numpy())


def evaluate_vocoder(vocoder, utterances: Sequence, recognizer=None, progress: bool = False) -> VoiceScores:  # noqa: ANN001
    """Copy-synthesis scores of a vocoder (:class:`models.tts.vocoders.runtime.Vocoder`) on ``utterances``."""
    return evaluate(CopySynthesis(vocoder, {u.text: u.audio for u in utterances}), utterances, recognizer, progress)


def evaluate(voice, utterances: Sequence, recognizer=None, progress: bool = False) -> VoiceScores:  # noqa: ANN001
    """Scores of ``voice`` (a :class:`models.tts.voice.Voice`) on ``utterances`` (``training.tts.data.Utterance``,
    audio at the voice's rate); ``recognizer``: a ParaformerRecognizer, or None to skip the CER."""
    from tqdm import tqdm

    mcds: list[float] = []
    errors = [0, 0, 0]  # synthesised errors, reference errors, reference length
    examples = []
    for u in tqdm(utterances, desc="evaluate", unit="utt", disable=not progress):
        audio = voice.synthesize_all(u.text)
        if audio.size == 0:
            continue
        mcds.append(mcd_db(u.audio, audio, voice.sample_rate))
        row = {"uid": u.uid, "text": u.text, "mcd_db": round(mcds[-1], 2)}
        if recognizer is not None:
            ref_text = normalize_transcript(u.text)
            hyp = recognizer.transcribe(resample(audio, voice.sample_rate, 16000))
            hyp_ref = recognizer.transcribe(resample(u.audio, voice.sample_rate, 16000))
            e, n = error_counts(ref_text, hyp, "bn")
            e_ref, _ = error_counts(ref_text, hyp_ref, "bn")
            errors[0] += e
            errors[1] += e_ref
            errors[2] += n
            row.update(asr=hyp, asr_reference=hyp_ref)
        if len(examples) < 5:
            examples.append(row)
    if not mcds:
        raise ValueError("the voice produced no audio for any held-out utterance")
    cer = errors[0] / errors[2] if recognizer is not None and errors[2] else None
    cer_ref = errors[1] / errors[2] if recognizer is not None and errors[2] else None
    return VoiceScores(len(mcds), float(np.mean(mcds)), cer, cer_ref, examples)
