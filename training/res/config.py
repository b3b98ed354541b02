"""Configuration of RES training (``configs/train/res.yaml``); every key has a default and a doc."""

from __future__ import annotations

from dataclasses import dataclass

from agent.config.base import apply_overrides, build, load_yaml, section, setting


@dataclass(frozen=True)
class ResDataConfig:
    """Where the speech corpus and the simulated scenes come from (built when missing)."""

    corpus_dir: str = setting("cache/corpus/res", "Speech corpus folder (python -m training.data.corpus).")
    corpus_utterances: int = setting(1200, "Utterances synthesised when the corpus is missing.", min=4)
    train_dir: str = setting("cache/res/scenes_train", "Training scenes (resumable build).")
    valid_dir: str = setting("cache/res/scenes_valid", "Validation scenes: held-out voices and devices.")
    train_scenes: int = setting(2400, "Number of training scenes.", min=1)
    valid_scenes: int = setting(48, "Number of validation scenes.", min=1)
    scene_s: float = setting(10.0, "Length of one scene, s.", min=2, max=60)
    workers: int = setting(2, "Processes that build scenes.", min=1, max=64)


@dataclass(frozen=True)
class ResAugmentConfig:
    """Data augmentation (the paper's DA)."""

    enabled: bool = setting(True, "Apply the augmentations below.")
    ref_shift_ms: float = setting(20.0, "The reference is moved ahead of the mic by up to this much, ms.", min=0, max=100)
    freq_masks: int = setting(2, "SpecAugment frequency masks on the reference features.", min=0, max=10)
    freq_mask_bands: int = setting(10, "Widest frequency mask, mel bands.", min=1, max=80)
    time_masks: int = setting(2, "SpecAugment time masks on the reference features.", min=0, max=10)
    time_mask_frames: int = setting(10, "Longest time mask, frames.", min=1, max=100)


@dataclass(frozen=True)
class ResLossConfig:
    """Loss weights (DESIGN §3: 0.1 modulation + 0.9 SNR + 10 PMSQE) and progressive learning."""

    modulation: float = setting(0.1, "Weight of the modulation-domain loss.", min=0)
    snr: float = setting(0.9, "Weight of the SNR loss.", min=0)
    pmsqe: float = setting(10.0, "Weight of the PMSQE loss.", min=0)
    mask_r: float = setting(1.0, "Weight of the M_r (residual echo mask) loss.", min=0)
    progressive: bool = setting(True, "Train the stage-1 and stage-2 heads toward SER +10 and +20 dB targets.")
    stage_weight: float = setting(0.5, "Weight of each intermediate head's SNR loss (progressive learning).", min=0)
    snr_floor: float = setting(1e-3, "SNR-loss floor as a fraction of the LAEC output energy (silent targets).", min=0)


@dataclass(frozen=True)
class ResTrainConfig:
    """Optimisation, logging and checkpoints."""

    out_dir: str = setting("cache/res/run", "Run folder: checkpoints, log.csv, valid.jsonl, curves.png.")
    steps: int = setting(8000, "Training steps.", min=1)
    batch: int = setting(8, "Crops per step.", min=1)
    crop_s: float = setting(4.0, "Crop length, s.", min=0.5, max=30)
    lr: float = setting(1e-3, "Adam learning rate.", min=0)
    lr_final: float = setting(1e-4, "Learning rate at the last step (cosine decay).", min=0)
    grad_clip: float = setting(5.0, "Gradient norm clip.", min=0)
    valid_every: int = setting(500, "Validation every N steps.", min=1)
    checkpoint_every: int = setting(200, "Checkpoint every N steps.", min=1)
    log_every: int = setting(25, "Training-loss log every N steps.", min=1)
    seed: int = setting(0, "Random seed.", min=0)
    threads: int = setting(2, "torch CPU threads.", min=1, max=256)
    loader_workers: int = setting(1, "Data-loading processes (0 = in the training process).", min=0, max=32)


@dataclass(frozen=True)
class ResConfig:
    """RES training (python -m training.res --config configs/train/res.yaml)."""

    data: ResDataConfig = section(ResDataConfig, "Corpus and scenes.")
    augment: ResAugmentConfig = section(ResAugmentConfig, "Augmentation.")
    loss: ResLossConfig = section(ResLossConfig, "Loss.")
    train: ResTrainConfig = section(ResTrainConfig, "Optimisation.")


def load_res_config(path: str | None, overrides: list[str] | None = None) -> ResConfig:
    """Read the YAML file (None = defaults) and apply ``--set section.key=value`` overrides."""
    return build(ResConfig, apply_overrides(load_yaml(path) if path else {}, overrides or []))
