"""The mix density network's alignment (AlignTTS §3.2): Gaussian likelihoods of mel frames under each character,
the forward algorithm over all monotonic alignments (the training loss), and the best alignment (durations).

A monotonic alignment gives every mel frame one character, in order, every character at least one
frame, starting at the first character and ending at the last.
"""

from __future__ import annotations

import math

import torch

from models.tts.vits.alignment import maximum_path, sequence_mask

NEG = -1e9


def gaussian_log_likelihood(mel: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """log N(mel_j | mu_i, diag sigma_i²) for every frame j and character i.

    ``mel`` (B, n_mels, T_frames); ``mu``, ``log_sigma`` (B, T_chars, n_mels) → (B, T_frames, T_chars)."""
    inv_var = torch.exp(-2 * log_sigma)  # (B, Tx, D)
    y = mel.transpose(1, 2)  # (B, Ty, D)
    const = torch.sum(-0.5 * math.log(2 * math.pi) - log_sigma - 0.5 * mu**2 * inv_var, dim=2)  # (B, Tx)
    return (torch.matmul(-0.5 * y**2, inv_var.transpose(1, 2)) + torch.matmul(y, (mu * inv_var).transpose(1, 2))
            + const.unsqueeze(1))


def forward_log_likelihood(loglik: torch.Tensor, frame_lengths: torch.Tensor, char_lengths: torch.Tensor) -> torch.Tensor:
    """log Σ over all monotonic alignments of Π_j p(frame j | its character), per batch item (B,).

    ``loglik`` (B, T_frames, T_chars) from :func:`gaussian_log_likelihood`; differentiable (log-space forward
    algorithm, one step per frame, vectorised over batch and characters)."""
    b, t_y, t_x = loglik.shape
    neg = torch.full((b, 1), NEG, dtype=loglik.dtype, device=loglik.device)
    char_ok = sequence_mask(char_lengths, t_x)
    alpha = torch.cat([loglik[:, 0, :1], torch.full((b, t_x - 1), NEG, dtype=loglik.dtype, device=loglik.device)], 1)
    for j in range(1, t_y):
        moved = torch.cat([neg, alpha[:, :-1]], dim=1)
        new = torch.logaddexp(alpha, moved) + torch.where(char_ok, loglik[:, j], torch.full_like(loglik[:, j], NEG))
        alpha = torch.where((j < frame_lengths).unsqueeze(1), new, alpha)
    return alpha.gather(1, (char_lengths - 1).unsqueeze(1)).squeeze(1)


def best_durations(loglik: torch.Tensor, frame_lengths: torch.Tensor, char_lengths: torch.Tensor) -> torch.Tensor:
    """Frames per character (B, T_chars) of the most likely monotonic alignment (Viterbi; no gradient)."""
    mask = (sequence_mask(frame_lengths, loglik.shape[1]).unsqueeze(2)
            * sequence_mask(char_lengths, loglik.shape[2]).unsqueeze(1)).to(loglik.dtype)
    return maximum_path(loglik.detach(), mask).sum(1)
