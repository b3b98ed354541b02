"""VITS training loop (generator + discriminators, AdamW as in the paper), resumable, with audio samples.

Checkpoints (``checkpoint.pt``, every ``checkpoint_every`` steps; weights only, read with
``weights_only=True``) hold the generator, discriminator, both optimisers and the step. Every
checkpoint also writes ``samples/step_NNNNNN.wav``: the first held-out sentence synthesised from text.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from audio_io.wav import write_wav
from models.tts.vits import Vits, VitsConfig, size_config
from models.tts.vits.model import slice_segments
from training.common.loop import LossLog, load_model_checkpoint, save_atomic, truncate_logs
from training.tts.audio import HOP, linear_spectrogram, mel_of_audio
from training.tts.config import TtsTrainingConfig
from training.tts.data import RATE, Utterance
from training.tts.discriminators import Discriminator
from training.tts.losses import discriminator_loss, feature_loss, generator_loss, kl_loss

log = logging.getLogger(__name__)
LOG_KEYS = ("loss_d", "loss_g", "mel", "kl", "dur", "fm", "adv", "lr")


def collate(batch: list[Utterance]) -> dict[str, torch.Tensor]:
    """Pad symbol ids and audio; audio is cut to whole hops so that spectrogram frames and samples agree."""
    n_ids = max(len(u.ids) for u in batch)
    n_frames = max(len(u.audio) // HOP for u in batch)
    ids = torch.zeros(len(batch), n_ids, dtype=torch.long)
    audio = torch.zeros(len(batch), n_frames * HOP)
    id_len, frames = [], []
    for i, u in enumerate(batch):
        ids[i, : len(u.ids)] = torch.from_numpy(u.ids)
        f = len(u.audio) // HOP
        audio[i, : f * HOP] = torch.from_numpy(u.audio[: f * HOP])
        id_len.append(len(u.ids))
        frames.append(f)
    return {"ids": ids, "id_lengths": torch.tensor(id_len), "audio": audio, "frames": torch.tensor(frames)}


def batches(utts: list[Utterance], batch: int, rng: random.Random) -> list[list[Utterance]]:
    """Length-sorted buckets of ``batch`` utterances, in random order (less padding than random batches)."""
    order = sorted(utts, key=lambda u: len(u.audio) + rng.random() * RATE)
    groups = [order[i : i + batch] for i in range(0, len(order), batch)]
    rng.shuffle(groups)
    return groups


def load_generator(path: Path) -> Vits:
    """The generator of a training checkpoint (``weights_only``), with its config."""
    return load_model_checkpoint(path, "vits_config", lambda c: Vits(VitsConfig.from_dict(c)), "a VITS")


def train_step(model: Vits, disc: Discriminator, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
               b: dict[str, torch.Tensor], cfg: TtsTrainingConfig) -> dict[str, float]:
    """One generator and one discriminator update; returns the losses."""
    t = cfg.train
    spec = linear_spectrogram(b["audio"])[:, :, : b["frames"].max()]
    out = model(b["ids"], b["id_lengths"], spec, b["frames"], t.segment_frames)
    real = slice_segments(F.pad(b["audio"], [0, t.segment_frames * HOP]).unsqueeze(1), out["starts"] * HOP,
                          t.segment_frames * HOP)
    fake = out["audio"]

    r, f, _, _ = disc(real, fake.detach())
    loss_d = discriminator_loss(r, f)
    opt_d.zero_grad()
    loss_d.backward()
    torch.nn.utils.clip_grad_norm_(disc.parameters(), t.grad_clip)
    opt_d.step()

    _, f, feat_r, feat_f = disc(real, fake)
    mel = F.l1_loss(mel_of_audio(fake.squeeze(1)), mel_of_audio(real.squeeze(1)))
    kl = kl_loss(out["z_p"], out["logs_q"], out["m_p"], out["logs_p"], out["y_mask"])
    fm, adv = feature_loss(feat_r, feat_f), generator_loss(f)
    loss_g = adv + fm + t.c_mel * mel + t.c_kl * kl + out["l_dur"]
    opt_g.zero_grad()
    loss_g.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
    opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "mel": mel.item(), "kl": kl.item(),
            "dur": out["l_dur"].item(), "fm": fm.item(), "adv": adv.item()}


def optimisers(model: Vits, disc: Discriminator, cfg: TtsTrainingConfig, lr: float) -> tuple[torch.optim.Optimizer, ...]:
    t = cfg.train
    kw = {"lr": lr, "betas": (t.beta1, t.beta2), "eps": 1e-9, "weight_decay": t.weight_decay}
    return torch.optim.AdamW(model.parameters(), **kw), torch.optim.AdamW(disc.parameters(), **kw)


def write_sample(model: Vits, utt: Utterance, path: Path) -> None:
    model.eval()
    with torch.no_grad():
        audio = model.infer(torch.from_numpy(utt.ids).unsqueeze(0), torch.tensor([len(utt.ids)]))[0, 0].numpy()
    model.train()
    write_wav(path, audio, RATE)


def train(cfg: TtsTrainingConfig, train_utts: list[Utterance], valid_utts: list[Utterance], progress: bool = True,
          model: Vits | None = None, steps: int | None = None, out_dir: Path | None = None,
          lr: float | None = None, init_disc: dict | None = None) -> Path:
    """Train (or resume) and return the path of the last checkpoint. ``model``/``steps``/``out_dir``/``lr``
    override the config, ``init_disc`` starts the discriminator from trained weights (the QAT fine-tuning
    reuses this loop)."""
    t = cfg.train
    if not train_utts:
        raise ValueError("no training utterances")
    torch.set_num_threads(t.threads)
    torch.manual_seed(t.seed)
    out = Path(out_dir or t.out_dir)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    model = model or Vits(size_config(cfg.model.size))
    disc = Discriminator(cfg.model.discriminator_width)
    lr = lr or t.lr
    steps = steps or t.steps
    opt_g, opt_d = optimisers(model, disc, cfg, lr)
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
    elif init_disc is not None:
        disc.load_state_dict(init_disc)
    losses_log = LossLog(out, LOG_KEYS, resumed=step > 0)
    sample = (valid_utts or train_utts)[0]
    rng = random.Random(t.seed * 1000 + step)
    model.train()
    disc.train()
    bar = tqdm(total=steps, initial=step, desc="tts", disable=not progress, unit="step")
    while step < steps:
        for group in batches(train_utts, t.batch, rng):
            if step >= steps:
                break
            cur_lr = lr * t.lr_decay**step
            for opt in (opt_g, opt_d):
                for g in opt.param_groups:
                    g["lr"] = cur_lr
            losses_log.add(train_step(model, disc, opt_g, opt_d, collate(group), cfg), step)
            step += 1
            bar.update()
            if step % t.log_every == 0 or step == steps:
                row = losses_log.write(step, lr=cur_lr)
                bar.set_postfix(mel=f"{row['mel']:.3f}", dur=f"{row['dur']:.2f}")
            if step % t.checkpoint_every == 0 or step == steps:
                save_atomic({"model": model.state_dict(), "disc": disc.state_dict(), "opt_g": opt_g.state_dict(),
                             "opt_d": opt_d.state_dict(), "step": step,
                             "vits_config": json.dumps(model.config.to_dict())}, ckpt_path)
                write_sample(model, sample, out / "samples" / f"step_{step:06d}.wav")
    bar.close()
    return ckpt_path

