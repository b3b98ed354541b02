"""VITS sizes. ``small`` is the demo voice; ``medium`` is Piper-medium-like; ``paper`` is Coqui's default VITS (the paper's)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from models.tts.text.symbols import SYMBOLS


@dataclass(frozen=True)
class VitsConfig:
    """Generator hyper-parameters. Audio: 22 050 Hz, hop 256 samples (= product of ``upsample_rates``)."""

    n_vocab: int = len(SYMBOLS)
    sample_rate: int = 22050
    n_fft: int = 1024
    hop: int = 256
    inter_channels: int = 192
    hidden_channels: int = 192
    filter_channels: int = 768
    n_heads: int = 2
    n_layers: int = 6
    kernel_size: int = 3
    p_dropout: float = 0.1
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilations: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    upsample_rates: tuple[int, ...] = (8, 8, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 4, 4)
    upsample_initial_channel: int = 512
    posterior_layers: int = 16
    flow_layers: int = 4
    n_flows: int = 4
    dp_filter_channels: int = 192

    @property
    def spec_channels(self) -> int:
        return self.n_fft // 2 + 1

    def __post_init__(self) -> None:
        prod = 1
        for r in self.upsample_rates:
            prod *= r
        if prod != self.hop:
            raise ValueError(f"upsample_rates {self.upsample_rates} multiply to {prod}, not the hop {self.hop}")
        if len(self.upsample_kernel_sizes) != len(self.upsample_rates):
            raise ValueError("upsample_kernel_sizes and upsample_rates must have the same length")
        if len(self.resblock_dilations) != len(self.resblock_kernel_sizes):
            raise ValueError("resblock_dilations and resblock_kernel_sizes must have the same length")
        if self.hidden_channels % self.n_heads:
            raise ValueError("hidden_channels must be divisible by n_heads")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> VitsConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown VITS config keys: {sorted(unknown)}")
        tupled = {k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v
                  for k, v in d.items()}
        return cls(**tupled)


SIZES: dict[str, VitsConfig] = {}
SIZES["paper"] = VitsConfig()
SIZES["medium"] = replace(SIZES["paper"], upsample_initial_channel=256)
SIZES["small"] = VitsConfig(
    inter_channels=96, hidden_channels=96, filter_channels=384, n_heads=2, n_layers=4,
    resblock_kernel_sizes=(3, 7), resblock_dilations=((1, 3, 5), (1, 3, 5)),
    upsample_rates=(8, 8, 4), upsample_kernel_sizes=(16, 16, 8), upsample_initial_channel=128,
    posterior_layers=8, flow_layers=3, dp_filter_channels=96,
)


def size_config(name: str, **overrides: object) -> VitsConfig:
    """A named size (``small``, ``medium``, ``paper``) with optional field overrides."""
    if name not in SIZES:
        raise ValueError(f"unknown VITS size {name!r}; choose one of {sorted(SIZES)}")
    return replace(SIZES[name], **overrides)
