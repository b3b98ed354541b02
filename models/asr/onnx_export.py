"""ONNX export of a streaming Paraformer with explicit caches: ``encoder.onnx`` and ``decoder.onnx``.

FunASR's own export (``AutoModel.export``) writes an encoder without its look-back caches, so its
ONNX runtime re-encodes overlapping features and gives other text than the torch streaming mode.
These graphs run the *same* chunk step as ``ParaformerStreaming.generate_chunk`` with every cache an
input and an output, built from the model's own FunASR modules (their weights and sub-layers), and
exported with the TorchScript exporter (``dynamo=False``):

- ``encoder.onnx``: ``x`` (1, T, feat_dim) — the chunk's features after the position encoding and
  the overlap with the previous chunk (the host does both, :mod:`models.asr.onnx_runtime`) — and
  per layer ``enc_k{i}``, ``enc_v{i}`` (1, heads, C, d_k), the look-back keys and values (C = 0 at
  the start) → ``enc`` (1, T, dim), ``alphas`` (1, T) (the CIF weights before the chunk's masking),
  and ``k{i}``, ``v{i}`` of this chunk (the host appends them to the caches and trims them).
- ``decoder.onnx``: ``enc`` (1, T, dim), ``embeds`` (1, L, dim) — the CIF's acoustic embeddings —,
  per attention layer ``fsmn{i}`` (1, dim, kernel − 1) (the FSMN memory of earlier tokens, zeros at
  the start) and ``dec_k{i}``, ``dec_v{i}`` (1, heads, C, d_k) (cross-attention look-back) →
  ``ids`` (1, L) (argmax tokens), ``fsmn_out{i}``, and ``k{i}``, ``v{i}`` of this chunk's encoder output.

The CIF integrate-and-fire loop and the chunk bookkeeping stay on the host in numpy (float32, as
FunASR's loop). Chunk size and look-backs are therefore free at run time.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

ONNX_FORMAT = 1
ENCODER_FILE, DECODER_FILE, META_FILE = "encoder.onnx", "decoder.onnx", "onnx.json"


class UnsupportedForOnnx(ValueError):
    """The model's configuration uses a FunASR feature this export does not cover."""


