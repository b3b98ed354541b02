"""Coqui and MMS checkpoints → a project voice (ONNX + JSON), converted once and cached.

The first load of a checkpoint maps its weights into the project's VITS, exports it (the same export
as the project's own voices, compared with torch: refused above 1e-2, a warning above 1e-4) and stores it in
``$DUPLEX_AGENT_CACHE/voices/`` (default: ``cache/voices/`` in the repository). Later loads find it
by a key made of the kind, the converter version and the name, size and modification time of every
source file, so an edited checkpoint is converted again, and then run as fast as the project's own voice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from models.cache import project_cache
from models.tts.voice import VoiceError

log = logging.getLogger(__name__)

CONVERTER_VERSION = "1"
MAX_DIFFERENCE = 1e-2  # |torch − onnx| above this is a broken export (refused)
WARN_DIFFERENCE = 1e-4  # above this (−80 dB re full scale) the conversion says so; trained voices show ~1e-7


def cache_root() -> Path:
    """Where converted voices are kept: ``$DUPLEX_AGENT_CACHE/voices`` or ``cache/voices`` in the repository."""
    return project_cache("voices")


def source_files(kind: str, path: Path) -> list[Path]:
    """The files a conversion reads (their stamps make the cache key)."""
    path = Path(path)
    if path.is_file():
        cfg = path.parent / "config.json"
        return sorted({path} | ({cfg} if cfg.is_file() else set()))
    if not path.is_dir():
        raise VoiceError(f"{kind} voice not found: {path}")
    return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))


def cache_key(kind: str, path: Path) -> str:
    h = hashlib.sha256(f"{kind}\n{CONVERTER_VERSION}\n".encode())
    for f in source_files(kind, path):
        st = f.stat()
        h.update(f"{f.resolve()}\n{st.st_size}\n{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _load(kind: str, path: Path):  # noqa: ANN202 (model, tokens, settings)
    if kind == "coqui":
        from models.tts.voices import coqui

        return coqui.load(path)
    if kind == "mms":
        from models.tts.voices import mms

        return mms.load(path)
    raise VoiceError(f"no converter for voices of kind {kind!r} (coqui, mms)")


def convert(kind: str, path: Path, out: Path) -> float:
    """Convert the ``kind`` checkpoint at ``path`` to the project voice ``out`` (.onnx + .onnx.json); returns the
    largest |torch − onnxruntime| on a check sentence.

    Raises :class:`VoiceError` when the checkpoint does not fit or the export differs from torch by more than
    :data:`MAX_DIFFERENCE`."""
    from models.tts.vits.export import export_voice, max_difference

    model, tokens, settings = _load(kind, Path(path))
    with warnings.catch_warnings():  # the exporter's notes on constant folding are not the user's concern
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        export_voice(model, Path(out), {"source": str(path), "source_format": kind}, quality=kind,
                     tokens=tokens, settings=settings)
    diff = max_difference(model, Path(out))
    if not diff <= MAX_DIFFERENCE:
        raise VoiceError(f"{path}: the exported voice differs from torch by {diff:.2e} (> {MAX_DIFFERENCE})")
    if diff > WARN_DIFFERENCE:
        log.warning("%s: the exported voice differs from torch by %.1e (numerics of a high-gain network; "
                    "inaudible below 1e-2)", path, diff)
    return diff


def converted_voice(kind: str, path: Path, cache: Path | None = None) -> Path:
    """The cached project voice for a ``kind`` (coqui, mms) checkpoint, converting it on the first call."""
    root = cache or cache_root()
    final = root / f"{kind}-{cache_key(kind, path)}"
    onnx = final / "voice.onnx"
    if onnx.is_file() and onnx.with_name("voice.onnx.json").is_file():
        return onnx
    root.mkdir(parents=True, exist_ok=True)
    log.warning("converting the %s voice %s to a project voice (once; cached in %s)", kind, path, final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=root))
    t0 = time.perf_counter()
    try:
        diff = convert(kind, path, tmp / "voice.onnx")
        try:
            os.replace(tmp, final)
        except OSError:  # another process converted it meanwhile
            if not onnx.is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.warning("converted in %.1f s (max |torch - onnx| %.1e): %s", time.perf_counter() - t0, diff, onnx)
    return onnx
