"""TTS losses: least-squares GAN, feature matching, KL between posterior and flowed prior (VITS), and the
multi-resolution STFT loss (UnivNet)."""

from __future__ import annotations

import torch


def discriminator_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    return sum(torch.mean((1 - r) ** 2) + torch.mean(f**2) for r, f in zip(real, fake, strict=True))


def generator_loss(fake: list[torch.Tensor]) -> torch.Tensor:
    return sum(torch.mean((1 - f) ** 2) for f in fake)


def feature_loss(feat_real: list[list[torch.Tensor]], feat_fake: list[list[torch.Tensor]]) -> torch.Tensor:
    return 2 * sum(torch.mean(torch.abs(r.detach() - f))
                   for fr, ff in zip(feat_real, feat_fake, strict=True) for r, f in zip(fr, ff, strict=True))


def kl_loss(z_p: torch.Tensor, logs_q: torch.Tensor, m_p: torch.Tensor, logs_p: torch.Tensor,
            mask: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) ‖ p(z|c)) per frame, estimated at the sample ``z_p`` of the posterior mapped through the flow."""
    kl = logs_p - logs_q - 0.5 + 0.5 * (z_p - m_p) ** 2 * torch.exp(-2 * logs_p)
    return torch.sum(kl * mask) / torch.sum(mask)


STFT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))  # (n_fft, hop, window), as UnivNet


def stft_loss(real: torch.Tensor, fake: torch.Tensor,
              resolutions: tuple[tuple[int, int, int], ...] = STFT_RESOLUTIONS) -> torch.Tensor:
    """Multi-resolution STFT loss of (B, 1, samples) audio: spectral convergence + L1 of log magnitudes, averaged
    over ``resolutions``."""
    total = real.new_zeros(())
    for n_fft, hop, win in resolutions:
        window = torch.hann_window(win, device=real.device)
        mags = [torch.stft(x.squeeze(1), n_fft, hop, win, window, return_complex=True).abs().clamp_min(1e-7)
                for x in (real, fake)]
        sc = torch.linalg.norm(mags[0] - mags[1]) / torch.linalg.norm(mags[0]).clamp_min(1e-7)
        total = total + sc + torch.mean(torch.abs(torch.log(mags[0]) - torch.log(mags[1])))
    return total / len(resolutions)
