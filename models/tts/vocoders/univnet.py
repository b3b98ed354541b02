"""UnivNet vocoder: Gaussian noise (B, noise_channels, frames) and log-mel (B, n_mels, frames) → audio (B, 1, frames·hop).

Each upsampling stage is a transposed convolution followed by a location-variable convolution
(LVC) block: per mel frame, a kernel predictor computes the kernels and biases of that block's
convolutions, so the filter applied to the waveform changes from frame to frame. Every LVC layer
is a dilated convolution, then the frame's own kernel (to 2 × channels), a gated tanh·sigmoid, and
a residual.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.tts.vits.layers import LRELU_SLOPE
from models.tts.vocoders.config import UnivNetConfig

weight_norm = nn.utils.parametrizations.weight_norm


def location_variable_conv(x: torch.Tensor, kernels: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Convolve each frame's stretch of ``x`` with that frame's kernel ("same" padding, dilation 1).

    ``x`` (B, C_in, frames·hop); ``kernels`` (B, C_in, C_out, K, frames); ``bias`` (B, C_out, frames)
    → (B, C_out, frames·hop)."""
    b, c_in, length = x.shape
    k = kernels.shape[3]
    frames = kernels.shape[4]
    pad = (k - 1) // 2
    xp = F.pad(x, (pad, k - 1 - pad))
    out = bias.unsqueeze(-1)
    for tap in range(k):
        seg = xp[:, :, tap : tap + length].reshape(b, c_in, frames, -1)  # (B, C_in, frames, hop)
        out = out + torch.einsum("bifl,biof->bofl", seg, kernels[:, :, :, tap, :])
    return out.reshape(b, out.shape[1], -1)


class KernelPredictor(nn.Module):
    """Mel frames → kernels (B, layers, C_in, C_out, K, frames) and biases (B, layers, C_out, frames)."""

    def __init__(self, c: UnivNetConfig, layers: int) -> None:
        super().__init__()
        self.layers, self.c_in, self.c_out, self.k = layers, c.channels, 2 * c.channels, c.lvc_kernel
        pad = (c.kp_kernel - 1) // 2
        self.pre = weight_norm(nn.Conv1d(c.n_mels, c.kp_hidden, 5, padding=2))
        self.blocks = nn.ModuleList(nn.Sequential(
            weight_norm(nn.Conv1d(c.kp_hidden, c.kp_hidden, c.kp_kernel, padding=pad)), nn.LeakyReLU(LRELU_SLOPE),
            weight_norm(nn.Conv1d(c.kp_hidden, c.kp_hidden, c.kp_kernel, padding=pad)), nn.LeakyReLU(LRELU_SLOPE),
        ) for _ in range(c.kp_blocks))
        out_pad = (c.kp_out_kernel - 1) // 2
        self.kernel = weight_norm(nn.Conv1d(c.kp_hidden, layers * self.c_in * self.c_out * self.k, c.kp_out_kernel,
                                            padding=out_pad))
        self.bias = weight_norm(nn.Conv1d(c.kp_hidden, layers * self.c_out, c.kp_out_kernel, padding=out_pad))

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.leaky_relu(self.pre(mel), LRELU_SLOPE)
        for block in self.blocks:
            h = h + block(h)
        b, _, frames = mel.shape
        kernels = self.kernel(h).reshape(b, self.layers, self.c_in, self.c_out, self.k, frames)
        return kernels, self.bias(h).reshape(b, self.layers, self.c_out, frames)


class LvcBlock(nn.Module):
    """Upsample by ``stride``, then one LVC layer per dilation (kernels from the mel)."""

    def __init__(self, c: UnivNetConfig, stride: int) -> None:
        super().__init__()
        ch = c.channels
        self.up = weight_norm(nn.ConvTranspose1d(ch, ch, 2 * stride, stride, padding=stride // 2 + stride % 2,
                                                 output_padding=stride % 2))
        self.kp = KernelPredictor(c, len(c.dilations))
        self.convs = nn.ModuleList(weight_norm(nn.Conv1d(ch, ch, c.lvc_kernel, dilation=d,
                                                         padding=d * (c.lvc_kernel - 1) // 2)) for d in c.dilations)
        self.ch = ch

    def forward(self, x: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        x = self.up(F.leaky_relu(x, LRELU_SLOPE))
        kernels, bias = self.kp(mel)
        for i, conv in enumerate(self.convs):
            h = conv(F.leaky_relu(x, LRELU_SLOPE))
            h = location_variable_conv(F.leaky_relu(h, LRELU_SLOPE), kernels[:, i], bias[:, i])
            x = x + torch.sigmoid(h[:, : self.ch]) * torch.tanh(h[:, self.ch :])
        return x


class UnivNet(nn.Module):
    def __init__(self, config: UnivNetConfig) -> None:
        super().__init__()
        c = self.config = config
        self.conv_pre = weight_norm(nn.Conv1d(c.noise_channels, c.channels, 7, padding=3))
        self.blocks = nn.ModuleList(LvcBlock(c, s) for s in c.strides)
        self.conv_post = weight_norm(nn.Conv1d(c.channels, 1, 7, padding=3))

    def forward(self, mel: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """``noise`` (B, noise_channels, frames); drawn here when None."""
        if noise is None:
            noise = torch.randn(mel.shape[0], self.config.noise_channels, mel.shape[2], dtype=mel.dtype,
                                device=mel.device)
        x = self.conv_pre(noise)
        for block in self.blocks:
            x = block(x, mel)
        return torch.tanh(self.conv_post(F.leaky_relu(x, LRELU_SLOPE)))
