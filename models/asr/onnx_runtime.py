"""Streaming Paraformer on onnxruntime: the graphs of :mod:`models.asr.onnx_export` and the host's chunk loop.

The host does what FunASR's ``ParaformerStreaming.generate_chunk`` does around the networks, in numpy:
FunASR's own online frontend (fbank, LFR, CMVN: the same features as the torch path), the
streaming position encoding, the overlap of each chunk with the previous chunk's look-ahead, the
look-back caches (append the chunk's keys and values, keep the last ``look_back × chunk`` frames),
the CIF integrate-and-fire loop (float32, step by step as FunASR's), and the tail of the utterance.
The token ids become text with this project's rules (``models.asr.tokens``) — FunASR's ONNX
package rejects Bangla characters — or with FunASR's joining for other token lists.

A folder is usable here when it holds the FunASR files plus ``encoder.onnx``, ``decoder.onnx`` and
``onnx.json`` (``python -m training.asr onnx --model FOLDER``).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from models.asr.onnx_export import DECODER_FILE, ENCODER_FILE, META_FILE, ONNX_FORMAT
from models.asr.paraformer import (
    SAMPLE_RATE,
    AsrModelError,
    Recognizer,
    StreamingOptions,
    check_model_folder,
    feature_hop_samples,
    quiet_funasr,
)
from models.asr.tokens import SPACE

log = logging.getLogger(__name__)


def has_onnx(folder: str | Path) -> bool:
    """Whether ``folder`` holds this project's ONNX export next to the FunASR files."""
    folder = Path(folder)
    return all((folder / n).is_file() for n in (ENCODER_FILE, DECODER_FILE, META_FILE))


def _read_tokens(folder: Path) -> list[str]:
    if (folder / "tokens.json").is_file():
        return list(json.loads((folder / "tokens.json").read_text(encoding="utf-8")))
    return [line.split()[0] for line in (folder / "tokens.txt").read_text(encoding="utf-8").splitlines() if line.strip()]


