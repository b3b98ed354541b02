"""VITS losses: least-squares GAN, feature matching, KL between posterior and flowed prior."""

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
