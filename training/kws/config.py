"""Configuration of short-word spotter training (``configs/train/kws.yaml``); every key has a default and a doc."""

from __future__ import annotations

from dataclasses import dataclass

from agent.config.base import apply_overrides, build, load_yaml, section, setting


@dataclass(frozen=True)
class KwsDataConfig:
    """Simulated short sounds during the agent's speech (built when missing, resumable)."""

    agent_voice_dir: str = setting("cache/vad/agent_voice", "The agent voice's utterances (the VAD recipe's pool; "
                                   "built when missing).")
    agent_voice_utterances: int = setting(120, "Utterances of the agent's voice to synthesise when missing.", min=2)
    train_dir: str = setting("cache/kws/examples_train", "Training examples (shards of scenes).")
    valid_dir: str = setting("cache/kws/examples_valid", "Validation examples (held-out voices and devices; they "
                             "keep the windows' audio).")
    train_scenes: int = setting(3600, "Training scenes (three short sounds each).", min=1)
    valid_scenes: int = setting(200, "Validation scenes.", min=1)
    workers: int = setting(2, "Processes that build the scenes.", min=1, max=64)


@dataclass(frozen=True)
class KwsTrainConfig:
    """Optimisation."""

    out_dir: str = setting("cache/kws/run", "Run folder: checkpoints, log.csv, valid.jsonl.")
    channels: int = setting(128, "Channels of the convolutions.", min=4, max=512)
    layers: int = setting(3, "Convolution layers.", min=1, max=8)
    dilate: bool = setting(True, "Dilate the convolutions 1, 2, 4, … (a wider view of the run) instead of 1.")
    inputs: tuple[str, ...] = setting(
        ("output",), "Signals the spotter reads over the run, in this order: output (the echo chain's ASR output; "
        "always), echo (its echo estimate: what the agent's own voice sounded like at the microphone), laec (its "
        "linear canceller's output, before the residual echo masks that also take some of the user).")
    window_norm: bool = setting(True, "The network also sees each feature less its mean over the run (removes the "
                                "room's and the device's colouring; the mean is kept as a second input).")
    freq_mask: int = setting(6, "SpecAugment: up to this many adjacent mel bands of an example are masked (0 = off).",
                             min=0, max=39)
    time_mask: int = setting(8, "SpecAugment: up to this many adjacent frames of an example are masked (0 = off).",
                             min=0)
    min_vad_peak: float = setting(0.5, "Train only on examples whose sound the shipped VAD gave at least this speech "
                                  "probability (one it never hears never reaches the spotter in the agent).",
                                  min=0, max=1)
    valid_min_vad_peak: float = setting(0.7, "Validate only on examples with at least this VAD peak (0.7 = "
                                        "vad.barge_in_threshold: the sounds that can barge in).", min=0, max=1)
    steps: int = setting(4000, "Training steps.", min=1)
    batch: int = setting(64, "Examples per step.", min=1)
    lr: float = setting(0.002, "Adam learning rate.", min=0)
    lr_final: float = setting(0.0001, "Learning rate at the last step (cosine decay).", min=0)
    gain_db: float = setting(8.0, "Random level change of an example, ± dB (features are log powers).", min=0)
    crop_frames: int = setting(5, "Up to this many frames are cut from each end of an example at random (the "
                               "runtime's window edges vary).", min=0)
    valid_every: int = setting(250, "Steps between validations (and checkpoints).", min=1)
    seed: int = setting(0, "Random seed.", min=0)
    threads: int = setting(2, "torch CPU threads.", min=1, max=64)


@dataclass(frozen=True)
class KwsTrainingConfig:
    """Short-word spotter training (python -m training.kws --config configs/train/kws.yaml)."""

    data: KwsDataConfig = section(KwsDataConfig, "Data.")
    train: KwsTrainConfig = section(KwsTrainConfig, "Optimisation.")


def load_kws_config(path: str | None, overrides: list[str] | None = None) -> KwsTrainingConfig:
    """Defaults, then the YAML file, then ``section.key=value`` overrides; a bad key or value is a ConfigError."""
    return build(KwsTrainingConfig, apply_overrides(load_yaml(path) if path else {}, overrides or []))
