"""Quantization-aware training (QAT) of a trained VITS: int8 fake quantisation, then an int8 (QDQ) ONNX voice.

Each quantised convolution fake-quantises its weights (int8, symmetric, per output channel) and
its input and output (uint8, per tensor, moving-average ranges) in the forward pass; gradients pass
straight through (torch.ao.quantization's FakeQuantize). Exported with the TorchScript exporter,
every fake quantiser becomes a QuantizeLinear/DequantizeLinear pair, which onnxruntime fuses into
integer convolutions (QLinearConv). ``qat.quantize`` chooses what runs in int8: ``decoder`` (the
HiFi-GAN, where the time goes), ``all`` (every convolution), or ``none`` (a float fine-tune, the
baseline of the comparison). What does not get faster stays in float (DESIGN §9).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.ao.quantization import FakeQuantize, MovingAverageMinMaxObserver, PerChannelMinMaxObserver

from models.tts.vits import Vits, VitsConfig
from models.tts.vits.model import remove_weight_norm
from training.tts.config import TtsTrainingConfig
from training.tts.data import Utterance

log = logging.getLogger(__name__)
SCOPES = ("decoder", "all", "none")


def _act_fq() -> FakeQuantize:
    return FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, dtype=torch.quint8,
                        qscheme=torch.per_tensor_affine, averaging_constant=0.01)


class QuantConv(nn.Module):
    """A Conv1d / ConvTranspose1d with int8 fake quantisation of weights, input and output."""

    def __init__(self, conv: nn.Conv1d | nn.ConvTranspose1d) -> None:
        super().__init__()
        self.conv = conv
        self.transposed = isinstance(conv, nn.ConvTranspose1d)
        self.w_fq = FakeQuantize(observer=PerChannelMinMaxObserver, quant_min=-128, quant_max=127, dtype=torch.qint8,
                                 qscheme=torch.per_channel_symmetric, ch_axis=1 if self.transposed else 0)
        self.in_fq = _act_fq()
        self.out_fq = _act_fq()

        self.frozen = False

    def freeze(self) -> None:
        """Fix the ranges: the forward then calls the fake-quantise functions with constants (what ONNX export needs)."""
        for fq in (self.w_fq, self.in_fq, self.out_fq):
            fq.disable_observer()
        self.frozen = True

    @staticmethod
    def _fixed(fq: FakeQuantize, x: torch.Tensor) -> torch.Tensor:
        return torch.fake_quantize_per_tensor_affine(x, float(fq.scale), int(fq.zero_point), fq.quant_min, fq.quant_max)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        if self.frozen:
            w = torch.fake_quantize_per_channel_affine(c.weight, self.w_fq.scale, self.w_fq.zero_point.int(),
                                                       self.w_fq.ch_axis, self.w_fq.quant_min, self.w_fq.quant_max)
            x = self._fixed(self.in_fq, x)
        else:
            w = self.w_fq(c.weight)
            x = self.in_fq(x)
        if self.transposed:
            y = F.conv_transpose1d(x, w, c.bias, c.stride, c.padding, c.output_padding, c.groups, c.dilation)
        else:
            y = F.conv1d(x, w, c.bias, c.stride, c.padding, c.dilation, c.groups)
        return self._fixed(self.out_fq, y) if self.frozen else self.out_fq(y)


def prepare_qat(model: Vits, scope: str) -> Vits:
    """Fold weight norm and wrap the convolutions of ``scope`` in :class:`QuantConv` (in place); returns ``model``."""
    if scope not in SCOPES:
        raise ValueError(f"qat.quantize must be one of {SCOPES}, got {scope!r}")
    remove_weight_norm(model)
    if scope == "none":
        return model
    root = model.dec if scope == "decoder" else model
    for parent in list(root.modules()):
        for name, child in list(parent.named_children()):
            if type(child) in (nn.Conv1d, nn.ConvTranspose1d) and child.in_channels > 1:
                setattr(parent, name, QuantConv(child))
    return model


def freeze(model: Vits) -> Vits:
    """Stop updating the activation ranges (before export or evaluation)."""
    for m in model.modules():
        if isinstance(m, QuantConv):
            m.freeze()
    return model.eval()


def load_qat_generator(path: Path, scope: str) -> Vits:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model = prepare_qat(Vits(VitsConfig.from_dict(json.loads(ckpt["vits_config"]))), scope)
    model.load_state_dict(ckpt["model"])
    return freeze(model)


def train_qat(cfg: TtsTrainingConfig, checkpoint: Path, train_utts: list[Utterance], valid_utts: list[Utterance],
              progress: bool = True) -> Path:
    """Fine-tune the float voice of ``checkpoint`` with fake quantisation; export ``qat.out_dir/voice_int8.onnx``."""
    from models.tts.vits.export import export_voice
    from training.tts.train import load_generator, train

    q = cfg.qat
    model = prepare_qat(load_generator(checkpoint).train(), q.quantize)
    float_ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    start = int(float_ckpt["step"])
    last = train(cfg, train_utts, valid_utts, progress, model=model, steps=q.steps, out_dir=Path(q.out_dir), lr=q.lr,
                 init_disc=float_ckpt["disc"])
    model = freeze(model)
    name = "voice_int8.onnx" if q.quantize != "none" else "voice_finetuned.onnx"
    return export_voice(model, Path(q.out_dir) / name, {"train_step": start, "qat_steps": q.steps,
                                                        "quantize": q.quantize, "checkpoint": str(last)})
