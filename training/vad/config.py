"""Configuration of VAD training (``configs/train/vad.yaml``); every key has a default and a doc."""

from __future__ import annotations

from dataclasses import dataclass

from agent.config.base import apply_overrides, build, load_yaml, section, setting


@dataclass(frozen=True)
class VadDataConfig:
    """User turns and simulated examples (built when missing, resumable)."""

    turns_dir: str = setting("cache/vad/turns", "User turns, one folder per split (train/, valid/).")
    train_turns: int = setting(6000, "User turns of training voices.", min=1)
    valid_turns: int = setting(150, "User turns of held-out voices.", min=1)
    train_dir: str = setting("cache/vad/examples_train_mix", "Training examples.")
    valid_dir: str = setting("cache/vad/examples_valid_mix", "Validation examples (held-out voices and devices).")
    train_examples: int = setting(3000, "Training examples.", min=1)
    valid_examples: int = setting(120, "Validation examples.", min=1)
    example_s: float = setting(16.0, "Length of one example, s.", min=4, max=60)
    echo_only_share: float = setting(
        0.15, "Share of examples where the agent speaks and nobody else (listening and double talk share the rest "
        "40 : 45).", min=0, max=1)
    delay_jump_share: float = setting(
        0.0, "Share of the examples with the agent's speech that get one jump of the echo path's delay (30-200 ms) "
        "while it plays.", min=0, max=1)
    res_model: str | None = setting(
        "shipped", "The echo chain's residual echo masks in the examples (its aec.res_model): 'shipped' = the shipped "
        "neural suppressor (the agent's default), null = the classical masks only, or a path to a RES .onnx.")
    res_share: float = setting(
        0.5, "Share of the examples whose chain uses res_model (the others use the classical masks), so that one model "
        "learns the residual echo of both mask sources; 1 = every example (ignored when res_model is null).",
        min=0, max=1)
    agent_voice_share: float = setting(
        0.3, "Share of the examples with the agent's speech in which that speech is the agent's own default TTS voice "
        "(the VITS demo voice) rather than a synthesiser voice of the turns.", min=0, max=1)
    agent_voice_dir: str = setting("cache/vad/agent_voice", "The agent voice's utterances (built when missing).")
    agent_voice_utterances: int = setting(400, "Utterances of the agent's voice to synthesise.", min=1)
    workers: int = setting(2, "Processes that build turns and examples.", min=1, max=64)


@dataclass(frozen=True)
class VadTrainConfig:
    """Optimisation, logging and checkpoints."""

    out_dir: str = setting("cache/vad/run_mix", "Run folder: checkpoints, log.csv, valid.jsonl, curves.png.")
    echo_input: bool = setting(
        True, "Echo-aware model: it also reads the echo chain's echo estimate, so it can tell residual echo from the "
        "user (false: the output alone, as the first shipped model).")
    pitch_input: bool = setting(
        False, "Prosody-aware model: it also reads 3 pitch features of the output (models.vad.pitch: voicing and the "
        "F0 contour, the intonation that tells a finished sentence from a clause that goes on); needs examples built "
        "with them (the 'pitch' array).")
    laec_input: bool = setting(
        False, "LAEC-aware model: it also reads the linear echo canceller's output (before the residual echo masks, "
        "which hold back the user's first syllables while the agent talks); needs examples built with it (the "
        "'laec_features' array).")
    eot_layers: int = setting(
        0, "Layers of an end-of-turn branch (models.vad.net: DFSMN layers on the trunk's output that add a correction "
        "to the end-of-turn logit; 0 = none, at most 4); with init_from and freeze_trunk it trains the end of turn of "
        "a trained model without changing its speech probability.", min=0, max=4)
    init_from: str | None = setting(
        None, "Start a new run from this VAD's weights instead of random ones: an exported .onnx (e.g. the shipped "
        "models/vad/vad_dfsmn.onnx, weights read back from the graph) or a checkpoint .pt; its inputs and "
        "power_floor must be this config's. A branch (eot_layers) is added at zero. Ignored when resuming.")
    freeze_trunk: bool = setting(
        False, "Train the end-of-turn branch alone (needs init_from and eot_layers > 0): the speech probability stays "
        "the init_from model's, bit for bit.")
    echo_gain_db: float = setting(
        3.0, "Random level change of the echo-estimate features against the output's, ± dB (the estimate's scale "
        "varies with the echo canceller's state).", min=0, max=30)
    power_floor: float = setting(
        1e-5, "Floor added to the mel band powers before the log (models.vad.power_floor; 1e-10 = the features' own, "
        "below any sound; 1e-5 = white noise at about -83 dBFS): a higher one makes sounds far quieter than it look like silence to the model, e.g. the "
        "neural RES's rare leaks on the agent's echo. Kept in the checkpoint and the ONNX metadata.", min=1e-10, max=1)
    steps: int = setting(4000, "Training steps.", min=1)
    batch: int = setting(32, "Crops per step.", min=1)
    crop_s: float = setting(8.0, "Crop length, s.", min=1, max=60)
    lr: float = setting(0.002, "Adam learning rate.", min=1e-6, max=1)
    lr_final: float = setting(0.0001, "Learning rate at the last step (cosine decay).", min=0, max=1)
    eot_weight: float = setting(1.0, "Weight of the end-of-turn loss against the speech loss.", min=0, max=100)
    echo_weight: float = setting(
        1.0, "Weight of the speech loss on frames of the agent's echo with no user (false barge-ins) against other "
        "frames.", min=0.1, max=100)
    pause_weight: float = setting(
        1.0, "Weight of the end-of-turn loss on the silent frames of pauses inside sentences (where a premature end "
        "of turn would be decided) against other labelled frames.", min=0.1, max=100)
    gain_db: float = setting(12.0, "Random level change of a crop, ± dB (features are log powers).", min=0, max=60)
    grad_clip: float = setting(5.0, "Gradient norm clip.", min=0.01)
    ema_decay: float = setting(
        0.0, "Decay per step of the moving average of the weights that is validated, kept as best.pt and exported "
        "(e.g. 0.999: its decisions vary far less between validations than the raw weights'); 0 = off (the raw "
        "weights).",
        min=0, max=0.99999)
    valid_every: int = setting(250, "Validation every N steps.", min=1)
    keep_validated: bool = setting(
        True, "Keep the validated weights of every validation as valid_step_NNNNN.pt (about 0.5 MB each; any of them "
        "exports with `python -m training.vad export`), not only the best by the selection rule.")
    checkpoint_every: int = setting(250, "Checkpoint every N steps.", min=1)
    log_every: int = setting(25, "Training-loss log every N steps.", min=1)
    seed: int = setting(0, "Random seed.", min=0)
    threads: int = setting(2, "torch CPU threads.", min=1, max=64)


@dataclass(frozen=True)
class VadTrainingConfig:
    """VAD training (python -m training.vad --config configs/train/vad.yaml)."""

    data: VadDataConfig = section(VadDataConfig, "Data.")
    train: VadTrainConfig = section(VadTrainConfig, "Optimisation.")


def load_vad_config(path: str | None, overrides: list[str] | None = None) -> VadTrainingConfig:
    """Read the YAML file (None = defaults) and apply ``--set section.key=value`` overrides."""
    return build(VadTrainingConfig, apply_overrides(load_yaml(path) if path else {}, overrides or []))
