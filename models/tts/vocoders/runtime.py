"""Vocoder runtime on onnxruntime (no torch): log-mel frames → audio.

A vocoder is ``NAME.onnx`` (input ``mel`` (1, n_mels, frames) [and ``noise`` (1, noise_channels,
frames) for UnivNet] → ``audio`` (1, 1, frames·hop)) next to ``NAME.onnx.json`` whose ``vocoder``
section holds its config (kind, rates, mel settings) and whose ``project.stage`` is ``vocoder``.
Exported by ``python -m training.tts export`` from a vocoder checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.onnx_model import open_onnx_model

MEL_KEYS = ("sample_rate", "hop", "n_fft", "n_mels", "mel_fmax")


class Vocoder:
    """A loaded vocoder. ``error``: the exception type raised for a bad file (the voice runtime passes its own);
    ``seed``: of the noise UnivNet is fed (the same seed gives the same audio; None = different every load)."""

    def __init__(self, path: str | Path, threads: int = 1, error: type[Exception] = ValueError, seed: int | None = 0,
                 description: dict | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise error(f"vocoder model not found: {self.path}")
        if description is None:
            from models.tts.voice import read_json

            description = read_json(self.path.with_name(self.path.name + ".json"), "a vocoder description")
        section = description.get("vocoder")
        if not isinstance(section, dict) or description.get("project", {}).get("stage") != "vocoder":
            raise error(f"{self.path}: not a vocoder exported by this project (its .onnx.json has no 'vocoder' "
                        "section with project.stage 'vocoder')")
        try:
            self.kind = str(section["kind"])
            self.mel = {k: section[k] for k in MEL_KEYS}
            self.noise_channels = int(section.get("noise_channels", 0)) if self.kind == "univnet" else 0
        except (KeyError, TypeError, ValueError) as exc:
            raise error(f"{self.path}: vocoder description lacks {exc}") from None
        self.sample_rate = int(self.mel["sample_rate"])
        self.session, self.metadata = open_onnx_model(self.path, {}, error, "vocoder", threads)
        names = [i.name for i in self.session.get_inputs()]
        want = ["mel", "noise"] if self.noise_channels else ["mel"]
        if names != want:
            raise error(f"{self.path}: inputs {names}, expected {want}")
        self.rng = np.random.default_rng(seed)

    def check_fits(self, mel_settings: dict, error: type[Exception], who: str) -> None:
        """Raise ``error`` when ``mel_settings`` (an acoustic model's) differ from this vocoder's."""
        diff = {k: (mel_settings.get(k), self.mel[k]) for k in MEL_KEYS if mel_settings.get(k) != self.mel[k]}
        if diff:
            raise error(f"{self.path} does not fit {who}: mel settings differ ({', '.join(f'{k}: {a} vs {b}' for k, (a, b) in diff.items())})")

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        """``mel`` (n_mels, frames) or (1, n_mels, frames) → float32 audio (frames·hop,) in [−1, 1]."""
        mel = np.asarray(mel, dtype=np.float32)
        if mel.ndim == 2:
            mel = mel[None]
        feed = {"mel": mel}
        if self.noise_channels:
            feed["noise"] = self.rng.standard_normal((1, self.noise_channels, mel.shape[2])).astype(np.float32)
        out = self.session.run(None, feed)[0]
        return np.clip(out.reshape(-1), -1.0, 1.0).astype(np.float32)
