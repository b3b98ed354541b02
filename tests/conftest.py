"""Shared fixtures. Tests use the simulated room, WAV files and sounddevice's API (no sound card needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def python() -> str:
    """The interpreter running the tests (the project's .venv under scripts/test.sh)."""
    return sys.executable


def speechlike(rng: np.random.Generator, seconds: float, sample_rate: int = 16000) -> np.ndarray:
    """Bursty coloured noise: 200-600 ms 'words' separated by 50-250 ms pauses (float32)."""
    n = int(seconds * sample_rate)
    x = np.zeros(n)
    t = 0
    while t < n:
        length = int(rng.uniform(0.2, 0.6) * sample_rate)
        burst = np.convolve(rng.standard_normal(length), np.ones(4) / 4, "same") * rng.uniform(0.05, 0.2)
        x[t : t + length] = burst[: max(0, min(length, n - t))]
        t += length + int(rng.uniform(0.05, 0.25) * sample_rate)
    return x.astype(np.float32)


@pytest.fixture(scope="session")
def asr_model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny streaming Paraformer with random weights, written as a FunASR model folder."""
    import torch

    from training.asr.folder import build_model, paraformer_config, write_model_folder

    torch.manual_seed(0)
    config = paraformer_config(dim=64, encoder_blocks=2, decoder_blocks=1, heads=2, ffn=128, specaug=False)
    rng = np.random.default_rng(0)
    return write_model_folder(tmp_path_factory.mktemp("asr") / "model", config, build_model(config).state_dict(),
                              rng.normal(10, 1, 560), np.full(560, 3.0))


TINY_VITS = dict(inter_channels=16, hidden_channels=16, filter_channels=32, n_layers=2, upsample_initial_channel=32,
                 posterior_layers=2, flow_layers=2, n_flows=2, dp_filter_channels=16)


@pytest.fixture(scope="session")
def tts_voice(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 (Vits, Path)
    """A tiny VITS with random weights and its exported voice (``.onnx`` + ``.onnx.json``)."""
    import torch

    from models.tts.vits import Vits, size_config
    from models.tts.vits.export import export_voice

    torch.manual_seed(1)
    model = Vits(size_config("small", **TINY_VITS)).eval()
    return model, export_voice(model, tmp_path_factory.mktemp("voice") / "tiny.onnx", {"train_step": 0})
