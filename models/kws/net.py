"""The short-word spotter's network (torch; training and export only).

Log-mel frames of the run (batch, frames, 40 per input: the chain's ASR output, and as configured its echo
estimate and its linear canceller's output over the same samples, concatenated in :data:`INPUTS` order) → per-feature normalisation (statistics of the training
set, kept as buffers) → ``layers`` 1-D convolutions over time (kernel 5, dilations 1, 2, 4, …, ReLU) → mean and
max over the valid frames → a linear layer to one logit per class of :data:`models.kws.spotter.CLASSES`. About
50 k parameters at 64 channels; no state: the agent classifies a whole short run at once.
"""

from __future__ import annotations

import torch
from torch import nn

from models.kws.spotter import CLASSES, INPUTS
from models.vad.features import FEATURES


class SpotterNet(nn.Module):
    def __init__(self, channels: int = 64, layers: int = 3, kernel: int = 5, dilate: bool = True,
                 inputs: tuple[str, ...] | list[str] = ("output",), window_norm: bool = False) -> None:
        super().__init__()
        if not inputs or any(i not in INPUTS for i in inputs) or list(inputs) != [i for i in INPUTS if i in inputs]:
            raise ValueError(f"inputs must be some of {INPUTS} in that order, got {inputs}")
        self.inputs = tuple(inputs)
        self.window_norm = window_norm
        self.config = {"channels": channels, "layers": layers, "kernel": kernel, "dilate": dilate,
                       "inputs": list(self.inputs), "window_norm": window_norm}
        width = FEATURES * len(self.inputs)
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("std", torch.ones(width))
        convs = []
        dim = width * (2 if window_norm else 1)
        for i in range(layers):
            d = 2**i if dilate else 1
            convs += [nn.Conv1d(dim, channels, kernel, padding=d * (kernel // 2), dilation=d), nn.ReLU()]
            dim = channels
        self.convs = nn.Sequential(*convs)
        self.out = nn.Linear(2 * channels, len(CLASSES))

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``features`` (batch, frames, 40 × inputs), ``mask`` (batch, frames) with 1 on
        valid frames (None: all valid) → logits (batch, classes)."""
        h = ((features - self.mean) / self.std).transpose(1, 2)
        m = None if mask is None else mask.unsqueeze(1).to(h.dtype)
        if self.window_norm:  # each feature less its mean over the run (the room's and device's colouring)
            centre = h.mean(dim=2, keepdim=True) if m is None else (h * m).sum(2, keepdim=True) / m.sum(2, keepdim=True)
            h = torch.cat([h - centre, centre.expand_as(h)], dim=1)
        for layer in self.convs:  # padded frames are zeroed before every convolution: a batch gives each run its
            h = layer(h * m if m is not None and isinstance(layer, nn.Conv1d) else h)  # own logits
        if m is None:
            pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        else:
            mean = (h * m).sum(dim=2) / m.sum(dim=2).clamp(min=1.0)
            peak = h.masked_fill(m == 0, -1e4).amax(dim=2)
            pooled = torch.cat([mean, peak], dim=1)
        return self.out(pooled)
