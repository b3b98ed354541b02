"""Vocoder sizes. HiFi-GAN ``v1`` and UnivNet ``c32`` are the papers' published sizes; ``small`` are the demo sizes.

Both read the acoustic model's log-mel (1024-point STFT, hop 256, 80 bands up to 8 kHz, natural log
clamped at 1e-5, 22 050 Hz) and write audio at the same rate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from torch import nn


@dataclass(frozen=True)
class HifiGanConfig:
    """HiFi-GAN generator (Kong et al. 2020): transposed-convolution upsampling with multi-receptive-field blocks."""

    kind: str = "hifigan"
    sample_rate: int = 22050
    hop: int = 256
    n_fft: int = 1024
    n_mels: int = 80
    mel_fmax: float = 8000.0
    upsample_rates: tuple[int, ...] = (8, 8, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 4, 4)
    upsample_initial_channel: int = 512
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilations: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))

    def __post_init__(self) -> None:
        _check_hop(self.upsample_rates, self.hop)
        if len(self.upsample_kernel_sizes) != len(self.upsample_rates):
            raise ValueError("upsample_kernel_sizes and upsample_rates must have the same length")


@dataclass(frozen=True)
class UnivNetConfig:
    """UnivNet generator (Jang et al. 2021): noise in, upsampled by transposed convolutions, shaped by
    location-variable convolutions whose kernels a kernel predictor computes from the mel frames."""

    kind: str = "univnet"
    sample_rate: int = 22050
    hop: int = 256
    n_fft: int = 1024
    n_mels: int = 80
    mel_fmax: float = 8000.0
    noise_channels: int = 64
    channels: int = 32
    strides: tuple[int, ...] = (8, 8, 4)
    dilations: tuple[int, ...] = (1, 3, 9, 27)
    lvc_kernel: int = 3
    kp_hidden: int = 64
    kp_blocks: int = 3
    kp_kernel: int = 3
    kp_out_kernel: int = 3

    def __post_init__(self) -> None:
        _check_hop(self.strides, self.hop)


VocoderConfig = HifiGanConfig | UnivNetConfig


def _check_hop(rates: tuple[int, ...], hop: int) -> None:
    prod = 1
    for r in rates:
        prod *= r
    if prod != hop:
        raise ValueError(f"upsampling rates {rates} multiply to {prod}, not the hop {hop}")


def config_to_dict(c: VocoderConfig) -> dict:
    return asdict(c)


def config_from_dict(d: dict) -> VocoderConfig:
    """The config a checkpoint or a vocoder's .onnx.json carries (``kind`` says which)."""
    cls = {"hifigan": HifiGanConfig, "univnet": UnivNetConfig}.get(d.get("kind", ""))
    if cls is None:
        raise ValueError(f"unknown vocoder kind {d.get('kind')!r}; expected hifigan or univnet")
    unknown = set(d) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    return cls(**{k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v
                  for k, v in d.items()})


SIZES: dict[str, VocoderConfig] = {
    "hifigan-v1": HifiGanConfig(),
    "hifigan-small": HifiGanConfig(upsample_rates=(8, 8, 4), upsample_kernel_sizes=(16, 16, 8),
                                   upsample_initial_channel=128, resblock_kernel_sizes=(3, 7),
                                   resblock_dilations=((1, 3, 5), (1, 3, 5))),
    "univnet-c32": UnivNetConfig(),
    "univnet-small": UnivNetConfig(channels=16, kp_hidden=48, kp_out_kernel=1),
}


def size_config(kind: str, size: str) -> VocoderConfig:
    """``kind`` hifigan or univnet, ``size`` small or the paper's (v1 / c32)."""
    key = f"{kind}-{size}"
    if key not in SIZES:
        raise ValueError(f"unknown vocoder {key!r}; choose one of {sorted(SIZES)}")
    return replace(SIZES[key])


def vocoder_from_config(c: VocoderConfig) -> nn.Module:
    """The generator module of a config."""
    if isinstance(c, HifiGanConfig):
        from models.tts.vocoders.hifigan import HifiGan

        return HifiGan(c)
    from models.tts.vocoders.univnet import UnivNet

    return UnivNet(c)
