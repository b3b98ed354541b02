"""Configuration of TTS training (``configs/train/tts_bn.yaml``); every key has a default and a doc."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.config.base import apply_overrides, build, load_yaml, section, setting


@dataclass(frozen=True)
class TtsDataConfig:
    """An LJSpeech-style folder (``metadata.csv`` with ``file|text``, ``wavs/``) and its preprocessing."""

    dataset: str = setting("cache/tts/teacher", "LJSpeech-style folder: metadata.csv (file|text[|normalised]) and the WAVs.")
    build_teacher: bool = setting(True, "Build the demo teacher set (espeak-ng Bangla, one voice) when the folder has no metadata.csv.")
    teacher_voice: str = setting("bn", "espeak-ng voice of the teacher set.")
    teacher_repeats: int = setting(1, "Times each sentence of the project's list is spoken (with other speeds).", min=1, max=10)
    features_dir: str = setting("cache/tts/features", "Preprocessed utterances (22.05 kHz mono, trimmed, ids).")
    max_seconds: float = setting(16.0, "Clips longer than this are dropped (the paper: 16 s).", min=1, max=60)
    trim_db: float = setting(-40.0, "Leading/trailing silence below this level (dB re the loudest 5 ms) is trimmed.", min=-90, max=-10)
    valid_fraction: float = setting(0.05, "Share of utterances held out (by a hash of the file name).", min=0.0, max=0.5)
    latin: str = setting("drop", "Words in Latin script: drop, spell or keep.")
    workers: int = setting(2, "Processes that build the teacher set and the features.", min=1, max=64)


@dataclass(frozen=True)
class TtsModelConfig:
    """Model size."""

    size: str = setting("small", "VITS size: small (demo voice), medium (Piper-medium-like), paper (Coqui's default VITS).")
    discriminator_width: float = setting(0.25, "Channel width of the discriminators relative to HiFi-GAN's (1.0).",
                                         min=0.05, max=1.0)


@dataclass(frozen=True)
class TtsTrainConfig:
    """Optimisation (AdamW as in the paper), logging and checkpoints."""

    out_dir: str = setting("cache/tts/run", "Run folder: checkpoints, log.csv, samples/.")
    steps: int = setting(20000, "Training steps.", min=1)
    batch: int = setting(8, "Utterances per step.", min=1)
    segment_frames: int = setting(32, "Decoder training slice, frames of 256 samples.", min=4, max=256)
    lr: float = setting(0.0002, "AdamW learning rate (generator and discriminator).", min=1e-7, max=1)
    lr_decay: float = setting(0.99999, "Learning-rate factor per step.", min=0.9, max=1)
    beta1: float = setting(0.8, "AdamW beta1.", min=0, max=1)
    beta2: float = setting(0.99, "AdamW beta2.", min=0, max=1)
    weight_decay: float = setting(0.01, "AdamW weight decay.", min=0, max=1)
    c_mel: float = setting(45.0, "Weight of the mel L1 loss.", min=0)
    c_kl: float = setting(1.0, "Weight of the KL loss.", min=0)
    grad_clip: float = setting(100.0, "Gradient norm clip.", min=0.01)
    log_every: int = setting(25, "Training-loss log every N steps.", min=1)
    checkpoint_every: int = setting(250, "Checkpoint (and an audio sample) every N steps.", min=1)
    seed: int = setting(0, "Random seed.", min=0)
    threads: int = setting(2, "torch CPU threads.", min=1, max=64)


@dataclass(frozen=True)
class TtsQatConfig:
    """Quantization-aware fine-tuning of a trained voice (int8 fake quantisation)."""

    steps: int = setting(2000, "Fine-tuning steps with fake quantisation.", min=1)
    lr: float = setting(0.00005, "Learning rate of the fine-tuning.", min=1e-7, max=1)
    out_dir: str = setting("cache/tts/qat", "Run folder of the fine-tuning.")
    quantize: str = setting("decoder", "What runs in int8: decoder (HiFi-GAN), all (every conv/linear), none.")


@dataclass(frozen=True)
class TtsTrainingConfig:
    """TTS training (python -m training.tts --config configs/train/tts_bn.yaml)."""

    data: TtsDataConfig = section(TtsDataConfig, "Data.")
    model: TtsModelConfig = section(TtsModelConfig, "Model.")
    train: TtsTrainConfig = section(TtsTrainConfig, "Optimisation.")
    qat: TtsQatConfig = section(TtsQatConfig, "Quantization-aware training.")


@dataclass(frozen=True)
class AlignTtsModelConfig:
    """AlignTTS size."""

    size: Literal["small", "base"] = setting("small", "AlignTTS size: small (demo) or base (FastSpeech's sizes: hidden 384, 6 + 6 blocks).")


@dataclass(frozen=True)
class AlignTtsTrainConfig:
    """Optimisation of AlignTTS: the mix density network learns the alignment first (``align_steps``), then the
    whole model trains on the mel loss, the alignment loss and the duration loss together."""

    out_dir: str = setting("cache/tts/aligntts", "Run folder: checkpoints, log.csv, samples/.")
    steps: int = setting(4000, "Training steps.", min=1)
    align_steps: int = setting(1000, "Steps at the start that train only the encoder and the mix density network.",
                               min=0)
    batch: int = setting(16, "Utterances per step.", min=1)
    lr: float = setting(0.001, "Adam learning rate after warm-up.", min=1e-7, max=1)
    warmup: int = setting(400, "Linear warm-up steps.", min=0)
    lr_final: float = setting(0.0001, "Learning rate at the last step (cosine decay).", min=0, max=1)
    c_align: float = setting(1.0, "Weight of the alignment loss after align_steps.", min=0)
    c_dur: float = setting(0.1, "Weight of the duration-predictor loss.", min=0)
    grad_clip: float = setting(1.0, "Gradient norm clip.", min=0.01)
    log_every: int = setting(25, "Training-loss log every N steps.", min=1)
    checkpoint_every: int = setting(250, "Checkpoint (and validation) every N steps.", min=1)
    seed: int = setting(0, "Random seed.", min=0)
    threads: int = setting(2, "torch CPU threads.", min=1, max=64)


@dataclass(frozen=True)
class AlignTtsTrainingConfig:
    """AlignTTS training (python -m training.tts aligntts --config configs/train/aligntts_bn.yaml)."""

    data: TtsDataConfig = section(TtsDataConfig, "Data (the same teacher set and features as VITS).")
    model: AlignTtsModelConfig = section(AlignTtsModelConfig, "Model.")
    train: AlignTtsTrainConfig = section(AlignTtsTrainConfig, "Optimisation.")


@dataclass(frozen=True)
class VocoderModelConfig:
    """Which vocoder and how big."""

    kind: Literal["hifigan", "univnet"] = setting("hifigan", "Vocoder: hifigan or univnet.")
    size: Literal["small", "v1", "c32"] = setting("small", "small (demo), or the paper's size: v1 (HiFi-GAN) / c32 (UnivNet).")
    discriminator_width: float = setting(0.25, "Channel width of the discriminators relative to the papers' (1.0).",
                                         min=0.05, max=1.0)


@dataclass(frozen=True)
class VocoderTrainConfig:
    """Optimisation of a vocoder (AdamW, betas 0.8/0.99 as both papers) on ground-truth mels, or fine-tuning on
    AlignTTS output (``acoustic_checkpoint``)."""

    out_dir: str = setting("cache/tts/vocoder_{kind}", "Run folder ({kind} is replaced by the vocoder's kind).")
    steps: int = setting(5000, "Training steps.", min=1)
    batch: int = setting(8, "Audio segments per step.", min=1)
    segment_frames: int = setting(32, "Segment length in mel frames (of 256 samples).", min=4, max=256)
    lr: float = setting(0.0002, "AdamW learning rate (generator and discriminator).", min=1e-7, max=1)
    lr_decay: float = setting(0.99999, "Learning-rate factor per step.", min=0.9, max=1)
    adversarial_from: int = setting(3500, "First step with the discriminators (before it: reconstruction loss only, "
                                       "4–5 times faster on a CPU).", min=0)
    c_mel: float = setting(45.0, "Weight of the mel L1 loss (HiFi-GAN).", min=0)
    c_stft: float = setting(2.5, "Weight of the multi-resolution STFT loss (UnivNet).", min=0)
    acoustic_checkpoint: str | None = setting(
        None, "AlignTTS checkpoint: fine-tune on its mels (decoded with the durations of its alignment to the "
              "recording) instead of ground-truth mels; null = ground truth.")
    grad_clip: float = setting(100.0, "Gradient norm clip.", min=0.01)
    log_every: int = setting(25, "Training-loss log every N steps.", min=1)
    checkpoint_every: int = setting(250, "Checkpoint (and an audio sample) every N steps.", min=1)
    seed: int = setting(0, "Random seed.", min=0)
    threads: int = setting(2, "torch CPU threads.", min=1, max=64)


@dataclass(frozen=True)
class VocoderTrainingConfig:
    """Vocoder training (python -m training.tts vocoder --config configs/train/vocoder_bn.yaml)."""

    data: TtsDataConfig = section(TtsDataConfig, "Data (the same teacher set and features as VITS).")
    model: VocoderModelConfig = section(VocoderModelConfig, "Model.")
    train: VocoderTrainConfig = section(VocoderTrainConfig, "Optimisation.")


def load_aligntts_config(path: str | None, overrides: list[str] | None = None) -> AlignTtsTrainingConfig:
    """Read an AlignTTS training YAML (None = defaults) with ``section.key=value`` overrides."""
    return build(AlignTtsTrainingConfig, apply_overrides(load_yaml(path) if path else {}, overrides or []))


def load_vocoder_config(path: str | None, overrides: list[str] | None = None) -> VocoderTrainingConfig:
    """Read a vocoder training YAML (None = defaults) with ``section.key=value`` overrides."""
    return build(VocoderTrainingConfig, apply_overrides(load_yaml(path) if path else {}, overrides or []))


def load_tts_config(path: str | None, overrides: list[str] | None = None) -> TtsTrainingConfig:
    """Read the YAML file (None = defaults) and apply ``--set section.key=value`` overrides."""
    return build(TtsTrainingConfig, apply_overrides(load_yaml(path) if path else {}, overrides or []))
