"""Build what short-word spotter training needs: the agent voice's pool, then the training and validation scenes."""

from __future__ import annotations

from pathlib import Path

from training.kws.config import KwsTrainingConfig
from training.kws.examples import build_examples


def prepare_data(cfg: KwsTrainingConfig, progress: bool = True) -> tuple[Path, Path]:
    """Build what is missing (resumable); returns the (train, valid) example folders. Errors of single shards are
    raised together at the end, after the others were built."""
    from training.vad.agent_voice import build_agent_voice

    d = cfg.data
    files = build_agent_voice(Path(d.agent_voice_dir), d.agent_voice_utterances, progress=progress)
    errors = []
    for split, folder, scenes in (("valid", d.valid_dir, d.valid_scenes), ("train", d.train_dir, d.train_scenes)):
        errors += build_examples(Path(folder), split, scenes, files, d.workers, progress=progress)
    if errors:
        raise ValueError(f"{len(errors)} shards failed: {'; '.join(errors[:3])}")
    return Path(d.train_dir), Path(d.valid_dir)
