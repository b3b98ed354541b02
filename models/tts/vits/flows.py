"""Normalising flows of VITS: affine coupling (prior ↔ posterior) and the stochastic duration predictor's flows."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from models.tts.vits.layers import DDSConv, WaveNet
from models.tts.vits.spline import rational_quadratic

Flowed = tuple[torch.Tensor, torch.Tensor]


class Flip(nn.Module):
    def forward(self, x: torch.Tensor, mask: torch.Tensor, g: torch.Tensor | None = None,
                reverse: bool = False) -> torch.Tensor | Flowed:
        x = torch.flip(x, [1])
        return x if reverse else (x, torch.zeros(x.shape[0], dtype=x.dtype, device=x.device))


class Log(nn.Module):
    def forward(self, x: torch.Tensor, mask: torch.Tensor, g: torch.Tensor | None = None,
                reverse: bool = False) -> torch.Tensor | Flowed:
        if reverse:
            return torch.exp(x) * mask
        y = torch.log(torch.clamp_min(x, 1e-5)) * mask
        return y, torch.sum(-y, [1, 2])


class ElementwiseAffine(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.m = nn.Parameter(torch.zeros(channels, 1))
        self.logs = nn.Parameter(torch.zeros(channels, 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, g: torch.Tensor | None = None,
                reverse: bool = False) -> torch.Tensor | Flowed:
        if reverse:
            return (x - self.m) * torch.exp(-self.logs) * mask
        y = (self.m + torch.exp(self.logs) * x) * mask
        return y, torch.sum(self.logs * mask, [1, 2])


class ConvFlow(nn.Module):
    """Spline coupling: the second half of the channels is warped by a spline whose knots come from the first half."""

    def __init__(self, channels: int, filter_channels: int, kernel_size: int, n_layers: int, num_bins: int = 10,
                 tail_bound: float = 5.0) -> None:
        super().__init__()
        self.half, self.filter_channels, self.num_bins, self.tail_bound = channels // 2, filter_channels, num_bins, tail_bound
        self.pre = nn.Conv1d(self.half, filter_channels, 1)
        self.convs = DDSConv(filter_channels, kernel_size, n_layers)
        self.proj = nn.Conv1d(filter_channels, self.half * (num_bins * 3 - 1), 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, g: torch.Tensor | None = None,
                reverse: bool = False) -> torch.Tensor | Flowed:
        x0, x1 = x[:, : self.half], x[:, self.half :]
        h = self.proj(self.convs(self.pre(x0), mask, g)) * mask
        b, c, t = x0.shape
        h = h.reshape(b, c, -1, t).permute(0, 1, 3, 2)
        scale = math.sqrt(self.filter_channels)
        nb = self.num_bins
        x1, logdet = rational_quadratic(x1, h[..., :nb] / scale, h[..., nb : 2 * nb] / scale, h[..., 2 * nb :],
                                        inverse=reverse, tail_bound=self.tail_bound)
        x = torch.cat([x0, x1], 1) * mask
        return x if reverse else (x, torch.sum(logdet * mask, [1, 2]))


class AffineCoupling(nn.Module):
    """Mean-only affine coupling with a WaveNet (volume preserving), as in VITS's prior flow."""

    def __init__(self, channels: int, hidden: int, kernel_size: int, n_layers: int) -> None:
        super().__init__()
        self.half = channels // 2
        self.pre = nn.Conv1d(self.half, hidden, 1)
        self.enc = WaveNet(hidden, kernel_size, 1, n_layers)
        self.post = nn.Conv1d(hidden, self.half, 1)
        nn.init.zeros_(self.post.weight)
        nn.init.zeros_(self.post.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, reverse: bool = False) -> torch.Tensor:
        x0, x1 = x[:, : self.half], x[:, self.half :]
        m = self.post(self.enc(self.pre(x0) * mask, mask)) * mask
        x1 = (x1 - m) * mask if reverse else m + x1 * mask
        return torch.cat([x0, x1], 1)


