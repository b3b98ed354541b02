"""The DFSMN residual echo suppressor (Jiang & Tian): torch model for training and export.

Input: (batch, frames, 240) features (:mod:`models.aec.res.features`), normalised by fixed
mean/std buffers. An input layer (240 → 128) feeds 3 stages × 3 DFSMN layers (hidden 128,
memory over the current and 19 past frames, no look-ahead). One output layer (128 → 642, sigmoid)
gives the two 321-bin masks [M_x | M_r]; it is applied after layers 3, 6 and 9, so the stage-1 and
stage-2 heads (progressive learning) cost no parameters. 432,770 parameters in all (DESIGN §8).

A DFSMN layer (:mod:`models.dfsmn`): h = ReLU(W·m + b); p = V·h; m' = m + p + Σ_{i=0..19} a_i ⊙ p_{t−i}.
Streaming keeps the last 19 projections p per layer: ``state`` has shape (batch, 9, 19, 128).
"""

from __future__ import annotations

import torch
from torch import nn

from models.aec.res.features import BINS, FEATURES
from models.dfsmn import DfsmnLayer

HIDDEN = 128
LAYERS_PER_STAGE = 3
STAGES = 3
MEMORY = 20  # taps: the current frame and 19 past frames


class ResDfsmn(nn.Module):
    """See the module doc. ``forward`` returns the masks of the three stages, each (B, T, 642)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(FEATURES))
        self.register_buffer("feature_std", torch.ones(FEATURES))
        self.input = nn.Linear(FEATURES, HIDDEN)
        self.layers = nn.ModuleList(DfsmnLayer(HIDDEN, HIDDEN, MEMORY) for _ in range(STAGES * LAYERS_PER_STAGE))
        self.output = nn.Linear(HIDDEN, 2 * BINS)

    @property
    def state_shape(self) -> tuple[int, int, int]:
        return (len(self.layers), MEMORY - 1, HIDDEN)

    def init_state(self, batch: int = 1) -> torch.Tensor:
        return torch.zeros(batch, *self.state_shape)

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.feature_mean) / self.feature_std

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        m = self.input(self._normalise(x))
        outs = []
        for i, layer in enumerate(self.layers):
            m = layer(m)
            if (i + 1) % LAYERS_PER_STAGE == 0:
                outs.append(torch.sigmoid(self.output(m)))
        return outs

    def streaming_forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One frame: x (B, 240), state (B, 9, 19, 128) -> (final masks (B, 642), new state)."""
        m = self.input(self._normalise(x))
        new = []
        for i, layer in enumerate(self.layers):
            m, past = layer.step(m, state[:, i])
            new.append(past)
        return torch.sigmoid(self.output(m)), torch.stack(new, dim=1)


def split_masks(masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., 642) -> (M_x, M_r), each (..., 321)."""
    return masks[..., :BINS], masks[..., BINS:]
