"""Configuration of ASR training (``configs/train/asr.yaml``); every key has a default and a doc."""

from __future__ import annotations

from dataclasses import dataclass

from agent.config.base import apply_overrides, build, load_yaml, section, setting


@dataclass(frozen=True)
class AsrDataConfig:
    """Corpus and examples (built when missing, resumable)."""

    corpus_dir: str = setting("cache/corpus/asr", "Synthetic speech corpus (sentences without digits or symbols).")
    corpus_utterances: int = setting(5000, "Utterances in the corpus.", min=10)
    corpus_seed: int = setting(7, "Seed of the corpus.", min=0)
    examples_dir: str = setting("cache/asr/examples", "Features of every utterance: clean, in a room, with echo.")
    heldout_sentences: float = setting(
        0.1, "Share of sentences never used in training (scored apart as new sentences).", min=0, max=0.5
    )
    echo_ser_db: tuple[float, float] = setting((-15.0, 5.0), "Signal-to-echo ratio range of the echo version, dB.",
                                             min=-40, max=40)
    workers: int = setting(2, "Processes that build the corpus and the examples.", min=1, max=64)


@dataclass(frozen=True)
class AsrModelConfig:
    """Size of the streaming Paraformer (FunASR's classes)."""

    dim: int = setting(192, "Encoder and decoder width.", min=32, max=1024)
    encoder_blocks: int = setting(6, "SANM encoder blocks.", min=1, max=50)
    decoder_blocks: int = setting(3, "SANM decoder blocks.", min=1, max=16)
    heads: int = setting(4, "Attention heads.", min=1, max=16)
    ffn: int = setting(768, "Feed-forward width.", min=32, max=8192)
    dropout: float = setting(0.1, "Dropout rate.", min=0, max=0.5)
    ctc_weight: float = setting(0.3, "Weight of the auxiliary CTC loss on the encoder (0 = Paraformer's CIF and decoder losses only).",
                                min=0, max=1)
    lfr_n: int = setting(3, "Hop of the stacked features (LFR n), in 10 ms fbank frames: 6 = one feature vector per 60 ms "
                         "(FunASR's released models), 3 = one per 30 ms. The CIF emits at most one token per vector, "
                         "so a character-level model of fast speech needs the finer hop; streaming chunks are counted "
                         "in these vectors (chunk_size [0, 10, 5] = 300 ms chunks at 3).", min=1, max=6)


@dataclass(frozen=True)
class AsrTrainConfig:
    """Optimisation, logging and checkpoints."""

    out_dir: str = setting("cache/asr/run", "Run folder: checkpoints, log.csv, valid.jsonl, curves.png, model/.")
    init_from: str | None = setting(
        None, "Start a new run from the weights and am.mvn of this FunASR model folder (e.g. the shipped "
        "models/weights/asr_paraformer_bn_en, to train it further) instead of random weights; the model section must "
        "build the same network (a mismatch is an error naming the first differing weight). Ignored when resuming.")
    steps: int = setting(5000, "Training steps.", min=1)
    batch_s: float = setting(60.0, "Audio per step, s (utterances are added until it is reached).", min=1)
    lr: float = setting(0.001, "Adam peak learning rate.", min=1e-6, max=1)
    warmup: int = setting(300, "Linear warm-up steps.", min=0)
    lr_final: float = setting(0.00005, "Learning rate at the last step (cosine decay).", min=0, max=1)
    mix: tuple[float, float, float] = setting((0.4, 0.3, 0.3), "Chance of the clean, room and echo version of an utterance.",
                                             min=0, max=1)
    grad_clip: float = setting(5.0, "Gradient norm clip.", min=0.01)
    valid_every: int = setting(500, "Validation (streaming recognition of held-out voices) every N steps.", min=1)
    valid_utterances: int = setting(60, "Held-out utterances recognised at each validation (clean and echo).", min=2)
    valid_room: bool = setting(True, "Also recognise the room version (nothing played) at each validation, reported as "
                               "cer_room / wer_room in valid.jsonl; best.pt is still chosen on clean and echo.")
    checkpoint_every: int = setting(250, "Checkpoint every N steps.", min=1)
    log_every: int = setting(25, "Training-loss log every N steps.", min=1)
    seed: int = setting(0, "Random seed.", min=0)
    threads: int = setting(2, "torch CPU threads.", min=1, max=64)


@dataclass(frozen=True)
class AsrTrainingConfig:
    """ASR training (python -m training.asr --config configs/train/asr.yaml)."""

    data: AsrDataConfig = section(AsrDataConfig, "Data.")
    model: AsrModelConfig = section(AsrModelConfig, "Model.")
    train: AsrTrainConfig = section(AsrTrainConfig, "Optimisation.")


def load_asr_config(path: str | None, overrides: list[str] | None = None) -> AsrTrainingConfig:
    """Read the YAML file (None = defaults) and apply ``--set section.key=value`` overrides."""
    return build(AsrTrainingConfig, apply_overrides(load_yaml(path) if path else {}, overrides or []))
