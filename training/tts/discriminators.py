"""GAN discriminators with a width factor for CPU training (training only): HiFi-GAN's multi-period and multi-scale
discriminators (VITS uses one scale) and UnivNet's multi-resolution spectrogram discriminator."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.tts.vits.layers import LRELU_SLOPE
from training.tts.losses import STFT_RESOLUTIONS

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


class PooledScaleDiscriminator(nn.Module):
    """A scale discriminator on audio average-pooled by ``factor`` (HiFi-GAN's second and third scales)."""

    def __init__(self, factor: int, width: float) -> None:
        super().__init__()
        self.factor = factor
        self.disc = ScaleDiscriminator(width)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return self.disc(F.avg_pool1d(x, 2 * self.factor, self.factor, padding=self.factor))


class SpectrogramDiscriminator(nn.Module):
    """UnivNet's discriminator on the linear magnitude spectrogram at one STFT resolution (n_fft, hop, window)."""

    def __init__(self, n_fft: int, hop: int, win: int, width: float) -> None:
        super().__init__()
        self.n_fft, self.hop, self.win = n_fft, hop, win
        ch = _ch(32, width)
        self.convs = nn.ModuleList([weight_norm(nn.Conv2d(1, ch, (3, 9), padding=(1, 4)))] + [
            weight_norm(nn.Conv2d(ch, ch, (3, 9), stride=(1, 2), padding=(1, 4))) for _ in range(3)] + [
            weight_norm(nn.Conv2d(ch, ch, (3, 3), padding=(1, 1)))])
        self.post = weight_norm(nn.Conv2d(ch, 1, (3, 3), padding=(1, 1)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        window = torch.hann_window(self.win, device=x.device)
        spec = torch.stft(x.squeeze(1), self.n_fft, self.hop, self.win, window, return_complex=True)
        h = spec.abs().unsqueeze(1)  # (B, 1, freq, frames)
        feats = []
        for conv in self.convs:
            h = F.leaky_relu(conv(h), LRELU_SLOPE)
            feats.append(h)
        h = self.post(h)
        feats.append(h)
        return h.flatten(1), feats


PERIODS = (2, 3, 5, 7, 11)


class Discriminator(nn.Module):
    """A set of discriminators judged together. ``kind``: ``vits`` (one scale + periods 2, 3, 5, 7, 11),
    ``hifigan`` (three scales + the periods), ``univnet`` (three spectrogram resolutions + the periods)."""

    def __init__(self, width: float = 1.0, kind: str = "vits") -> None:
        super().__init__()
        periods = [PeriodDiscriminator(p, width) for p in PERIODS]
        if kind == "vits":
            first = [ScaleDiscriminator(width)]
        elif kind == "hifigan":
            first = [ScaleDiscriminator(width), PooledScaleDiscriminator(2, width), PooledScaleDiscriminator(4, width)]
        elif kind == "univnet":
            first = [SpectrogramDiscriminator(n, h, w, width) for n, h, w in STFT_RESOLUTIONS]
        else:
            raise ValueError(f"unknown discriminator kind {kind!r}")
        self.discs = nn.ModuleList(first + periods)

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
