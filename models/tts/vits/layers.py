"""Building blocks of VITS (Kim et al. 2021): channel LayerNorm, relative-position transformer, WaveNet stack, DDS convs.

Tensors are (batch, channels, time) with a (batch, 1, time) mask, as in the reference implementation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.1


class LayerNorm(nn.Module):
    """LayerNorm over the channel axis of (B, C, T)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps, self.channels = eps, channels
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.transpose(1, -1), (self.channels,), self.gamma, self.beta, self.eps)
        return x.transpose(1, -1)


class RelativeAttention(nn.Module):
    """Multi-head self-attention with relative position embeddings over a window of ±``window`` characters."""

    def __init__(self, channels: int, n_heads: int, p_dropout: float = 0.0, window: int = 4) -> None:
        super().__init__()
        self.n_heads, self.window = n_heads, window
        self.k_channels = channels // n_heads
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(p_dropout)
        std = self.k_channels**-0.5
        self.emb_rel_k = nn.Parameter(torch.randn(1, 2 * window + 1, self.k_channels) * std)
        self.emb_rel_v = nn.Parameter(torch.randn(1, 2 * window + 1, self.k_channels) * std)
        for conv in (self.conv_q, self.conv_k, self.conv_v):
            nn.init.xavier_uniform_(conv.weight)

    def _relative(self, emb: torch.Tensor, length: int) -> torch.Tensor:
        """Embeddings for relative positions −(length−1)…(length−1): (1, 2·length−1, k)."""
        padded = F.pad(emb, [0, 0, length, length])  # always pad by length: no data-dependent branch (ONNX)
        return padded[:, self.window + 1 : self.window + 2 * length]

    @staticmethod
    def _rel_to_abs(x: torch.Tensor) -> torch.Tensor:
        b, h, n, _ = x.shape
        x = F.pad(x, [0, 1]).reshape(b, h, n * 2 * n)
        x = F.pad(x, [0, n - 1])
        return x.reshape(b, h, n + 1, 2 * n - 1)[:, :, :n, n - 1 :]

    @staticmethod
    def _abs_to_rel(x: torch.Tensor) -> torch.Tensor:
        b, h, n, _ = x.shape
        x = F.pad(x, [0, n - 1]).reshape(b, h, n * n + n * (n - 1))
        x = F.pad(x, [n, 0])
        return x.reshape(b, h, n, 2 * n)[:, :, :, 1:]

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        b, d, n = x.shape
        q = self.conv_q(x).view(b, self.n_heads, self.k_channels, n).transpose(2, 3)
        k = self.conv_k(x).view(b, self.n_heads, self.k_channels, n).transpose(2, 3)
        v = self.conv_v(x).view(b, self.n_heads, self.k_channels, n).transpose(2, 3)
        q = q / math.sqrt(self.k_channels)
        scores = torch.matmul(q, k.transpose(-2, -1))
        rel_k = self._relative(self.emb_rel_k, n)
        scores = scores + self._rel_to_abs(torch.matmul(q, rel_k.unsqueeze(0).transpose(-2, -1)))
        scores = scores.masked_fill(attn_mask == 0, -1e4)
        p = self.drop(torch.softmax(scores, dim=-1))
        out = torch.matmul(p, v)
        rel_v = self._relative(self.emb_rel_v, n)
        out = out + torch.matmul(self._abs_to_rel(p), rel_v.unsqueeze(0))
        return self.conv_o(out.transpose(2, 3).reshape(b, d, n))


class FeedForward(nn.Module):
    def __init__(self, channels: int, filter_channels: int, kernel_size: int, p_dropout: float) -> None:
        super().__init__()
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel_size, padding=kernel_size // 2)
        self.conv_2 = nn.Conv1d(filter_channels, channels, kernel_size, padding=kernel_size // 2)
        self.drop = nn.Dropout(p_dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.drop(torch.relu(self.conv_1(x * mask)))
        return self.conv_2(x * mask) * mask


class TransformerEncoder(nn.Module):
    def __init__(self, channels: int, filter_channels: int, n_heads: int, n_layers: int, kernel_size: int,
                 p_dropout: float) -> None:
        super().__init__()
        self.attn = nn.ModuleList(RelativeAttention(channels, n_heads, p_dropout) for _ in range(n_layers))
        self.norm_1 = nn.ModuleList(LayerNorm(channels) for _ in range(n_layers))
        self.ffn = nn.ModuleList(FeedForward(channels, filter_channels, kernel_size, p_dropout) for _ in range(n_layers))
        self.norm_2 = nn.ModuleList(LayerNorm(channels) for _ in range(n_layers))
        self.drop = nn.Dropout(p_dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        attn_mask = mask.unsqueeze(2) * mask.unsqueeze(-1)
        x = x * mask
        for attn, n1, ffn, n2 in zip(self.attn, self.norm_1, self.ffn, self.norm_2, strict=True):
            x = n1(x + self.drop(attn(x, attn_mask)))
            x = n2(x + self.drop(ffn(x, mask)))
        return x * mask


class WaveNet(nn.Module):
    """Non-causal WaveNet stack (gated dilated convolutions with residual and skip outputs)."""

    def __init__(self, hidden: int, kernel_size: int, dilation_rate: int, n_layers: int, p_dropout: float = 0.0) -> None:
        super().__init__()
        self.hidden = hidden
        self.in_layers = nn.ModuleList()
        self.res_skip = nn.ModuleList()
        for i in range(n_layers):
            d = dilation_rate**i
            self.in_layers.append(nn.utils.parametrizations.weight_norm(
                nn.Conv1d(hidden, 2 * hidden, kernel_size, dilation=d, padding=(kernel_size * d - d) // 2)))
            out = 2 * hidden if i < n_layers - 1 else hidden
            self.res_skip.append(nn.utils.parametrizations.weight_norm(nn.Conv1d(hidden, out, 1)))
        self.drop = nn.Dropout(p_dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        skip = torch.zeros_like(x)
        last = len(self.in_layers) - 1
        for i, (conv, rs) in enumerate(zip(self.in_layers, self.res_skip, strict=True)):
            h = conv(x)
            acts = self.drop(torch.tanh(h[:, : self.hidden]) * torch.sigmoid(h[:, self.hidden :]))
            r = rs(acts)
            if i < last:
                x = (x + r[:, : self.hidden]) * mask
                skip = skip + r[:, self.hidden :]
            else:
                skip = skip + r
        return skip * mask


class DDSConv(nn.Module):
    """Dilated depth-separable convolutions with LayerNorm and GELU (the duration predictor's body)."""

    def __init__(self, channels: int, kernel_size: int, n_layers: int, p_dropout: float = 0.0) -> None:
        super().__init__()
        self.sep = nn.ModuleList()
        self.one = nn.ModuleList()
        self.norm_1 = nn.ModuleList()
        self.norm_2 = nn.ModuleList()
        for i in range(n_layers):
            d = kernel_size**i
            self.sep.append(nn.Conv1d(channels, channels, kernel_size, groups=channels, dilation=d,
                                      padding=(kernel_size * d - d) // 2))
            self.one.append(nn.Conv1d(channels, channels, 1))
            self.norm_1.append(LayerNorm(channels))
            self.norm_2.append(LayerNorm(channels))
        self.drop = nn.Dropout(p_dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        if g is not None:
            x = x + g
        for sep, one, n1, n2 in zip(self.sep, self.one, self.norm_1, self.norm_2, strict=True):
            y = F.gelu(n1(sep(x * mask)))
            y = F.gelu(n2(one(y)))
            x = x + self.drop(y)
        return x * mask
