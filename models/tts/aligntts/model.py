"""AlignTTS: character embedding → feed-forward Transformer encoder → duration predictor → length regulator →
feed-forward Transformer decoder → log-mel; the mix density network (training only) learns the alignment.

The feed-forward Transformer blocks are the project's (``models.tts.vits.layers.TransformerEncoder``:
self-attention with relative positions, then a 1-D convolution network), shared with VITS.

``AlignTts.forward`` is the training pass; ``AlignTts.infer`` is synthesis from symbol ids with a
``length_scale`` (>1 slower).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from models.tts.aligntts.alignment import best_durations, forward_log_likelihood, gaussian_log_likelihood
from models.tts.aligntts.config import AlignTtsConfig
from models.tts.vits.alignment import generate_path, sequence_mask
from models.tts.vits.layers import LayerNorm, TransformerEncoder

LOG_SIGMA_MIN = -7.0


class DurationPredictor(nn.Module):
    """Two convolutions (ReLU, LayerNorm, dropout) and a projection: log frames per character (B, 1, T_chars)."""

    def __init__(self, channels: int, filter_channels: int, kernel: int, p_dropout: float) -> None:
        super().__init__()
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel, padding=kernel // 2)
        self.norm_1 = LayerNorm(filter_channels)
        self.conv_2 = nn.Conv1d(filter_channels, filter_channels, kernel, padding=kernel // 2)
        self.norm_2 = LayerNorm(filter_channels)
        self.proj = nn.Conv1d(filter_channels, 1, 1)
        self.drop = nn.Dropout(p_dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.norm_1(torch.relu(self.conv_1(x * mask))))
        x = self.drop(self.norm_2(torch.relu(self.conv_2(x * mask))))
        return self.proj(x * mask) * mask


class MixDensityNetwork(nn.Module):
    """Per character, a diagonal Gaussian over mel frames: encoder output (B, H, T_chars) → mu, log sigma
    (B, T_chars, n_mels)."""

    def __init__(self, hidden: int, mdn_hidden: int, n_mels: int, p_dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(hidden, mdn_hidden), nn.ReLU(), nn.Dropout(p_dropout),
                                 nn.Linear(mdn_hidden, 2 * n_mels))
        self.n_mels = n_mels

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(h.transpose(1, 2))
        return out[..., : self.n_mels], out[..., self.n_mels :].clamp_min(LOG_SIGMA_MIN)


def regulate(h: torch.Tensor, durations: torch.Tensor, x_mask: torch.Tensor, frames: int | torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Length regulator: repeat character ``i`` of ``h`` (B, H, T_chars) ``durations[:, i]`` times (B, T_chars,
    integers) → (B, H, frames) and the frame mask (B, 1, frames)."""
    y_lengths = durations.sum(1).long()
    y_mask = sequence_mask(y_lengths, frames).unsqueeze(1).to(h.dtype)
    path = generate_path(durations.unsqueeze(1), x_mask.unsqueeze(2) * y_mask.unsqueeze(-1))  # (B, 1, Ty, Tx)
    return torch.matmul(path.squeeze(1), h.transpose(1, 2)).transpose(1, 2), y_mask


