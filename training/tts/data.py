"""LJSpeech-style data → preprocessed utterances for VITS (the paper's preprocessing).

``metadata.csv`` rows are ``file|text`` or ``file|text|normalised text`` (LJSpeech, CRBLP); the
WAV is ``<folder>/wavs/<file>.wav`` (or ``<folder>/<file>`` when that exists). Each clip is read as
mono at 22 050 Hz, leading and trailing silence is trimmed, clips over ``max_seconds`` are dropped,
and the text goes through the project's front-end (the same one the runtime uses). Results are
cached as ``<features_dir>/<file>.npz`` (audio int16, symbol ids) with a ``manifest.json``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio_io.wav import AudioFileError, AudioFormatWarning, read_wav
from models.tts.text import TextFrontEnd
from training.common.loop import run_jobs
from training.data.corpus import speech_bounds

RATE = 22050


class DatasetError(ValueError):
    """The dataset folder or its metadata cannot be used."""


@dataclass(frozen=True)
class Utterance:
    uid: str
    audio: np.ndarray  # float32, 22 050 Hz
    ids: np.ndarray  # int64 symbol ids
    text: str  # normalised text


def read_metadata(folder: Path) -> list[tuple[str, str]]:
    """``(file, text)`` rows of ``folder/metadata.csv`` (the normalised column when there is one)."""
    path = Path(folder) / "metadata.csv"
    if not path.exists():
        raise DatasetError(f"{path}: no such file (an LJSpeech-style folder has metadata.csv with file|text rows)")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        cols = line.split("|")
        if len(cols) < 2 or not cols[0].strip():
            raise DatasetError(f"{path}:{n}: expected 'file|text', got {line[:80]!r}")
        rows.append((cols[0].strip(), cols[-1].strip()))
    if not rows:
        raise DatasetError(f"{path}: no rows")
    return rows


def wav_path(folder: Path, name: str) -> Path:
    direct = Path(folder) / name
    if direct.suffix == ".wav" and direct.exists():
        return direct
    return Path(folder) / "wavs" / f"{Path(name).name}.wav"


def is_valid(uid: str, fraction: float) -> bool:
    """Held-out utterance: decided by a hash of its file name (stable across runs)."""
    return int(hashlib.sha1(uid.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < fraction


def _prepare(job: tuple[str, str, str, str, float, float, str]) -> str | None:
    folder, name, text, out, max_s, trim_db, latin = job
    uid = Path(name).stem
    target = Path(out) / f"{uid}.npz"
    if target.exists():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AudioFormatWarning)
            audio = read_wav(wav_path(Path(folder), name), RATE)
    except AudioFileError as exc:
        return str(exc)
    bounds = speech_bounds(audio, RATE, trim_db)
    if bounds is None:
        return f"{uid}: silent"
    audio = audio[max(0, bounds[0] - RATE // 100) : bounds[1] + RATE // 100]
    if len(audio) > max_s * RATE:
        return f"{uid}: {len(audio) / RATE:.1f} s is longer than {max_s} s (dropped)"
    fe = TextFrontEnd(latin=latin)
    norm = fe.normalize(text)
    ids = fe.ids(norm)
    if not ids:
        return f"{uid}: nothing speakable in {text[:40]!r}"
    peak = max(float(np.abs(audio).max()), 1e-6)
    pcm = np.round(np.clip(audio * (0.95 / peak), -1, 1) * 32767).astype(np.int16)
    tmp = target.with_suffix(".tmp.npz")
    np.savez(tmp, audio=pcm, ids=np.asarray(ids, dtype=np.int16), text=np.asarray(norm))
    tmp.replace(target)
    return None


def prepare_features(folder: Path, out: Path, max_seconds: float = 16.0, trim_db: float = -40.0,
                     latin: str = "drop", workers: int = 2, progress: bool = True) -> list[str]:
    """Preprocess every row of ``folder/metadata.csv`` into ``out`` (resumable); returns the problems met."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = read_metadata(folder)
    jobs = [(str(folder), name, text, str(out), max_seconds, trim_db, latin) for name, text in rows]
    problems = run_jobs(_prepare, jobs, workers, "features", progress)
    (out / "manifest.json").write_text(json.dumps({"source": str(folder), "rows": len(rows), "problems": problems},
                                                  ensure_ascii=False, indent=1), encoding="utf-8")
    return problems


def load_utterances(features: Path, valid_fraction: float, split: str) -> list[Utterance]:
    """The ``train`` or ``valid`` utterances of a features folder, sorted by id."""
    out = []
    for path in sorted(Path(features).glob("*.npz")):
        if path.name.endswith(".tmp.npz") or is_valid(path.stem, valid_fraction) != (split == "valid"):
            continue
        with np.load(path) as z:
            out.append(Utterance(path.stem, z["audio"].astype(np.float32) / 32767.0, z["ids"].astype(np.int64),
                                 str(z["text"])))
    return out
