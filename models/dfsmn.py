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


class FusedStack(nn.Module):
    """One streaming frame of an input layer and a stack of :class:`DfsmnLayer` with its constants folded, for export.

    The same numbers as ``input`` (on features normalised by ``mean``/``std``) then ``layer.step`` for each layer,
    in fewer graph nodes (about half, so onnxruntime's per-node cost falls by about as much): the normalisation is
    folded into the input layer; the memory's taps on *past* projections of every layer are one constant
    (L, K, dim) applied to the whole state at once (one Mul and one ReduceSum), the tap on the current projection a
    per-layer scale; the new state is the old one shifted by one frame with the new projections appended (one
    Slice and one Concat instead of one per layer). ``forward(x (B, in), state (B, L, K, dim)) -> (m (B, dim),
    new state)``. ``input_layer`` None: the stack reads x (B, dim) as it is (a stack that goes on from another's
    output, e.g. the VAD's end-of-turn branch).
    """

    def __init__(self, input_layer: nn.Linear | None, mean: torch.Tensor | None, std: torch.Tensor | None,
                 layers: nn.ModuleList, state_shape: tuple[int, int, int]) -> None:
        super().__init__()
        count, past, dim = state_shape
        taps = torch.zeros(count, past, dim)
        scale = torch.zeros(count, 1, dim)
        with torch.no_grad():
            for i, layer in enumerate(layers):
                first = past - layer.past_frames  # window = state (K frames) + current; taps[:, j] → frame first + j·s
                for j in range(layer.memory - 1):
                    taps[i, first + j * layer.stride] = layer.taps[:, j]
                scale[i, 0] = 1.0 + layer.taps[:, -1]  # m' = m + p + a_N ⊙ p + Σ past taps
            if input_layer is None:
                self.input: nn.Module = nn.Identity()
            else:
                weight = input_layer.weight / std
                self.input = nn.Linear(input_layer.in_features, input_layer.out_features)
                self.input.weight.copy_(weight)
                self.input.bias.copy_(input_layer.bias - weight @ mean)
        self.register_buffer("past_taps", taps.unsqueeze(0))
        self.register_buffer("current_scale", scale)
        self.expand = nn.ModuleList(layer.expand for layer in layers)
        self.project = nn.ModuleList(layer.project for layer in layers)

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        memory = (state * self.past_taps).sum(dim=2)  # (B, L, dim): every layer's taps on its past frames
        m = self.input(x)
        new = []
        for i, (expand, project) in enumerate(zip(self.expand, self.project, strict=True)):
            p = project(torch.relu(expand(m)))
            m = m + p * self.current_scale[i] + memory[:, i]
            new.append(p)
        return m, torch.cat([state[:, :, 1:], torch.stack(new, dim=1).unsqueeze(2)], dim=2)
