"""Vocoder training loop (HiFi-GAN or UnivNet), resumable, with audio samples.

Each step takes ``batch`` random segments of ``segment_frames`` mel frames and their audio. The mels
are the recordings' own (copy synthesis), or, with ``train.acoustic_checkpoint``, AlignTTS's mels
decoded with the durations of its alignment to the recording (fine-tuning on the acoustic model's
output, as both papers do). Losses: HiFi-GAN — least-squares GAN + 2 × feature matching + ``c_mel`` ×
mel L1 (multi-period + multi-scale discriminators); UnivNet — least-squares GAN + ``c_stft`` ×
multi-resolution STFT loss (multi-period + multi-resolution spectrogram discriminators). Before
``adversarial_from`` only the reconstruction loss trains. Every checkpoint writes
``samples/step_NNNNNN.wav`` (copy synthesis of the first held-out utterance, or of the first one when none is held out) and a ``valid.jsonl`` row
(mel L1 of copy synthesis on held-out utterances).
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from audio_io.wav import write_wav
from models.tts.aligntts.model import teacher_forced_mel
from models.tts.vocoders.config import (
    UnivNetConfig,
    config_from_dict,
    config_to_dict,
    size_config,
    vocoder_from_config,
)
from training.common.loop import LossLog, append_valid, load_model_checkpoint, save_atomic, truncate_logs
from training.tts.audio import HOP, mel_of_audio
from training.tts.config import VocoderTrainingConfig
from training.tts.data import RATE, Utterance
from training.tts.discriminators import Discriminator
from training.tts.losses import discriminator_loss, feature_loss, generator_loss, stft_loss
from training.tts.train import batches, collate

log = logging.getLogger(__name__)
LOG_KEYS = ("loss_d", "loss_g", "mel", "stft", "fm", "adv", "lr")
VALID_UTTERANCES = 8


def run_dir(cfg: VocoderTrainingConfig) -> Path:
    return Path(cfg.train.out_dir.replace("{kind}", cfg.model.kind))


def load_vocoder(path: Path) -> torch.nn.Module:
    """The generator of a vocoder training checkpoint (``weights_only``)."""
    return load_model_checkpoint(path, "vocoder_config", lambda c: vocoder_from_config(config_from_dict(c)),
                                 "a vocoder")


def noise_for(model: torch.nn.Module, mel: torch.Tensor) -> torch.Tensor | None:
    c = model.config
    return torch.randn(mel.shape[0], c.noise_channels, mel.shape[2]) if isinstance(c, UnivNetConfig) else None


def segments(group: list[Utterance], frames: int, rng: random.Random, acoustic: torch.nn.Module | None
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (mel (B, 80, frames), audio (B, 1, frames·hop)) segments of the utterances (zero-padded when short)."""
    b = collate(group)
    mel = mel_of_audio(b["audio"])[:, :, : int(b["frames"].max())]
    if acoustic is not None:
        mel = teacher_forced_mel(acoustic, b["ids"], b["id_lengths"], mel, b["frames"])
    mel = F.pad(mel, (0, frames), value=float(np.log(1e-5)))
    audio = F.pad(b["audio"], (0, frames * HOP))
    mels, audios = [], []
    for i, n in enumerate(b["frames"].tolist()):
        s = rng.randint(0, max(0, n - frames))
        mels.append(mel[i, :, s : s + frames])
        audios.append(audio[i, s * HOP : (s + frames) * HOP])
    return torch.stack(mels), torch.stack(audios).unsqueeze(1)


