"""Spectrograms for VITS training: linear magnitude (posterior input) and log-mel (loss), 1024/256 at 22 050 Hz."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from models.mel import mel_matrix

N_FFT, HOP, WIN, MELS, FMAX = 1024, 256, 1024, 80, 8000.0


@functools.lru_cache(maxsize=4)
def _window(device: str) -> torch.Tensor:
    return torch.hann_window(WIN, device=device)


@functools.lru_cache(maxsize=4)
def _mel(device: str) -> torch.Tensor:
    return torch.from_numpy(mel_matrix(MELS, N_FFT // 2 + 1, 22050, 0.0, FMAX)).to(device)


def linear_spectrogram(audio: torch.Tensor) -> torch.Tensor:
    """(B, samples) → magnitude (B, 513, samples // 256): one frame per hop, centred as in VITS."""
    pad = (N_FFT - HOP) // 2
    x = F.pad(audio.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    spec = torch.stft(x, N_FFT, HOP, WIN, _window(str(audio.device)), center=False, return_complex=True)
    return torch.sqrt(spec.real**2 + spec.imag**2 + 1e-6)


def log_mel(spec: torch.Tensor) -> torch.Tensor:
    """Linear magnitude (B, 513, T) → log mel (B, 80, T)."""
    return torch.log(torch.clamp(torch.matmul(_mel(str(spec.device)), spec), min=1e-5))


def mel_of_audio(audio: torch.Tensor) -> torch.Tensor:
    return log_mel(linear_spectrogram(audio))
