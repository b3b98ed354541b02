"""Mel-spectrogram vocoders of the two-stage TTS: HiFi-GAN and UnivNet (torch, for training and export).

The runtime (onnxruntime, no torch) is :mod:`models.tts.vocoders.runtime`.
"""

from models.tts.vocoders.config import (
    SIZES,
    HifiGanConfig,
    UnivNetConfig,
    VocoderConfig,
    size_config,
    vocoder_from_config,
)

__all__ = ["SIZES", "HifiGanConfig", "UnivNetConfig", "VocoderConfig", "size_config", "vocoder_from_config"]