def validate(model: torch.nn.Module, utts: list[Utterance]) -> dict[str, float]:
    """Mel L1 of copy synthesis (whole held-out utterances)."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for u in utts:
            audio = torch.from_numpy(u.audio[: len(u.audio) // HOP * HOP]).unsqueeze(0)
            mel = mel_of_audio(audio)
            fake = model(mel, noise_for(model, mel)).squeeze(1)
            total += F.l1_loss(mel_of_audio(fake), mel).item()
    model.train()
    return {"mel_l1": total / max(len(utts), 1)}


def write_sample(model: torch.nn.Module, utt: Utterance, path: Path) -> None:
    model.eval()
    with torch.no_grad():
        mel = mel_of_audio(torch.from_numpy(utt.audio[: len(utt.audio) // HOP * HOP]).unsqueeze(0))
        audio = model(mel, noise_for(model, mel))[0, 0].numpy()
    model.train()
    write_wav(path, audio, RATE)


def train_vocoder(cfg: VocoderTrainingConfig, train_utts: list[Utterance], valid_utts: list[Utterance],
                  progress: bool = True) -> Path:
    """Train (or resume) and return the path of the last checkpoint."""
    t, kind = cfg.train, cfg.model.kind
    if not train_utts:
        raise ValueError("no training utterances")
    torch.set_num_threads(t.threads)
    torch.manual_seed(t.seed)
    out = run_dir(cfg)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    model = vocoder_from_config(size_config(kind, cfg.model.size))
    disc = Discriminator(cfg.model.discriminator_width, kind)
    kw = {"lr": t.lr, "betas": (0.8, 0.99), "eps": 1e-9, "weight_decay": 0.0}
    opt_g, opt_d = torch.optim.AdamW(model.parameters(), **kw), torch.optim.AdamW(disc.parameters(), **kw)
    acoustic = None
    if t.acoustic_checkpoint:
        from training.tts.aligntts_train import load_aligntts, usable

        acoustic = load_aligntts(Path(t.acoustic_checkpoint))
        train_utts, valid_utts = usable(train_utts), usable(valid_utts)
    ckpt_path = out / "checkpoint.pt"
    step = 0
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        model.load_state_dict(ckpt["model"])
        disc.load_state_dict(ckpt["disc"])
        opt_g.load_state_dict(ckpt["opt_g"])
        opt_d.load_state_dict(ckpt["opt_d"])
        step = int(ckpt["step"])
        truncate_logs(out, step)
        log.info("resuming from step %d", step)
    losses_log = LossLog(out, LOG_KEYS, resumed=step > 0)
    valid = valid_utts[:VALID_UTTERANCES]
    sample = (valid_utts or train_utts)[0]
    rng = random.Random(t.seed * 1000 + step)
    model.train()
    disc.train()
    bar = tqdm(total=t.steps, initial=step, desc=kind, disable=not progress, unit="step")
    while step < t.steps:
        for group in batches(train_utts, t.batch, rng):
            if step >= t.steps:
                break
            lr = t.lr * t.lr_decay**step
            for opt in (opt_g, opt_d):
                for g in opt.param_groups:
                    g["lr"] = lr
            mel, real = segments(group, t.segment_frames, rng, acoustic)
            losses_log.add(step_losses(model, disc, opt_g, opt_d, mel, real, cfg, step >= t.adversarial_from), step)
            step += 1
            bar.update()
            if step % t.log_every == 0 or step == t.steps:
                bar.set_postfix(mel=f"{losses_log.write(step, lr=lr)['mel']:.3f}")
            if step % t.checkpoint_every == 0 or step == t.steps:
                metrics = validate(model, valid) if valid else {}
                append_valid(out, step, metrics)
                save_atomic({"model": model.state_dict(), "disc": disc.state_dict(), "opt_g": opt_g.state_dict(),
                             "opt_d": opt_d.state_dict(), "step": step, "kind": "vocoder",
                             "vocoder_config": json.dumps(config_to_dict(model.config)),
                             "metrics": json.dumps(metrics)}, ckpt_path)
                write_sample(model, sample, out / "samples" / f"step_{step:06d}.wav")
    bar.close()
    return ckpt_path


def step_losses(model: torch.nn.Module, disc: Discriminator, opt_g: torch.optim.Optimizer,
                opt_d: torch.optim.Optimizer, mel: torch.Tensor, real: torch.Tensor, cfg: VocoderTrainingConfig,
                adversarial: bool) -> dict[str, float]:
    """One generator update (and one discriminator update when ``adversarial``); returns the losses."""
    t = cfg.train
    fake = model(mel, noise_for(model, mel))
    out = {"loss_d": 0.0, "fm": 0.0, "adv": 0.0}
    if adversarial:
        r, f, _, _ = disc(real, fake.detach())
        loss_d = discriminator_loss(r, f)
        opt_d.zero_grad()
        loss_d.backward()
        torch.nn.utils.clip_grad_norm_(disc.parameters(), t.grad_clip)
        opt_d.step()
        out["loss_d"] = loss_d.item()
    mel_l1 = F.l1_loss(mel_of_audio(fake.squeeze(1)), mel_of_audio(real.squeeze(1)))
    if cfg.model.kind == "univnet":
        stft = stft_loss(real, fake)
        loss_g = t.c_stft * stft
        out["stft"] = stft.item()
    else:
        loss_g = t.c_mel * mel_l1
    if adversarial:
        _, f, feat_r, feat_f = disc(real, fake)
        adv = generator_loss(f)
        fm = feature_loss(feat_r, feat_f) if cfg.model.kind == "hifigan" else torch.zeros(())
        loss_g = loss_g + adv + fm
        out.update(adv=adv.item(), fm=fm.item())
    opt_g.zero_grad()
    loss_g.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
    opt_g.step()
    return out | {"loss_g": loss_g.item(), "mel": mel_l1.item()}
