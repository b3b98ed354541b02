"""HiFi-GAN discriminators (multi-period and one scale), with a width factor for CPU training. Training only."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.tts.vits.layers import LRELU_SLOPE

weight_norm = nn.utils.parametrizations.weight_norm


def _ch(c: int, width: float) -> int:
    return max(8, int(round(c * width)))


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, width: float) -> None:
        super().__init__()
        self.period = period
        chans = [1] + [_ch(c, width) for c in (32, 128, 512, 1024)]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(chans[i], chans[i + 1], (5, 1), (3, 1), padding=(2, 0))) for i in range(4))
        self.convs.append(weight_norm(nn.Conv2d(chans[-1], chans[-1], (5, 1), 1, padding=(2, 0))))
        self.post = weight_norm(nn.Conv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, c, t = x.shape
        if t % self.period:
            x = F.pad(x, (0, self.period - t % self.period), "reflect")
        x = x.view(b, c, -1, self.period)
        feats = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            feats.append(x)
        x = self.post(x)
        feats.append(x)
        return x.flatten(1), feats


class ScaleDiscriminator(nn.Module):
    def __init__(self, width: float) -> None:
        super().__init__()
        c = [_ch(v, width) for v in (16, 64, 256, 1024, 1024, 1024)]
        groups = [1, 4, 16, 64, 256]
        self.convs = nn.ModuleList([weight_norm(nn.Conv1d(1, c[0], 15, 1, padding=7))])
        for i in range(4):
            g = max(1, min(groups[i + 1], c[i], c[i + 1]))
            while c[i] % g or c[i + 1] % g:
                g -= 1
            self.convs.append(weight_norm(nn.Conv1d(c[i], c[i + 1], 41, 4, groups=g, padding=20)))
        self.convs.append(weight_norm(nn.Conv1d(c[4], c[5], 5, 1, padding=2)))
        self.post = weight_norm(nn.Conv1d(c[5], 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        feats = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            feats.append(x)
        x = self.post(x)
        feats.append(x)
        return x.flatten(1), feats


class Discriminator(nn.Module):
    """One scale discriminator and period discriminators for periods 2, 3, 5, 7, 11."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        self.discs = nn.ModuleList([ScaleDiscriminator(width)] + [PeriodDiscriminator(p, width) for p in (2, 3, 5, 7, 11)])

    def forward(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[list, list, list, list]:
        out_r, out_f, feat_r, feat_f = [], [], [], []
        for d in self.discs:
            r, fr = d(real)
            f, ff = d(fake)
            out_r.append(r)
            out_f.append(f)
            feat_r.append(fr)
            feat_f.append(ff)
        return out_r, out_f, feat_r, feat_f
