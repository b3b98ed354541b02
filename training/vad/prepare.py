"""Build what VAD training needs (turns, then examples), skipping what exists."""

from __future__ import annotations

from pathlib import Path

from training.vad.config import VadTrainingConfig

VALID_FIRST_SEED = 1_000_000


def prepare_data(cfg: VadTrainingConfig, progress: bool = True) -> tuple[list[Path], list[Path]]:
    """Returns (training example paths, validation example paths)."""
    from training.vad.examples import build_examples
    from training.vad.turns import build_turns

    d = cfg.data
    turns = Path(d.turns_dir)
    build_turns(turns / "valid", "valid", d.valid_turns, 0, d.workers, progress)
    build_turns(turns / "train", "train", d.train_turns, 0, d.workers, progress)
    recipe = {"echo_only_share": d.echo_only_share, "delay_jump_share": d.delay_jump_share,
              "res_model": d.res_model, "res_share": d.res_share, "agent_voice_share": d.agent_voice_share}
    if d.agent_voice_share > 0:
        from training.vad.agent_voice import build_agent_voice

        recipe["own_voice"] = build_agent_voice(Path(d.agent_voice_dir), d.agent_voice_utterances, 0, progress)
    valid = build_examples(Path(d.valid_dir), turns / "valid", d.valid_turns, d.valid_examples, VALID_FIRST_SEED, 1,
                           d.example_s, d.workers, progress, **recipe)
    train = build_examples(Path(d.train_dir), turns / "train", d.train_turns, d.train_examples, 0, 0,
                           d.example_s, d.workers, progress, **recipe)
    return train, valid
