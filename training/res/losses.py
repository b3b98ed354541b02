"""Losses of the residual echo suppressor, written for this project in plain torch (no torchaudio).

All take time signals ``est``, ``ref`` of shape (batch, samples) at 16 kHz and return one value
per batch item (shape (batch,)); lower is better and identical inputs give 0 (the SNR loss gives
its floor, −``max_snr_db``).

- :func:`snr_loss`: −10·log10(Σs² / Σ(ŝ−s)²) on zero-mean signals. A small floor relative to the
  mixture keeps it finite when the target is silent (far-end single talk: then it asks for silence).
- :class:`ModulationLoss`: Vuong et al. 2021 — spectro-temporal modulation maps (a bank of 2-D Gabor
  filters over the 80-band log-mel spectrogram), squared error normalised by the clean map's energy.
- :class:`PmsqeLoss`: Martín-Doñas et al. 2018 — the PESQ-like perceptual distortion on a 512/256
  STFT (257 bins, 49 Bark bands): level alignment, loudness (Zwicker's law over the hearing
  threshold), dead-zone masking, symmetric and asymmetric frame disturbances, 0.1·d_sym + 0.0309·d_asym.
  The Bark bands and the hearing threshold come from formulas (Traunmüller's Bark, Terhardt's
  threshold) instead of the P.862 tables; the rank correlation with the pesq package is checked in
  the tests (|ρ| ≥ 0.8 on 50 degraded signals).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from models.aec.res.features import mel_matrix

SR = 16000


def snr_loss(est: torch.Tensor, ref: torch.Tensor, floor: torch.Tensor | float = 1e-8, max_snr_db: float = 60.0
             ) -> torch.Tensor:
    """Negative SNR in dB per item. ``floor`` (energy, per item or scalar) bounds the SNR at silent targets."""
    est = est - est.mean(dim=-1, keepdim=True)
    ref = ref - ref.mean(dim=-1, keepdim=True)
    sig = (ref**2).sum(-1)
    err = ((est - ref) ** 2).sum(-1)
    floor = torch.as_tensor(floor, dtype=est.dtype, device=est.device)
    # The 1e-10 terms keep an all-silent item finite (0 dB) instead of log(0).
    snr = 10 * torch.log10((sig + floor + 1e-10) / (err + floor * 10 ** (-max_snr_db / 10) + 1e-10))
    return -torch.clamp(snr, max=max_snr_db)


def _frames(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    pad = n_fft - hop
    x = nn.functional.pad(x, (pad, (-x.shape[-1]) % hop))
    return x.unfold(-1, n_fft, hop)


def power_spectrogram(x: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor) -> torch.Tensor:
    """|STFT|², shape (batch, frames, n_fft/2 + 1)."""
    return torch.fft.rfft(_frames(x, n_fft, hop) * window, dim=-1).abs() ** 2


class ModulationLoss(nn.Module):
    """Gabor spectro-temporal modulation loss on 80-band log-mel spectrograms (640/320 STFT)."""

    def __init__(self, rates_hz: tuple[float, ...] = (2.0, 4.0, 8.0, 16.0),
                 scales_cyc_per_band: tuple[float, ...] = (0.0, 0.06, 0.12, 0.25)) -> None:
        super().__init__()
        self.register_buffer("window", torch.sin(torch.pi * torch.arange(640) / 640) ** 2)
        self.register_buffer("mel", torch.from_numpy(mel_matrix()).T.contiguous())  # (321, 80)
        frame_rate = SR / 320
        kt, kf = 25, 9  # kernel: 0.5 s × 9 bands
        t = torch.arange(kt, dtype=torch.float64) - (kt - 1) / 2
        f = torch.arange(kf, dtype=torch.float64) - (kf - 1) / 2
        kernels = []
        for rate in rates_hz:
            for scale in scales_cyc_per_band:
                env = torch.exp(-0.5 * (t[:, None] / (kt / 5)) ** 2 - 0.5 * (f[None, :] / (kf / 4)) ** 2)
                phase = 2 * math.pi * (rate / frame_rate * t[:, None] + scale * f[None, :])
                for part in (torch.cos(phase), torch.sin(phase)):
                    k = env * part
                    k = k - k.mean()  # no DC response: level changes alone do not count as modulation
                    kernels.append(k / k.norm())
        self.register_buffer("kernels", torch.stack(kernels).unsqueeze(1).float())  # (K, 1, kt, kf)

    def logmel(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(power_spectrogram(x, 640, 320, self.window) @ self.mel + 1e-8)

    def forward(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        a = nn.functional.conv2d(self.logmel(est).unsqueeze(1), self.kernels)
        b = nn.functional.conv2d(self.logmel(ref).unsqueeze(1), self.kernels)
        return ((a - b) ** 2).sum(dim=(1, 2, 3)) / ((b**2).sum(dim=(1, 2, 3)) + 1e-8)


def bark(f_hz: np.ndarray) -> np.ndarray:
    """Traunmüller's Bark scale."""
    return 26.81 * f_hz / (1960.0 + f_hz) - 0.53


def hearing_threshold_db(f_hz: np.ndarray) -> np.ndarray:
    """Terhardt's absolute threshold of hearing, dB SPL."""
    f = np.maximum(f_hz, 50.0) / 1000.0
    return 3.64 * f**-0.8 - 6.5 * np.exp(-0.6 * (f - 3.3) ** 2) + 1e-3 * f**4


