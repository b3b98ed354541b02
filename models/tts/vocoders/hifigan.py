"""HiFi-GAN vocoder: log-mel (B, n_mels, frames) → audio (B, 1, frames·hop); the generator is the one VITS decodes with."""

from __future__ import annotations

import torch
from torch import nn

from models.tts.vits.model import Generator
from models.tts.vocoders.config import HifiGanConfig


class HifiGan(nn.Module):
    def __init__(self, config: HifiGanConfig) -> None:
        super().__init__()
        self.config = config
        self.gen = Generator(config, in_channels=config.n_mels)

    def forward(self, mel: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """``noise`` is accepted and ignored (one call signature for every vocoder)."""
        return self.gen(mel)
