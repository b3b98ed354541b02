"""AlignTTS sizes. ``small`` is the demo model; ``base`` has FastSpeech's published sizes (hidden 384, 6 + 6 blocks)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from models.tts.text.symbols import SYMBOLS


@dataclass(frozen=True)
class AlignTtsConfig:
    """Acoustic model hyper-parameters. Output: ``n_mels`` log-mel bands per hop of ``hop`` samples at
    ``sample_rate`` Hz (the vocoders' settings: 1024-point STFT, 80 bands up to 8 kHz)."""

    n_vocab: int = len(SYMBOLS)
    sample_rate: int = 22050
    hop: int = 256
    n_fft: int = 1024
    n_mels: int = 80
    mel_fmax: float = 8000.0
    hidden: int = 384
    filter_channels: int = 1536
    n_heads: int = 2
    encoder_layers: int = 6
    decoder_layers: int = 6
    kernel_size: int = 3
    p_dropout: float = 0.1
    dp_channels: int = 384
    dp_kernel: int = 3
    mdn_hidden: int = 256

    def __post_init__(self) -> None:
        if self.hidden % self.n_heads:
            raise ValueError("hidden must be divisible by n_heads")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> AlignTtsConfig:
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown AlignTTS config keys: {sorted(unknown)}")
        return cls(**d)

    def mel_settings(self) -> dict:
        """What a vocoder must share with this model (checked when the two stages are chained)."""
        return {"sample_rate": self.sample_rate, "hop": self.hop, "n_fft": self.n_fft, "n_mels": self.n_mels,
                "mel_fmax": self.mel_fmax}


SIZES: dict[str, AlignTtsConfig] = {
    "base": AlignTtsConfig(),
    "small": AlignTtsConfig(hidden=128, filter_channels=384, encoder_layers=4, decoder_layers=4, dp_channels=128,
                            mdn_hidden=256),
}


def size_config(name: str, **overrides: object) -> AlignTtsConfig:
    """A named size (``small``, ``base``) with optional field overrides."""
    if name not in SIZES:
        raise ValueError(f"unknown AlignTTS size {name!r}; choose one of {sorted(SIZES)}")
    return replace(SIZES[name], **overrides)
