"""RES training loop: progressive learning, the paper's loss, validation, resumable checkpoints.

One step: a batch of scene crops → spectra of mic Y, aligned reference R, LAEC output X_laec →
features (SpecAugment on R) → the three stage heads' masks → estimates ŝ_k = istft(M_x^k ⊙ X_laec):

- final head: 0.1·modulation + 0.9·SNR + 10·PMSQE against the echo-free near end (modulation and
  PMSQE only on crops where the near end speaks; they are undefined on silence), plus the M_r term
  against the exact residual echo R_laec = X_laec − near − noise;
- with progressive learning, heads 1 and 2 get the SNR loss toward near + g·(R_laec + noise) with
  g = −10 dB and −20 dB (the input's SER raised by 10 and 20 dB).

Validation (every ``valid_every`` steps) runs the whole validation scenes through the model and the
PWF (β 0.6 / 0.2) and logs ERLE (far-end-only scenes, VAD output, after 2 s), PESQ and STOI
(double-talk and near-end-only scenes, ASR output against the near end) to ``valid.jsonl``; ``curves.png`` is redrawn.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from models.aec.metrics import erle_db, pesq_wb, stoi
from models.aec.pwf import PostWienerFilter
from models.aec.res.dfsmn import ResDfsmn, split_masks
from training.common.loop import cosine_lr, load_state, resume_or_start, save_atomic, set_feature_stats
from training.common.loop import plot_curves as draw_curves
from training.res.config import ResConfig
from training.res.data import SceneCrops, features, istft, list_scenes, load_scene, spec_augment, stft
from training.res.losses import ModulationLoss, PmsqeLoss, mask_loss, snr_loss
from training.res.scenes import STREAMS

log = logging.getLogger(__name__)
SR = 16000
CHECKPOINT = "checkpoint.pt"
I_MIC, I_REF, I_E, I_NEAR, I_NOISE = (STREAMS.index(k) for k in STREAMS)
STAGE_GAINS = (10 ** (-10 / 20), 10 ** (-20 / 20))  # residual scale of the stage-1 and stage-2 targets


def feature_stats(scenes: list[Path], count: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std (240,) of the features over up to ``count`` scenes (fixed normalisation of the model)."""
    feats = []
    for path in scenes[:count]:
        data, _ = load_scene(path)
        x = torch.from_numpy(data[:, : data.shape[1] // 320 * 320])
        feats.append(features(stft(x[I_MIC : I_MIC + 1]), stft(x[I_REF : I_REF + 1]), stft(x[I_E : I_E + 1]))[0])
    f = torch.cat(feats)
    return f.mean(0), f.std(0).clamp(min=0.1)


class ResLoss(torch.nn.Module):
    """The training objective of the module doc; returns (total, parts) for a batch (B, 5, N)."""

    def __init__(self, cfg: ResConfig) -> None:
        super().__init__()
        self.cfg = cfg.loss
        self.aug = cfg.augment
        self.modulation = ModulationLoss()
        self.pmsqe = PmsqeLoss()

    def forward(self, model: ResDfsmn, batch: torch.Tensor, gen: torch.Generator | None = None
                ) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.cfg
        y, r, e, near, noise = (batch[:, i] for i in range(5))
        Y, R, E = stft(y), stft(r), stft(e)
        feats = features(Y, R, E)
        if self.aug.enabled and gen is not None:
            feats = spec_augment(feats, self.aug, gen)
        heads = model(feats)
        n = heads[-1].shape[1] * 320 - 320  # samples covered by two windows
        floor = c.snr_floor * (e[:, :n] ** 2).sum(-1)
        m_x, m_r = split_masks(heads[-1])
        est = istft(m_x * E)[:, :n]
        target = near[:, :n]
        parts = {"snr": snr_loss(est, target, floor).mean()}
        speaking = (target**2).mean(-1) > 1e-7  # about -70 dBFS
        if speaking.any():
            parts["pmsqe"] = self.pmsqe(est[speaking], target[speaking]).mean()
            parts["modulation"] = self.modulation(est[speaking], target[speaking]).mean()
        else:
            parts["pmsqe"] = parts["modulation"] = torch.zeros((), dtype=est.dtype)
        residual = (e - near - noise)
        parts["mask_r"] = mask_loss(m_r, E.abs(), stft(residual).abs()).mean()
        total = (c.snr * parts["snr"] + c.pmsqe * parts["pmsqe"] + c.modulation * parts["modulation"]
                 + c.mask_r * parts["mask_r"])
        if c.progressive:
            for k, g in enumerate(STAGE_GAINS):
                mx_k, _ = split_masks(heads[k])
                tgt_k = (near + g * (residual + noise))[:, :n]
                parts[f"stage{k + 1}_snr"] = snr_loss(istft(mx_k * E)[:, :n], tgt_k, floor).mean()
                total = total + c.stage_weight * c.snr * parts[f"stage{k + 1}_snr"]
        return total, {k: float(v.detach()) for k, v in parts.items()}


@torch.no_grad()
def scene_outputs(model: ResDfsmn, data: np.ndarray, betas: tuple[float, ...] = (0.6, 0.2)) -> list[np.ndarray]:
    """Whole-scene PWF outputs (one per β) with the model's final masks; aligned with the scene."""
    n = data.shape[1] // 320 * 320
    x = torch.from_numpy(np.ascontiguousarray(data[:, :n]))
    Y, R, E = stft(x[I_MIC : I_MIC + 1]), stft(x[I_REF : I_REF + 1]), stft(x[I_E : I_E + 1])
    m_x, m_r = split_masks(model(features(Y, R, E))[-1])
    gain = PostWienerFilter().gain(m_x, m_r)  # the runtime's formula (plain arithmetic, works on tensors)
    return [istft(gain**b * E)[0].numpy() for b in betas]


def validate(model: ResDfsmn, scenes: list[Path]) -> dict[str, float]:
    """ERLE / PESQ / STOI on the validation scenes (see the module doc)."""
    model.eval()
    erles, pesqs, stois = [], [], []
    for path in scenes:
        data, meta = load_scene(path)
        vad, asr = scene_outputs(model, data)
        n = vad.shape[0]
        if meta["kind"] == "far_only":
            v = erle_db(data[I_MIC, 2 * SR : n], vad[2 * SR :])
            erles += [v] if v is not None else []
        else:  # double talk and near-end only: the ASR output against the near end
            near = data[I_NEAR, :n]
            p, s = pesq_wb(near, asr), stoi(near, asr)
            pesqs += [p] if p is not None else []
            stois += [s] if s is not None else []
    model.train()
    return {"erle_db": float(np.mean(erles)) if erles else float("nan"),
            "pesq": float(np.mean(pesqs)) if pesqs else float("nan"),
            "stoi": float(np.mean(stois)) if stois else float("nan")}


def selection_score(metrics: dict) -> float:
    """One number to pick the best checkpoint: PESQ + 2·STOI + min(ERLE, 60 dB)/30. ERLE is capped because a
    model that silences far-end-only scenes reaches 100+ dB, and past 60 dB more says nothing audible."""
    return metrics["pesq"] + 2 * metrics["stoi"] + min(metrics["erle_db"], 60.0) / 30


def save_checkpoint(path: Path, model: ResDfsmn, opt: torch.optim.Optimizer, step: int, cfg: ResConfig,
                    best: dict | None) -> None:
    save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                 "config": json.dumps(asdict(cfg)), "best": json.dumps(best)}, path)


