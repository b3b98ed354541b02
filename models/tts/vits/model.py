"""VITS generator: text encoder, stochastic duration predictor, prior flow, posterior encoder (training only), HiFi-GAN decoder.

``Vits.forward`` is the training pass (monotonic alignment search on the prior, random decoder
slices); ``Vits.infer`` is synthesis from symbol ids with the three usual controls: ``noise_scale``
(prior sampling), ``length_scale`` (>1 slower) and ``noise_scale_w`` (duration sampling).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from models.tts.vits.alignment import generate_path, maximum_path, sequence_mask
from models.tts.vits.config import VitsConfig
from models.tts.vits.flows import PriorFlow, StochasticDurationPredictor
from models.tts.vits.layers import LRELU_SLOPE, TransformerEncoder, WaveNet

weight_norm = nn.utils.parametrizations.weight_norm


class TextEncoder(nn.Module):
    def __init__(self, c: VitsConfig) -> None:
        super().__init__()
        self.hidden = c.hidden_channels
        self.emb = nn.Embedding(c.n_vocab, c.hidden_channels)
        nn.init.normal_(self.emb.weight, 0.0, c.hidden_channels**-0.5)
        self.encoder = TransformerEncoder(c.hidden_channels, c.filter_channels, c.n_heads, c.n_layers, c.kernel_size,
                                          c.p_dropout)
        self.proj = nn.Conv1d(c.hidden_channels, c.inter_channels * 2, 1)
        self.out = c.inter_channels

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = (self.emb(ids) * math.sqrt(self.hidden)).transpose(1, 2)
        mask = sequence_mask(lengths, ids.shape[1]).unsqueeze(1).to(x.dtype)
        x = self.encoder(x, mask)
        stats = self.proj(x) * mask
        return x, stats[:, : self.out], stats[:, self.out :], mask


class PosteriorEncoder(nn.Module):
    def __init__(self, c: VitsConfig) -> None:
        super().__init__()
        self.out = c.inter_channels
        self.pre = nn.Conv1d(c.spec_channels, c.hidden_channels, 1)
        self.enc = WaveNet(c.hidden_channels, 5, 1, c.posterior_layers)
        self.proj = nn.Conv1d(c.hidden_channels, c.inter_channels * 2, 1)

    def forward(self, spec: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        mask = sequence_mask(lengths, spec.shape[2]).unsqueeze(1).to(spec.dtype)
        stats = self.proj(self.enc(self.pre(spec) * mask, mask)) * mask
        m, logs = stats[:, : self.out], stats[:, self.out :]
        z = (m + torch.randn_like(m) * torch.exp(logs)) * mask
        return z, m, logs, mask


def _padding(kernel: int, dilation: int = 1) -> int:
    return (kernel * dilation - dilation) // 2


class ResBlock(nn.Module):
    """HiFi-GAN ResBlock1: pairs of (dilated, plain) convolutions with residuals."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(weight_norm(nn.Conv1d(channels, channels, kernel, dilation=d, padding=_padding(kernel, d)))
                                    for d in dilations)
        self.convs2 = nn.ModuleList(weight_norm(nn.Conv1d(channels, channels, kernel, padding=_padding(kernel)))
                                    for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
        return x


class Generator(nn.Module):
    """HiFi-GAN generator: frames (B, in_channels, T) → waveform (B, 1, T·hop) in [−1, 1].

    ``c`` gives the upsampling and residual-block fields (a :class:`VitsConfig` or a HiFi-GAN vocoder's config);
    VITS feeds its latent (``inter_channels``), the two-stage TTS a log-mel spectrogram."""

    def __init__(self, c: VitsConfig, in_channels: int | None = None) -> None:
        super().__init__()
        ch = c.upsample_initial_channel
        self.conv_pre = nn.Conv1d(c.inter_channels if in_channels is None else in_channels, ch, 7, padding=3)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        self.n_kernels = len(c.resblock_kernel_sizes)
        for i, (u, k) in enumerate(zip(c.upsample_rates, c.upsample_kernel_sizes, strict=True)):
            self.ups.append(weight_norm(nn.ConvTranspose1d(ch // 2**i, ch // 2 ** (i + 1), k, u, padding=(k - u) // 2)))
            for rk, rd in zip(c.resblock_kernel_sizes, c.resblock_dilations, strict=True):
                self.resblocks.append(ResBlock(ch // 2 ** (i + 1), rk, rd))
        self.conv_post = nn.Conv1d(ch // 2 ** len(c.upsample_rates), 1, 7, padding=3, bias=False)
        for up in self.ups:
            nn.init.normal_(up.parametrizations.weight.original1, 0.0, 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(x)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            blocks = self.resblocks[i * self.n_kernels : (i + 1) * self.n_kernels]
            x = sum(b(x) for b in blocks) / self.n_kernels
        return torch.tanh(self.conv_post(F.leaky_relu(x)))


def slice_segments(x: torch.Tensor, starts: torch.Tensor, size: int) -> torch.Tensor:
    """(B, C, T) → (B, C, size) windows starting at ``starts`` (B,)."""
    return torch.stack([x[i, :, s : s + size] for i, s in enumerate(starts.tolist())])


class Vits(nn.Module):
    def __init__(self, config: VitsConfig) -> None:
        super().__init__()
        self.config = config
        self.enc_p = TextEncoder(config)
        self.enc_q = PosteriorEncoder(config)
        self.flow = PriorFlow(config.inter_channels, config.hidden_channels, 5, config.flow_layers, config.n_flows)
        self.dp = StochasticDurationPredictor(config.hidden_channels, config.dp_filter_channels, 3, 0.5)
        self.dec = Generator(config)

    def forward(self, ids: torch.Tensor, id_lengths: torch.Tensor, spec: torch.Tensor, spec_lengths: torch.Tensor,
                segment_frames: int) -> dict[str, torch.Tensor]:
        """Training pass. ``spec``: linear magnitude (B, n_fft/2+1, T_frames). Returns the decoder slice and what the losses need."""
        x, m_p, logs_p, x_mask = self.enc_p(ids, id_lengths)
        z, m_q, logs_q, y_mask = self.enc_q(spec, spec_lengths)
        z_p = self.flow(z, y_mask)
        with torch.no_grad():
            s = torch.exp(-2 * logs_p)  # (B, C, Tx)
            score = (torch.sum(-0.5 * math.log(2 * math.pi) - logs_p, [1], keepdim=True)
                     + torch.matmul(-0.5 * (z_p**2).transpose(1, 2), s)
                     + torch.matmul(z_p.transpose(1, 2), m_p * s)
                     + torch.sum(-0.5 * m_p**2 * s, [1], keepdim=True))  # (B, Ty, Tx)
            attn_mask = x_mask.unsqueeze(2) * y_mask.unsqueeze(-1)  # (B, 1, Ty, Tx)
            attn = maximum_path(score, attn_mask.squeeze(1)).unsqueeze(1)
        w = attn.sum(2)
        l_dur = torch.sum(self.dp.nll(x, x_mask, w)) / torch.sum(x_mask)
        m_p = torch.matmul(attn.squeeze(1), m_p.transpose(1, 2)).transpose(1, 2)
        logs_p = torch.matmul(attn.squeeze(1), logs_p.transpose(1, 2)).transpose(1, 2)
        max_start = (spec_lengths - segment_frames).clamp_min(0)
        starts = (torch.rand(spec.shape[0], device=spec.device) * (max_start + 1).float()).long()
        z_slice = slice_segments(F.pad(z, [0, segment_frames]), starts, segment_frames)
        return {"audio": self.dec(z_slice), "starts": starts, "l_dur": l_dur, "z_p": z_p, "m_p": m_p,
                "logs_p": logs_p, "logs_q": logs_q, "y_mask": y_mask, "attn": attn}

    def infer(self, ids: torch.Tensor, id_lengths: torch.Tensor, noise_scale: float | torch.Tensor = 0.667,
              length_scale: float | torch.Tensor = 1.0, noise_scale_w: float | torch.Tensor = 0.8) -> torch.Tensor:
        """Symbol ids (B, T) → audio (B, 1, samples), padded items trimmed to their own length by the caller."""
        x, m_p, logs_p, x_mask = self.enc_p(ids, id_lengths)
        noise_w = torch.randn(x.shape[0], 2, x.shape[2], dtype=x.dtype, device=x.device) * noise_scale_w
        logw = self.dp.sample(x, x_mask, noise_w)
        w_ceil = torch.ceil(torch.exp(logw) * x_mask * length_scale)
        y_lengths = torch.clamp_min(torch.sum(w_ceil, [1, 2]), 1).long()
        y_mask = sequence_mask(y_lengths).unsqueeze(1).to(x.dtype)
        attn = generate_path(w_ceil, x_mask.unsqueeze(2) * y_mask.unsqueeze(-1))
        m_p = torch.matmul(attn.squeeze(1), m_p.transpose(1, 2)).transpose(1, 2)
        logs_p = torch.matmul(attn.squeeze(1), logs_p.transpose(1, 2)).transpose(1, 2)
        z_p = m_p + torch.randn_like(m_p) * torch.exp(logs_p) * noise_scale
        z = self.flow(z_p, y_mask, reverse=True)
        return self.dec(z * y_mask)


class VitsOnnx(nn.Module):
    """Export wrapper with Piper's interface: ``input`` (1, T) int64, ``input_lengths`` (1,), ``scales`` (3,) =
    (noise_scale, length_scale, noise_scale_w) → ``output`` (1, 1, samples)."""

    def __init__(self, vits: Vits) -> None:
        super().__init__()
        self.vits = vits

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
        return self.vits.infer(ids, lengths, scales[0], scales[1], scales[2])


def remove_weight_norm(model: nn.Module) -> nn.Module:
    """Fold every weight-norm parametrisation into a plain weight (for export and faster inference)."""
    for module in model.modules():
        if nn.utils.parametrize.is_parametrized(module, "weight"):
            nn.utils.parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
    return model


def folded_copy(model: Vits) -> Vits:
    """An inference copy of ``model`` with weight norm folded (the original keeps training)."""
    plain = Vits(model.config)
    plain.load_state_dict(model.state_dict())
    return remove_weight_norm(plain).eval()
