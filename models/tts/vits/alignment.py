"""Monotonic alignment search (VITS / Glow-TTS) and the hard alignment from durations.

``maximum_path`` finds, per batch item, the monotonic path through a (frames × characters) score
matrix with the largest total: every frame takes one character, characters in order, each at
least once, starting at the first and ending at the last. Dynamic programming over frames,
vectorised over batch and characters (numpy, float64).
"""

from __future__ import annotations

import numpy as np
import torch

NEG = -1e9


def maximum_path(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``scores`` (B, T_frames, T_chars) and ``mask`` (same shape, 1 = valid) → 0/1 path of the same shape."""
    value = scores.detach().cpu().double().numpy()
    m = mask.detach().cpu().numpy() > 0
    b, t_y, t_x = value.shape
    ty = m[:, :, 0].sum(1).astype(int)
    tx = m[:, 0, :].sum(1).astype(int)
    v = np.where(m, value, NEG)
    q = np.full_like(v, NEG)
    q[:, 0, 0] = v[:, 0, 0]
    for y in range(1, t_y):
        stay = q[:, y - 1, :]
        move = np.concatenate([np.full((b, 1), NEG), q[:, y - 1, :-1]], axis=1)
        q[:, y, :] = v[:, y, :] + np.maximum(stay, move)
    path = np.zeros_like(v, dtype=np.float32)
    rows = np.arange(b)
    index = tx - 1
    for y in range(t_y - 1, -1, -1):
        active = y < ty
        path[rows[active], y, index[active]] = 1.0
        if y == 0:
            break
        prev_stay = q[rows, y - 1, index]
        prev_move = q[rows, y - 1, np.maximum(index - 1, 0)]
        step = active & (index > 0) & ((index == y) | (prev_stay < prev_move))
        index = index - step.astype(int)
    return torch.from_numpy(path).to(scores.device)


def sequence_mask(lengths: torch.Tensor, max_length: torch.Tensor | int | None = None) -> torch.Tensor:
    """(B,) lengths → (B, T) boolean mask."""
    if max_length is None:
        max_length = lengths.max()
    positions = torch.arange(max_length, dtype=lengths.dtype, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


def generate_path(durations: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Integer ``durations`` (B, 1, T_chars) and ``mask`` (B, 1, T_frames, T_chars) → hard alignment (B, 1, T_frames, T_chars)."""
    b, _, t_y, t_x = mask.shape
    cum = torch.cumsum(durations, -1).view(b * t_x)
    path = sequence_mask(cum, t_y).to(mask.dtype).view(b, t_x, t_y)
    path = path - torch.nn.functional.pad(path, [0, 0, 1, 0, 0, 0])[:, :-1]
    return path.unsqueeze(1).transpose(2, 3) * mask
