"""AlignTTS training loop, resumable: the mix density network learns the alignment first, then the whole model.

Phase 1 (``align_steps``): encoder + mix density network on the alignment loss (negative log-likelihood
of the mel frames summed over all monotonic alignments, the forward algorithm). Phase 2: the decoder
learns the mels through the length regulator with the best alignment's durations (Viterbi), the
alignment loss goes on, and the duration predictor learns those durations (on a detached encoder
output). Checkpoints (``checkpoint.pt``, weights only) every ``checkpoint_every`` steps, with a
validation row in ``valid.jsonl``: mel L1 with the aligned durations, alignment loss, duration error.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import torch
from tqdm import tqdm

from models.tts.aligntts import AlignTts, AlignTtsConfig, size_config
from training.common.loop import (
    LossLog,
    append_valid,
    cosine_lr,
    load_model_checkpoint,
    save_atomic,
    truncate_logs,
)
from training.tts.audio import mel_of_audio
from training.tts.config import AlignTtsTrainingConfig
from training.tts.data import Utterance
from training.tts.train import batches, collate

log = logging.getLogger(__name__)
LOG_KEYS = ("loss", "align", "mel", "dur", "lr")


def usable(utts: list[Utterance]) -> list[Utterance]:
    """Utterances with at least one mel frame per symbol (a monotonic alignment needs it)."""
    return [u for u in utts if len(u.audio) // 256 >= len(u.ids)]


def mel_batch(group: list[Utterance]) -> dict[str, torch.Tensor]:
    """Collated ids and the log-mel targets (B, 80, frames)."""
    b = collate(group)
    b["mel"] = mel_of_audio(b["audio"])[:, :, : int(b["frames"].max())]
    return b


def load_aligntts(path: Path) -> AlignTts:
    """The model of a training checkpoint (``weights_only``)."""
    return load_model_checkpoint(path, "aligntts_config", lambda c: AlignTts(AlignTtsConfig.from_dict(c)),
                                 "an AlignTTS")


def losses(model: AlignTts, b: dict[str, torch.Tensor], decode: bool, cfg: AlignTtsTrainingConfig
           ) -> dict[str, torch.Tensor]:
    out = model(b["ids"], b["id_lengths"], b["mel"], b["frames"], decode=decode)
    t = cfg.train
    if decode:
        loss = out["mel_l1"] + t.c_align * out["align_nll"] + t.c_dur * out["dur"]
    else:
        loss = out["align_nll"] + t.c_dur * out["dur"]
    return {"loss": loss, "align": out["align_nll"], "mel": out.get("mel_l1", torch.zeros(())), "dur": out["dur"]}


def validate(model: AlignTts, utts: list[Utterance], batch: int) -> dict[str, float]:
    """Mean losses on held-out utterances (aligned durations) and the mean |predicted − aligned| frames per symbol."""
    model.eval()
    sums = {"align": 0.0, "mel": 0.0, "dur_frames": 0.0}
    n = 0
    with torch.no_grad():
        for i in range(0, len(utts), batch):
            b = mel_batch(utts[i : i + batch])
            out = model(b["ids"], b["id_lengths"], b["mel"], b["frames"])
            chars = out["durations"] > 0
            k = len(b["ids"])
            sums["align"] += out["align_nll"].item() * k
            sums["mel"] += out["mel_l1"].item() * k
            sums["dur_frames"] += torch.abs(torch.exp(out["logd"]) - out["durations"])[chars].mean().item() * k
            n += k
    model.train()
    return {k: v / max(n, 1) for k, v in sums.items()}


def train_aligntts(cfg: AlignTtsTrainingConfig, train_utts: list[Utterance], valid_utts: list[Utterance],
                   progress: bool = True) -> Path:
    """Train (or resume) and return the path of the last checkpoint."""
    t = cfg.train
    train_utts, valid_utts = usable(train_utts), usable(valid_utts)
    if not train_utts:
        raise ValueError("no training utterances (with at least one mel frame per symbol)")
    torch.set_num_threads(t.threads)
    torch.manual_seed(t.seed)
    out = Path(t.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = AlignTts(size_config(cfg.model.size))
    opt = torch.optim.Adam(model.parameters(), lr=t.lr, betas=(0.9, 0.98), eps=1e-9)
    ckpt_path = out / "checkpoint.pt"
    step = 0
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        step = int(ckpt["step"])
        truncate_logs(out, step)
        log.info("resuming from step %d", step)
    losses_log = LossLog(out, LOG_KEYS, resumed=step > 0)
    rng = random.Random(t.seed * 1000 + step)
    model.train()
    bar = tqdm(total=t.steps, initial=step, desc="aligntts", disable=not progress, unit="step")
    while step < t.steps:
        for group in batches(train_utts, t.batch, rng):
            if step >= t.steps:
                break
            lr = t.lr * min(1.0, (step + 1) / max(t.warmup, 1)) if step < t.warmup else cosine_lr(
                step - t.warmup, t.steps - t.warmup, t.lr, t.lr_final)
            for g in opt.param_groups:
                g["lr"] = lr
            parts = losses(model, mel_batch(group), step >= t.align_steps, cfg)
            opt.zero_grad()
            parts["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
            opt.step()
            losses_log.add({k: v.item() for k, v in parts.items()}, step)
            step += 1
            bar.update()
            if step % t.log_every == 0 or step == t.steps:
                row = losses_log.write(step, lr=lr)
                bar.set_postfix(align=f"{row['align']:.3f}", mel=f"{row['mel']:.3f}")
            if step % t.checkpoint_every == 0 or step == t.steps:
                metrics = validate(model, valid_utts, t.batch) if valid_utts else {}
                append_valid(out, step, metrics)
                save_atomic({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "kind": "aligntts",
                             "aligntts_config": json.dumps(model.config.to_dict()),
                             "metrics": json.dumps(metrics)}, ckpt_path)
    bar.close()
    return ckpt_path
