"""Build the ASR training data when missing: the spoken-only corpus, then the examples (both resumable)."""

from __future__ import annotations

from pathlib import Path

from training.asr.config import AsrTrainingConfig
from training.asr.data import build_examples, load_examples, load_manifest
from training.data.corpus import CorpusSpec, build_corpus


def prepare_data(cfg: AsrTrainingConfig, progress: bool = True, build: bool = True) -> list[dict]:
    """Example records of every corpus utterance (building the corpus and the examples first if needed).

    With ``build=False`` nothing is built: the records of the examples finished so far (e.g. while
    ``python -m training.asr prepare`` builds the rest in another process); the corpus must exist.
    """
    d = cfg.data
    if not build:
        load_manifest(Path(d.corpus_dir))  # a clear error when the corpus is missing
        return load_examples(Path(d.examples_dir))
    spec = CorpusSpec(out=d.corpus_dir, num=d.corpus_utterances, seed=d.corpus_seed, max_sentences=2,
                      rates=(16000,), spoken_only=True)
    corpus = Path(d.corpus_dir)
    if not (corpus / "manifest.jsonl").exists() or _lines(corpus / "manifest.jsonl") < d.corpus_utterances:
        build_corpus(spec, d.workers, progress)
    return build_examples(corpus, Path(d.examples_dir), d.echo_ser_db, d.heldout_sentences, d.workers, progress,
                          cfg.model.lfr_n)


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