def position_encoding(start: int, frames: int, depth: int) -> np.ndarray:
    """FunASR's streaming sinusoidal position encoding of positions start+1 … start+frames, (frames, depth) float32."""
    f32 = np.float32
    inc = f32(math.log(10000.0)) / f32(depth / 2 - 1)
    inv = np.exp(np.arange(depth // 2, dtype=f32) * -inc).astype(f32)
    t = np.arange(start + 1, start + frames + 1, dtype=f32)[:, None] * inv[None, :]
    return np.concatenate([np.sin(t), np.cos(t)], axis=1).astype(f32)


def cif_chunk(hidden: np.ndarray, alphas: np.ndarray, threshold: float, state: dict
              ) -> np.ndarray:
    """FunASR's streaming CIF: integrate ``alphas`` (T,) over ``hidden`` (T, D) after the state's carry;
    returns the fired embeddings (L, D) and leaves the remainder in ``state`` (``cif_alpha``, ``cif_hidden``)."""
    f32 = np.float32
    hidden = np.concatenate([state["cif_hidden"][None, :], hidden]).astype(f32)
    alphas = np.concatenate([[state["cif_alpha"]], alphas]).astype(f32)
    thr = f32(threshold)
    integrate = f32(0.0)
    frames = np.zeros(hidden.shape[1], f32)
    fired = []
    for t in range(alphas.shape[0]):
        a = alphas[t]
        if a + integrate < thr:
            integrate = f32(integrate + a)
            frames = frames + a * hidden[t]
        else:
            frames = frames + (thr - integrate) * hidden[t]
            fired.append(frames)
            integrate = f32(integrate + a)
            integrate = f32(integrate - thr)
            frames = integrate * hidden[t]
    state["cif_alpha"] = integrate
    state["cif_hidden"] = (frames / integrate if integrate > 0 else frames).astype(f32)
    return np.stack(fired).astype(f32) if fired else np.zeros((0, hidden.shape[1]), f32)


class OnnxParaformerRecognizer(Recognizer):
    """The streaming Paraformer of a model folder on onnxruntime (same chunks, caches and text as the torch path)."""

    backend = "onnx"

    def __init__(self, model_dir: str | Path, options: StreamingOptions | None = None, threads: int = 1):
        folder = check_model_folder(model_dir)
        if not has_onnx(folder):
            raise AsrModelError(f"{folder} has no ONNX export ({ENCODER_FILE}, {DECODER_FILE}, {META_FILE}); write it "
                                f"with `python -m training.asr onnx --model {folder}` or use asr.backend=torch")
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AsrModelError(f"{folder / META_FILE} is not readable: {exc}") from None
        if meta.get("format") != ONNX_FORMAT:
            raise AsrModelError(f"{folder / META_FILE}: format {meta.get('format')!r}, this runtime reads "
                                f"{ONNX_FORMAT}; re-export with `python -m training.asr onnx --model {folder}`")
        self.model_dir, self.meta = folder, meta
        self.options = options or StreamingOptions()
        import onnxruntime as ort
        import yaml

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        try:
            self.encoder = ort.InferenceSession(str(folder / ENCODER_FILE), so, providers=["CPUExecutionProvider"])
            self.decoder = ort.InferenceSession(str(folder / DECODER_FILE), so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise AsrModelError(f"onnxruntime could not load the graphs in {folder}: {exc}") from None
        self._enc_names = [i.name for i in self.encoder.get_inputs()]
        self._dec_names = [i.name for i in self.decoder.get_inputs()]
        config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
        conf = dict(config.get("frontend_conf") or {})
        if int(conf.get("fs", SAMPLE_RATE)) != SAMPLE_RATE:
            raise AsrModelError(f"{folder}: model expects {conf.get('fs')} Hz audio, the agent runs at {SAMPLE_RATE} Hz")
        self.hop_samples = feature_hop_samples(conf)
        with quiet_funasr():
            import funasr.frontends.wav_frontend  # noqa: F401 (registers the frontends)
            from funasr.register import tables

            frontend_class = tables.frontend_classes.get(config.get("frontend", "WavFrontendOnline"))
            self.frontend = frontend_class(**conf, cmvn_file=str(folder / "am.mvn"))
        self.tokens = _read_tokens(folder)
        self.project_tokens = SPACE in self.tokens
        self._special = {meta["sos"], meta["eos"], meta["blank"]}

    def new_state(self) -> dict:
        m, c = self.meta, self.options.chunk_size
        empty = np.zeros((1, m["heads"], 0, m["d_k"]), np.float32)
        return {
            "frontend": {},
            "start": 0,
            "feats": np.zeros((c[0] + c[2], m["feat_dim"]), np.float32),
            "enc_kv": [empty] * (2 * m["encoder_layers"]),
            "dec_kv": [empty] * (2 * m["decoder_layers"]),
            "fsmn": [np.zeros((1, m["dim"], m["fsmn_history"]), np.float32)] * m["decoder_layers"],
            "cif_alpha": np.float32(0.0),
            "cif_hidden": np.zeros(m["dim"], np.float32),
        }

    def _features(self, state: dict, chunk: np.ndarray, is_final: bool) -> np.ndarray:
        import torch
        from funasr.utils.load_utils import extract_fbank

        with torch.no_grad(), quiet_funasr():
            speech, _ = extract_fbank([torch.from_numpy(chunk.copy())], data_type="sound", frontend=self.frontend,
                                      cache=state["frontend"], is_final=is_final)
        return speech[0].numpy().astype(np.float32)

    def run_chunk(self, state: dict, chunk: np.ndarray, is_final: bool) -> list[str]:
        m, o = self.meta, self.options
        c = o.chunk_size
        scale = np.float32(m["dim"] ** 0.5)
        if is_final and chunk.shape[0] < self.hop_samples:
            # FunASR closes the stream on the cached overlap features (scaled once more, as its encoder does).
            x = state["feats"] * scale
        else:
            feats = self._features(state, chunk, is_final)
            x = feats * scale + position_encoding(state["start"], feats.shape[0], feats.shape[1])
            state["start"] += feats.shape[0]
            x = np.concatenate([state["feats"], x.astype(np.float32)])
            # FunASR's slice, kept as it is: without look-ahead (-0:) the whole chunk stays.
            state["feats"] = x[-(c[0] + c[2]):]
        outs = self.encoder.run(None, dict(zip(self._enc_names, [x[None], *state["enc_kv"]], strict=True)))
        enc, alphas, new_kv = outs[0], outs[1][0].copy(), outs[2:]
        look = o.encoder_chunk_look_back
        if look > 0 or look == -1:
            kept = []
            for old, new in zip(state["enc_kv"], new_kv, strict=True):
                joined = np.concatenate([old, new[:, :, : -c[2]]], axis=2)  # (:-0 is empty, as in FunASR)
                kept.append(joined[:, :, -(look * c[1]):] if look != -1 else joined)
            state["enc_kv"] = kept
        # The predictor's chunk masking and tail, then the CIF (FunASR's CifPredictorV2.forward_chunk).
        alphas[: c[0]] = 0.0
        hidden = enc[0]
        if not is_final:
            alphas[c[0] + c[1]:] = 0.0
        else:
            hidden = np.concatenate([hidden, np.zeros((1, hidden.shape[1]), np.float32)])
            alphas = np.concatenate([alphas, np.array([m["tail_threshold"]], np.float32)])
        embeds = cif_chunk(hidden, alphas, m["cif_threshold"], state)
        if embeds.shape[0] < 1:
            return []
        feeds = [enc, embeds[None], *state["fsmn"], *state["dec_kv"]]
        outs = self.decoder.run(None, dict(zip(self._dec_names, feeds, strict=True)))
        n = m["decoder_layers"]
        ids, state["fsmn"], new_kv = outs[0][0], list(outs[1:1 + n]), outs[1 + n:]
        look = o.decoder_chunk_look_back
        if look > 0:
            state["dec_kv"] = [np.concatenate([old, new], axis=2)[:, :, -(look * c[1]):]
                               for old, new in zip(state["dec_kv"], new_kv, strict=True)]
        return [self.tokens[int(i)] for i in ids if int(i) not in self._special and 0 <= int(i) < len(self.tokens)]


EXPORT_VERSION = "1"


def cached_export(folder: str | Path) -> Path:
    """A folder with ``folder``'s FunASR files and its ONNX export: ``folder`` itself when it has one, otherwise
    ``cache/asr_onnx/<key>`` (made once, about 15 s for the shipped model; the key changes with the files)."""
    import hashlib
    import os
    import shutil
    import tempfile

    from models.cache import project_cache

    folder = check_model_folder(folder)
    if has_onnx(folder):
        return folder
    h = hashlib.sha256(f"{EXPORT_VERSION}\n{ONNX_FORMAT}\n".encode())
    for f in sorted(p for p in folder.iterdir() if p.is_file()):
        st = f.stat()
        h.update(f"{f.resolve()}\n{st.st_size}\n{st.st_mtime_ns}\n".encode())
    final = project_cache("asr_onnx") / h.hexdigest()[:16]
    if has_onnx(final):
        return final
    from models.asr.onnx_export import write_onnx

    log.info("exporting the ASR model %s to ONNX once (into %s)", folder, final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=final.parent))
    try:
        write_onnx(folder, tmp)
        try:
            os.replace(tmp, final)
        except OSError:  # another process finished the same export first
            if not has_onnx(final):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
