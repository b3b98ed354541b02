"""The DFSMN layer shared by the residual echo suppressor and the VAD (torch, training and export).

h = ReLU(W·m + b); p = V·h (no bias); m' = m + p + Σ_{i=0..N−1} a_i ⊙ p_{t−i·s}: a causal depthwise
memory over the current and N−1 past projections, ``stride`` s frames apart (no look-ahead).
Streaming keeps the last (N−1)·s projections per layer.
"""

from __future__ import annotations

import torch
from torch import nn


class DfsmnLayer(nn.Module):
    def __init__(self, dim: int, hidden: int, memory: int, stride: int = 1) -> None:
        super().__init__()
        self.expand = nn.Linear(dim, hidden)
        self.project = nn.Linear(hidden, dim, bias=False)
        self.memory = memory
        self.stride = stride
        self.taps = nn.Parameter(torch.zeros(dim, memory))  # a_i per channel; taps[:, -1] is the current frame

    @property
    def past_frames(self) -> int:
        """Projections a streaming step must remember."""
        return (self.memory - 1) * self.stride

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        """m: (B, T, dim) -> (B, T, dim), causal."""
        p = self.project(torch.relu(self.expand(m)))
        padded = nn.functional.pad(p.transpose(1, 2), (self.past_frames, 0))
        mem = nn.functional.conv1d(padded, self.taps.unsqueeze(1), groups=p.shape[-1], dilation=self.stride)
        return m + p + mem.transpose(1, 2)

    def step(self, m: torch.Tensor, past: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One frame. m: (B, dim); past: (B, K, dim) earlier projections, oldest first, K ≥ past_frames.

        Returns (m', past shifted by one frame, same shape).
        """
        p = self.project(torch.relu(self.expand(m)))
        window = torch.cat([past, p.unsqueeze(1)], dim=1)  # (B, K + 1, dim)
        k = window.shape[1]
        picked = window[:, k - 1 - self.past_frames :: self.stride]  # (B, memory, dim), oldest first
        mem = (picked * self.taps.t()).sum(dim=1)  # Mul + ReduceSum: much faster than Einsum in onnxruntime
        return m + p + mem, window[:, 1:]