class AlignTts(nn.Module):
    def __init__(self, config: AlignTtsConfig) -> None:
        super().__init__()
        c = self.config = config
        self.emb = nn.Embedding(c.n_vocab, c.hidden)
        nn.init.normal_(self.emb.weight, 0.0, c.hidden**-0.5)
        self.encoder = TransformerEncoder(c.hidden, c.filter_channels, c.n_heads, c.encoder_layers, c.kernel_size,
                                          c.p_dropout)
        self.duration = DurationPredictor(c.hidden, c.dp_channels, c.dp_kernel, c.p_dropout)
        self.mdn = MixDensityNetwork(c.hidden, c.mdn_hidden, c.n_mels, c.p_dropout)
        self.decoder = TransformerEncoder(c.hidden, c.filter_channels, c.n_heads, c.decoder_layers, c.kernel_size,
                                          c.p_dropout)
        self.proj = nn.Conv1d(c.hidden, c.n_mels, 1)

    def encode(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Symbol ids (B, T_chars) → encoder output (B, H, T_chars) and mask (B, 1, T_chars)."""
        x = (self.emb(ids) * math.sqrt(self.config.hidden)).transpose(1, 2)
        mask = sequence_mask(lengths, ids.shape[1]).unsqueeze(1).to(x.dtype)
        return self.encoder(x, mask), mask

    def decode(self, h: torch.Tensor, durations: torch.Tensor, x_mask: torch.Tensor, frames: int | torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Length-regulate and decode: (B, n_mels, frames) log-mel and its mask."""
        expanded, y_mask = regulate(h, durations, x_mask, frames)
        return self.proj(self.decoder(expanded, y_mask)) * y_mask, y_mask

    def forward(self, ids: torch.Tensor, id_lengths: torch.Tensor, mel: torch.Tensor, mel_lengths: torch.Tensor,
                decode: bool = True) -> dict[str, torch.Tensor]:
        """Training pass on ground-truth log-mels ``mel`` (B, n_mels, T_frames).

        Returns ``align_nll`` (negative log-likelihood of the mels over all alignments, per frame and band),
        ``durations`` (best alignment, B × T_chars), ``logd`` (predicted log durations), ``dur`` (duration predictor
        MSE on log durations, on a detached encoder output) and, when ``decode``, ``mel`` (decoded with the best alignment) and ``mel_l1``."""
        h, x_mask = self.encode(ids, id_lengths)
        mu, log_sigma = self.mdn(h)
        loglik = gaussian_log_likelihood(mel, mu, log_sigma)
        align = -forward_log_likelihood(loglik, mel_lengths, id_lengths) / (mel_lengths * self.config.n_mels)
        durations = best_durations(loglik, mel_lengths, id_lengths)
        logd = self.duration(h.detach(), x_mask).squeeze(1)
        target = torch.log(durations.clamp_min(1)) * x_mask.squeeze(1)
        dur = torch.sum((logd - target) ** 2) / torch.sum(x_mask)
        out = {"align_nll": align.mean(), "durations": durations, "dur": dur, "logd": logd}
        if decode:
            pred, y_mask = self.decode(h, durations, x_mask, mel.shape[2])
            out["mel"] = pred
            out["mel_l1"] = torch.sum(torch.abs(pred - mel) * y_mask) / (torch.sum(y_mask) * self.config.n_mels)
        return out

    def infer(self, ids: torch.Tensor, id_lengths: torch.Tensor, length_scale: float | torch.Tensor = 1.0
              ) -> torch.Tensor:
        """Symbol ids (B, T_chars) → log-mel (B, n_mels, frames); padded items are trimmed by the caller."""
        h, x_mask = self.encode(ids, id_lengths)
        logd = self.duration(h, x_mask).squeeze(1)
        durations = torch.clamp_min(torch.round(torch.exp(logd) * length_scale), 1) * x_mask.squeeze(1)
        frames = torch.clamp_min(durations.sum(1).max(), 1).long()
        mel, _ = self.decode(h, durations, x_mask, frames)
        return mel


class AlignTtsOnnx(nn.Module):
    """Export wrapper with the voice interface: ``input`` (1, T) int64, ``input_lengths`` (1,), ``scales`` (3,) =
    (unused, length_scale, unused) → ``mel`` (1, n_mels, frames)."""

    def __init__(self, model: AlignTts) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
        return self.model.infer(ids, lengths, scales[1])


def teacher_forced_mel(model: AlignTts, ids: torch.Tensor, id_lengths: torch.Tensor, mel: torch.Tensor,
                       mel_lengths: torch.Tensor) -> torch.Tensor:
    """The model's log-mel decoded with the durations of its best alignment to ``mel`` (same length as ``mel``):
    what the vocoder sees when it is fine-tuned on AlignTTS output."""
    with torch.no_grad():
        return model(ids, id_lengths, mel, mel_lengths)["mel"]


__all__ = ["AlignTts", "AlignTtsOnnx", "DurationPredictor", "MixDensityNetwork", "regulate", "teacher_forced_mel"]