class PmsqeLoss(nn.Module):
    """Perceptual metric for speech quality evaluation as a loss (see the module doc)."""

    n_fft, hop, bands = 512, 256, 49
    alpha, beta = 0.1, 0.0309  # weights of the symmetric and asymmetric disturbances (PMSQE paper)
    # Calibrated (not P.862's S_l) so that an untrained model's output gives about 1, which
    # makes 10 × PMSQE about the size of the SNR term, as the paper's weights intend.
    loudness_scale = 0.01
    speech_level_db = 79.0  # both signals are scaled so that the reference's mean power sits here (as PESQ)

    def __init__(self) -> None:
        super().__init__()
        freqs = np.linspace(0, SR / 2, self.n_fft // 2 + 1)
        z = bark(np.maximum(freqs, 1.0))
        edges = np.linspace(bark(np.array(100.0)), bark(np.array(8000.0)), self.bands + 1)
        fb = np.zeros((self.bands, freqs.size))
        for b in range(self.bands):
            fb[b] = (z >= edges[b]) & (z < edges[b + 1])
            if fb[b].sum() == 0:
                fb[b, int(np.argmin(np.abs(z - (edges[b] + edges[b + 1]) / 2)))] = 1.0
        centres = (fb * freqs).sum(1) / fb.sum(1)
        widths = fb.sum(1) * (SR / self.n_fft)
        self.register_buffer("window", torch.from_numpy(np.hanning(self.n_fft + 1)[:-1]).float())
        self.register_buffer("bark_fb", torch.from_numpy(fb.T).float())  # (257, 49)
        # Hearing threshold per band as band power (the band's bins summed), on the scale where 1.0 = 0 dB SPL.
        self.register_buffer("threshold", torch.from_numpy(10 ** (hearing_threshold_db(centres) / 10)).float())
        self.register_buffer("width_weight", torch.from_numpy(widths / widths.sum()).float())

    def _bark_power(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return (power_spectrogram(x, self.n_fft, self.hop, self.window) @ self.bark_fb) * scale[:, None, None]

    def forward(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        # Level alignment: the reference's mean frame power goes to speech_level_db; the estimate gets
        # its own gain to the same level (PESQ aligns both signals the same way).
        # The estimate's gain is bounded (its power floored at -40 dB re the reference) so that a silent
        # estimate neither explodes the gain nor its gradient.
        # Both signals are first divided by the reference's RMS (PMSQE is level-invariant), which keeps the
        # gains and their gradients inside float32 for quiet references.
        rms = torch.sqrt((ref.detach() ** 2).mean(-1, keepdim=True) + 1e-12)
        est, ref = est / rms, ref / rms
        ref_pow = (ref**2).mean(-1) * self.n_fft + 1e-10
        est_pow = (est**2).mean(-1) * self.n_fft + 1e-4 * ref_pow
        target = 10 ** (self.speech_level_db / 10)
        pr = self._bark_power(ref, target / ref_pow)
        pe = self._bark_power(est, target / est_pow)
        # Partial frequency equalisation of the reference toward the estimate (as PESQ), bounded ±20 dB.
        audible_r = (pr > 10 * self.threshold).float()
        eq = ((pe * audible_r).sum(1) + 1e3) / ((pr * audible_r).sum(1) + 1e3)
        pr = pr * eq.clamp(0.01, 100.0).unsqueeze(1)
        # Per-frame gain compensation of the estimate (short-term level changes are not distortion).
        gain = ((pr * (pr > self.threshold)).sum(-1) + 5e3) / ((pe * (pe > self.threshold)).sum(-1) + 5e3)
        pe = pe * gain.clamp(3e-4, 5.0).unsqueeze(-1)
        lr, le = self._loudness(pr), self._loudness(pe)
        d = le - lr
        dead = 0.25 * torch.minimum(lr, le)
        d = torch.sign(d) * torch.relu(d.abs() - dead)
        asym = ((pe + 50.0) / (pr + 50.0)) ** 1.2
        asym = torch.where(asym < 3.0, torch.zeros_like(asym), asym.clamp(max=12.0))
        w = self.width_weight
        d_sym = torch.sqrt(((d * w) ** 2).sum(-1) + 1e-12) * math.sqrt(self.bands)
        d_asym = ((d * asym).abs() * w).sum(-1) * self.bands
        return (self.alpha * d_sym + self.beta * d_asym).mean(-1)

    def _loudness(self, p: torch.Tensor) -> torch.Tensor:
        """Zwicker's law: sone-like loudness density per band, zero below the hearing threshold."""
        p0 = self.threshold
        loud = self.loudness_scale * (p0 / 0.5) ** 0.23 * ((0.5 + 0.5 * p / p0) ** 0.23 - 1.0)
        return torch.relu(loud)


def mask_loss(m_r: torch.Tensor, x_mag: torch.Tensor, r_mag: torch.Tensor) -> torch.Tensor:
    """M_r against the residual echo: mean squared error of M_r to clip(|R_laec| / |X_laec|, 0, 1), per item."""
    target = (r_mag / (x_mag + 1e-8)).clamp(0, 1)
    return ((m_r - target) ** 2).mean(dim=(1, 2))