class _EncoderStep(nn.Module):
    """One chunk through the SANM chunk encoder and the CIF's weight layers (see the module doc)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        enc = model.encoder
        self.layers = nn.ModuleList([*enc.encoders0, *enc.encoders])
        for layer in self.layers:
            if not layer.normalize_before or layer.concat_after:
                raise UnsupportedForOnnx("encoder layers with normalize_before=false or concat_after=true")
        if not enc.normalize_before:
            raise UnsupportedForOnnx("encoder with normalize_before=false")
        self.after_norm = enc.after_norm
        self.predictor = model.predictor

    def forward(self, x: torch.Tensor, *caches: torch.Tensor) -> tuple[torch.Tensor, ...]:
        new: list[torch.Tensor] = []
        for i, layer in enumerate(self.layers):
            attn = layer.self_attn
            residual = x
            h = layer.norm1(x)
            q_h, k_h, v_h, v = attn.forward_qkv(h)
            new += [k_h, v_h]
            k_all = torch.cat((caches[2 * i], k_h), dim=2)
            v_all = torch.cat((caches[2 * i + 1], v_h), dim=2)
            fsmn = attn.forward_fsmn(v, None)
            scores = torch.matmul(q_h * attn.d_k ** (-0.5), k_all.transpose(-2, -1))
            out = attn.forward_attention(v_all, scores, None) + fsmn
            x = residual + out if layer.in_size == layer.size else out
            x = x + layer.feed_forward(layer.norm2(x))
        x = self.after_norm(x)
        p = self.predictor
        hidden = torch.relu(p.cif_conv1d(p.pad(x.transpose(1, 2)))).transpose(1, 2)
        alphas = torch.sigmoid(p.cif_output(hidden))
        alphas = torch.relu(alphas * p.smooth_factor - p.noise_threshold).squeeze(-1)
        return (x, alphas, *new)


class _DecoderStep(nn.Module):
    """One chunk's tokens through the SANM decoder with FSMN and cross-attention caches."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        dec = model.decoder
        if getattr(dec, "decoders2", None) is not None:
            raise UnsupportedForOnnx("decoders with FSMN-only blocks (num_blocks > att_layer_num + 1)")
        self.layers = nn.ModuleList(list(dec.decoders))
        for layer in self.layers:
            sa = layer.self_attn
            left, right = sa.pad_fn.padding
            if right != 0 or left != sa.kernel_size - 1:
                raise UnsupportedForOnnx("decoder FSMN with right context (sanm_shfit != (kernel_size - 1) / 2)")
            if not layer.normalize_before or layer.src_attn is None:
                raise UnsupportedForOnnx("decoder layers without normalize_before or cross-attention")
        self.tail = nn.ModuleList(list(dec.decoders3))
        self.after_norm = dec.after_norm if dec.normalize_before else None
        self.output_layer = dec.output_layer
        self.history = self.layers[0].self_attn.kernel_size - 1 if len(self.layers) else 0

    def forward(self, enc: torch.Tensor, embeds: torch.Tensor, *caches: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n = len(self.layers)
        fsmn_in, kv = caches[:n], caches[n:]
        fsmn_out: list[torch.Tensor] = []
        new_kv: list[torch.Tensor] = []
        x = embeds
        for i, layer in enumerate(self.layers):
            residual = x
            tgt = layer.feed_forward(layer.norm1(x))
            sa = layer.self_attn
            h = layer.norm2(tgt)
            joined = torch.cat((fsmn_in[i], h.transpose(1, 2)), dim=2)
            fsmn_out.append(joined[:, :, -self.history :])
            x = residual + sa.fsmn_block(joined).transpose(1, 2) + h
            residual = x
            ca = layer.src_attn
            q_h, k_h, v_h = ca.forward_qkv(layer.norm3(x), enc)
            new_kv += [k_h, v_h]
            k_all = torch.cat((kv[2 * i], k_h), dim=2)
            v_all = torch.cat((kv[2 * i + 1], v_h), dim=2)
            scores = torch.matmul(q_h * ca.d_k ** (-0.5), k_all.transpose(-2, -1))
            x = residual + ca.forward_attention(v_all, scores, None)
        for layer in self.tail:
            x = layer.feed_forward(layer.norm1(x))
        if self.after_norm is not None:
            x = self.after_norm(x)
        logits = self.output_layer(x)
        return (logits.argmax(dim=-1), *fsmn_out, *new_kv)


def _dims(model: nn.Module) -> dict:
    enc_layer = model.encoder.encoders[0].self_attn if len(model.encoder.encoders) else model.encoder.encoders0[0].self_attn
    dec_layers = list(model.decoder.decoders)
    return {
        "encoder_layers": len(model.encoder.encoders0) + len(model.encoder.encoders),
        "decoder_layers": len(dec_layers),
        "dim": int(model.encoder.output_size()),
        "heads": int(enc_layer.h),
        "d_k": int(enc_layer.d_k),
        "feat_dim": int(model.encoder.encoders0[0].in_size),
        "fsmn_history": int(dec_layers[0].self_attn.kernel_size - 1) if dec_layers else 0,
        "cif_threshold": float(model.predictor.threshold),
        "tail_threshold": float(model.predictor.tail_threshold),
        "sos": int(model.sos), "eos": int(model.eos), "blank": int(model.blank_id),
    }


def export_streaming_onnx(model: nn.Module, out_dir: str | Path, source: str = "", opset: int = 17) -> dict:
    """Write ``encoder.onnx``, ``decoder.onnx`` and ``onnx.json`` (dimensions, format) for a FunASR
    ``ParaformerStreaming`` in eval mode; returns the metadata. Raises :class:`UnsupportedForOnnx`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval().float()
    d = _dims(model)
    enc_step, dec_step = _EncoderStep(model).eval(), _DecoderStep(model).eval()
    h, dk, dim = d["heads"], d["d_k"], d["dim"]
    ne, nd = d["encoder_layers"], d["decoder_layers"]

    def kv(prefix: str, n: int, length: int) -> tuple[list[str], list[torch.Tensor]]:
        names = [f"{prefix}_{kind}{i}" for i in range(n) for kind in ("k", "v")]
        return names, [torch.randn(1, h, length, dk) for _ in names]

    enc_cache_names, enc_caches = kv("enc", ne, 20)
    enc_out_names = ["enc", "alphas", *[f"{kind}{i}" for i in range(ne) for kind in ("k", "v")]]
    axes = {"x": {1: "frames"}, "enc": {1: "frames"}, "alphas": {1: "frames"}}
    axes.update({n: {2: "cache"} for n in enc_cache_names})
    axes.update({n: {2: "frames"} for n in enc_out_names[2:]})
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and constant-folding notes
        torch.onnx.export(enc_step, (torch.randn(1, 15, d["feat_dim"]), *enc_caches), str(out / ENCODER_FILE),
                          input_names=["x", *enc_cache_names], output_names=enc_out_names, dynamic_axes=axes,
                          opset_version=opset, do_constant_folding=True, dynamo=False)
        fsmn_names = [f"fsmn{i}" for i in range(nd)]
        dec_cache_names, dec_caches = kv("dec", nd, 10)
        dec_out_names = ["ids", *[f"fsmn_out{i}" for i in range(nd)],
                         *[f"{kind}{i}" for i in range(nd) for kind in ("k", "v")]]
        axes = {"enc": {1: "frames"}, "embeds": {1: "tokens"}, "ids": {1: "tokens"}}
        axes.update({n: {2: "cache"} for n in dec_cache_names})
        axes.update({n: {2: "frames"} for n in dec_out_names[1 + nd:]})
        fsmn = [torch.randn(1, dim, d["fsmn_history"]) for _ in range(nd)]
        torch.onnx.export(dec_step, (torch.randn(1, 15, dim), torch.randn(1, 3, dim), *fsmn, *dec_caches),
                          str(out / DECODER_FILE), input_names=["enc", "embeds", *fsmn_names, *dec_cache_names],
                          output_names=dec_out_names, dynamic_axes=axes, opset_version=opset,
                          do_constant_folding=True, dynamo=False)
    meta = {"format": ONNX_FORMAT, "source": source, **d,
            "encoder": ENCODER_FILE, "decoder": DECODER_FILE, "opset": opset}
    (out / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return meta


def write_onnx(folder: str | Path, out: str | Path | None = None, check_seconds: float = 4.0) -> dict:
    """Export the streaming Paraformer of a FunASR model ``folder`` into ``out`` (default: the folder itself; a
    different ``out`` gets a copy of the FunASR files too, so it is a complete folder), then check that
    onnxruntime and torch give the same tokens on ``check_seconds`` of a fixed test signal. Returns the metadata
    (with ``check_tokens``, the number of tokens compared). Raises ``ValueError`` when the two disagree."""
    import shutil

    import numpy as np

    from models.asr.onnx_runtime import OnnxParaformerRecognizer
    from models.asr.paraformer import ParaformerRecognizer, check_model_folder

    src = check_model_folder(folder)
    dst = Path(out) if out is not None else src
    if dst.resolve() != src.resolve():
        dst.mkdir(parents=True, exist_ok=True)
        for p in src.iterdir():
            if p.is_file() and p.name not in (ENCODER_FILE, DECODER_FILE, META_FILE):
                shutil.copy2(p, dst / p.name)
    torch_rec = ParaformerRecognizer(dst)
    meta = export_streaming_onnx(torch_rec.model, dst, source=str(src))
    rng = np.random.default_rng(0)
    n = int(check_seconds * 16000)
    t = np.arange(n) / 16000
    audio = (0.1 * np.sin(2 * np.pi * (200 + 150 * np.sin(2 * np.pi * 0.7 * t)) * t)
             + 0.05 * rng.standard_normal(n)).astype(np.float32)
    ours = OnnxParaformerRecognizer(dst)
    a, b = torch_rec.stream(), ours.stream()
    a.accept(audio), b.accept(audio)
    a.finish(), b.finish()
    if a.tokens != b.tokens:
        pairs = zip(a.tokens, b.tokens, strict=False)
        first = next((i for i, (x, y) in enumerate(pairs) if x != y), min(len(a.tokens), len(b.tokens)))
        raise ValueError(f"the ONNX graphs in {dst} disagree with torch on the check signal: "
                         f"{len(a.tokens)} vs {len(b.tokens)} tokens, first difference at token {first}")
    meta["check_tokens"] = len(a.tokens)
    (dst / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return meta