def load_model(path: Path) -> ResDfsmn:
    """A trained model from a checkpoint (``weights_only`` loading; a clear error when it is bad)."""
    return load_state(ResDfsmn(), path, "RES")


def plot_curves(out: Path) -> None:
    """Draw training loss and validation metrics into ``out/curves.png``."""
    draw_curves(out, ("erle_db", "pesq", "stoi"))


def train(cfg: ResConfig, progress: bool = True) -> Path:
    """Train (resuming from ``out_dir/checkpoint.pt`` when present); returns the best checkpoint path."""
    from tqdm import tqdm

    t = cfg.train
    torch.manual_seed(t.seed)
    torch.set_num_threads(t.threads)
    out = Path(t.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_scenes = list_scenes(Path(cfg.data.train_dir))[: cfg.data.train_scenes]
    valid_scenes = list_scenes(Path(cfg.data.valid_dir))[: cfg.data.valid_scenes]
    if not train_scenes:
        raise ValueError(f"no training scenes in {cfg.data.train_dir}")
    model = ResDfsmn()
    opt = torch.optim.Adam(model.parameters(), lr=t.lr)
    ckpt_path = out / CHECKPOINT
    step, best = resume_or_start(model, opt, ckpt_path, lambda: set_feature_stats(model, *feature_stats(train_scenes)))
    objective = ResLoss(cfg)
    shift = int(cfg.augment.ref_shift_ms * SR / 1000) if cfg.augment.enabled else 0
    crop = int(round(t.crop_s * SR / 320)) * 320
    data = SceneCrops(train_scenes, crop, shift, seed=t.seed * 1_000_003 + step)
    loader = DataLoader(data, batch_size=t.batch, num_workers=t.loader_workers, shuffle=False,
                        persistent_workers=t.loader_workers > 0)
    gen = torch.Generator().manual_seed(t.seed + step)
    new_log = not (out / "log.csv").exists()
    log_fh = (out / "log.csv").open("a", newline="")
    writer = csv.writer(log_fh)
    if new_log:
        writer.writerow(["step", "loss", "snr", "pmsqe", "modulation", "mask_r", "lr", "seconds"])
    bar = tqdm(total=t.steps, initial=step, desc="train RES", disable=not progress, unit="step")
    t0 = time.time()
    skipped = 0
    model.train()
    for batch in loader:
        if step >= t.steps:
            break
        lr = cosine_lr(step, t.steps, t.lr, t.lr_final)
        for group in opt.param_groups:
            group["lr"] = lr
        loss, parts = objective(model, batch, gen)
        if not torch.isfinite(loss):  # a degenerate crop must not poison the weights
            skipped += 1
            log.warning("step %d: non-finite loss %s (%s); batch skipped", step, float(loss.detach()), parts)
            if skipped > 20:
                raise RuntimeError("more than 20 batches in a row gave a non-finite loss; stopping")
            continue
        opt.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        if not torch.isfinite(norm):
            skipped += 1
            log.warning("step %d: non-finite gradient; batch skipped", step)
            if skipped > 20:
                raise RuntimeError("more than 20 batches in a row gave a non-finite gradient; stopping")
            continue
        skipped = 0
        opt.step()
        step += 1
        bar.update()
        bar.set_postfix(loss=f"{float(loss.detach()):.2f}", snr=f"{parts['snr']:.1f}")
        if step % t.log_every == 0 or step == t.steps:
            writer.writerow([step, f"{float(loss.detach()):.4f}", f"{parts['snr']:.3f}", f"{parts['pmsqe']:.4f}",
                             f"{parts['modulation']:.4f}", f"{parts['mask_r']:.4f}", f"{lr:.2e}",
                             f"{time.time() - t0:.1f}"])
            log_fh.flush()
        if valid_scenes and (step % t.valid_every == 0 or step == t.steps):
            metrics = {"step": step, **validate(model, valid_scenes)}
            with (out / "valid.jsonl").open("a") as fh:
                fh.write(json.dumps(metrics) + "\n")
            score = selection_score(metrics)
            if best is None or (np.isfinite(score) and score > best["score"]):
                best = {**metrics, "score": score}
                torch.save({"model": model.state_dict(), "step": step, "metrics": json.dumps(metrics)},
                           out / "best.pt")
            plot_curves(out)
            bar.write(f"step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k != "step"))
        if step % t.checkpoint_every == 0 or step == t.steps:
            save_checkpoint(ckpt_path, model, opt, step, cfg, best)
    bar.close()
    log_fh.close()
    if not (out / "best.pt").exists():
        torch.save({"model": model.state_dict(), "step": step, "metrics": "null"}, out / "best.pt")
    return out / "best.pt"