class PriorFlow(nn.Module):
    """``n_flows`` couplings with channel flips between them: posterior z ↔ prior z_p."""

    def __init__(self, channels: int, hidden: int, kernel_size: int, n_layers: int, n_flows: int) -> None:
        super().__init__()
        self.couplings = nn.ModuleList(AffineCoupling(channels, hidden, kernel_size, n_layers) for _ in range(n_flows))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, reverse: bool = False) -> torch.Tensor:
        if not reverse:
            for c in self.couplings:
                x = torch.flip(c(x, mask), [1])
        else:
            for c in reversed(self.couplings):
                x = c(torch.flip(x, [1]), mask, reverse=True)
        return x


class StochasticDurationPredictor(nn.Module):
    """Flow-based duration model: ``forward`` gives the negative log-likelihood bound of durations ``w``,
    ``reverse`` samples log-durations from noise scaled by ``noise_scale``."""

    def __init__(self, in_channels: int, filter_channels: int, kernel_size: int, p_dropout: float, n_flows: int = 4) -> None:
        super().__init__()
        self.log_flow = Log()
        self.flows = nn.ModuleList([ElementwiseAffine(2)])
        self.post_flows = nn.ModuleList([ElementwiseAffine(2)])
        for _ in range(n_flows):
            self.flows.extend([ConvFlow(2, filter_channels, kernel_size, 3), Flip()])
            self.post_flows.extend([ConvFlow(2, filter_channels, kernel_size, 3), Flip()])
        self.pre = nn.Conv1d(in_channels, filter_channels, 1)
        self.proj = nn.Conv1d(filter_channels, filter_channels, 1)
        self.convs = DDSConv(filter_channels, kernel_size, 3, p_dropout)
        self.post_pre = nn.Conv1d(1, filter_channels, 1)
        self.post_proj = nn.Conv1d(filter_channels, filter_channels, 1)
        self.post_convs = DDSConv(filter_channels, kernel_size, 3, p_dropout)

    def _condition(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.proj(self.convs(self.pre(torch.detach(x)), mask)) * mask

    def nll(self, x: torch.Tensor, mask: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Per-item negative log-likelihood bound (B,) of integer durations ``w`` (B, 1, T)."""
        x = self._condition(x, mask)
        h_w = self.post_proj(self.post_convs(self.post_pre(w), mask)) * mask
        e_q = torch.randn(w.shape[0], 2, w.shape[2], dtype=w.dtype, device=w.device) * mask
        z_q, logdet_q = e_q, torch.zeros(w.shape[0], device=w.device)
        for flow in self.post_flows:
            z_q, ld = flow(z_q, mask, g=x + h_w)
            logdet_q = logdet_q + ld
        z_u, z1 = z_q[:, :1], z_q[:, 1:]
        u = torch.sigmoid(z_u) * mask
        z0 = (w - u) * mask
        logdet_q = logdet_q + torch.sum((F.logsigmoid(z_u) + F.logsigmoid(-z_u)) * mask, [1, 2])
        logq = torch.sum(-0.5 * (math.log(2 * math.pi) + e_q**2) * mask, [1, 2]) - logdet_q
        z0, logdet = self.log_flow(z0, mask)
        z = torch.cat([z0, z1], 1)
        for flow in self.flows:
            z, ld = flow(z, mask, g=x)
            logdet = logdet + ld
        nll = torch.sum(0.5 * (math.log(2 * math.pi) + z**2) * mask, [1, 2]) - logdet
        return nll + logq

    def sample(self, x: torch.Tensor, mask: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Log-durations (B, 1, T) from ``noise`` (B, 2, T), already scaled."""
        x = self._condition(x, mask)
        flows = list(reversed(self.flows))
        flows = flows[:-2] + [flows[-1]]  # the first ConvFlow only shapes the unused half
        z = noise
        for flow in flows:
            z = flow(z, mask, g=x, reverse=True)
        return z[:, :1]
