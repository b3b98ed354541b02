"""Train the short-word spotter (:class:`models.kws.net.SpotterNet`) on the simulated examples.

Cross-entropy over :data:`models.kws.spotter.CLASSES`, on the examples whose sound the shipped VAD heard
(``train.min_vad_peak``; validation: ``train.valid_min_vad_peak``); batches of whole examples padded to the longest (the
network masks the padding, so an example gives the same logits alone or in a batch); each example gets a random
level change (``train.gain_db``) and loses up to ``train.crop_frames`` frames at each end. Validation on
held-out voices and devices every ``train.valid_every`` steps: loss, accuracy and the agent's decision at p_ride
0.5 (``stop_kept``: share of stop and other examples it would stop on; ``ride_kept``: share of backchannel and
noise examples it would talk over); ``best.pt`` keeps the lowest validation loss. Resumable from
``checkpoint.pt``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.kws.net import SpotterNet
from models.kws.spotter import CLASSES, RIDE
from models.vad.features import FEATURES
from training.common.loop import (
    LossLog,
    append_valid,
    cosine_lr,
    load_model_checkpoint,
    resume_or_start,
    save_atomic,
)
from training.kws.config import KwsTrainingConfig
from training.kws.examples import load_shards

log = logging.getLogger(__name__)
RIDE_IDX = [CLASSES.index(c) for c in RIDE]


def pad_batch(feats: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, frames, 40) zero-padded features and the (batch, frames) mask of valid frames."""
    t = max(f.shape[0] for f in feats)
    x = np.zeros((len(feats), t, feats[0].shape[1]), dtype=np.float32)
    m = np.zeros((len(feats), t), dtype=np.float32)
    for i, f in enumerate(feats):
        x[i, : f.shape[0]] = f
        m[i, : f.shape[0]] = 1.0
    return torch.from_numpy(x), torch.from_numpy(m)


def p_ride(logits: torch.Tensor) -> torch.Tensor:
    """Probability of the ride classes (backchannel, noise) per row."""
    return logits.softmax(dim=1)[:, RIDE_IDX].sum(dim=1)


@torch.no_grad()
def evaluate(model: SpotterNet, feats: list[np.ndarray], labels: list[int], batch: int = 128) -> dict[str, float]:
    """Validation loss, accuracy, ``stop_kept`` and ``ride_kept`` (see the module doc)."""
    model.eval()
    logits = []
    for i in range(0, len(feats), batch):
        x, m = pad_batch(feats[i : i + batch])
        logits.append(model(x, m))
    z = torch.cat(logits)
    y = torch.tensor(labels)
    ride = torch.isin(y, torch.tensor(RIDE_IDX))
    rides = p_ride(z) >= 0.5
    return {"loss": float(F.cross_entropy(z, y)), "accuracy": float((z.argmax(1) == y).float().mean()),
            "stop_kept": float((~rides[~ride]).float().mean()), "ride_kept": float(rides[ride].float().mean())}


FEATURE_KEYS = {"output": "features", "echo": "echo_features", "laec": "laec_features"}


def kept(data: dict[str, list], min_vad_peak: float) -> list[int]:
    """Indices of the examples whose VAD peak reaches ``min_vad_peak``."""
    return [i for i, m in enumerate(data["meta"]) if m.get("vad_peak", 1.0) >= min_vad_peak]


def select(data: dict[str, list], min_vad_peak: float, inputs: tuple[str, ...] | list[str] = ("output",)
           ) -> tuple[list[np.ndarray], list[int]]:
    """The model inputs (the features of ``inputs`` side by side) and labels of the examples :func:`kept`."""
    keep = kept(data, min_vad_peak)
    feats = [np.concatenate([data[FEATURE_KEYS[name]][i] for name in inputs], axis=1) for i in keep]
    return feats, [data["labels"][i] for i in keep]


def spec_augment(f: np.ndarray, rng: np.random.Generator, fill: np.ndarray, bands: int, frames: int) -> np.ndarray:
    """``f`` (frames, 40 × inputs) with one run of up to ``bands`` mel bands (the same in every input) and one of up
    to ``frames`` frames set to ``fill`` (the training set's mean: zero after normalisation)."""
    f = f.copy()
    per = FEATURES
    if bands:
        width = int(rng.integers(0, bands + 1))
        lo = int(rng.integers(0, per - width + 1))
        for k in range(f.shape[1] // per):
            f[:, k * per + lo : k * per + lo + width] = fill[k * per + lo : k * per + lo + width]
    if frames and f.shape[0] > 2 * frames:
        width = int(rng.integers(0, frames + 1))
        lo = int(rng.integers(0, f.shape[0] - width + 1))
        f[lo : lo + width] = fill
    return f


def build_model(config: dict) -> SpotterNet:
    return SpotterNet(**config)


def load_model(path: Path) -> SpotterNet:
    """A spotter checkpoint's model in eval mode (``weights_only``); clear errors for a bad file."""
    return load_model_checkpoint(path, "model_config", build_model, "a short-word spotter")


def train(cfg: KwsTrainingConfig, train_dir: Path, valid_dir: Path, progress: bool = True) -> Path:
    """Run (or resume) training; returns the path of ``best.pt``."""
    from tqdm import tqdm

    t = cfg.train
    torch.manual_seed(t.seed)
    torch.set_num_threads(t.threads)
    rng = np.random.default_rng(t.seed)
    train_feats, train_labels = select(load_shards(train_dir), t.min_vad_peak, t.inputs)
    valid_feats, valid_labels = select(load_shards(valid_dir), t.valid_min_vad_peak, t.inputs)
    if not train_labels or not valid_labels:
        raise ValueError(f"no examples in {train_dir} or {valid_dir} (with the VAD peaks asked for)")
    log.info("%d training and %d validation examples", len(train_labels), len(valid_labels))
    out = Path(t.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = SpotterNet(t.channels, t.layers, dilate=t.dilate, inputs=t.inputs, window_norm=t.window_norm)
    opt = torch.optim.Adam(model.parameters(), lr=t.lr)

    def init() -> None:
        allf = np.concatenate(train_feats)
        model.mean.copy_(torch.from_numpy(allf.mean(0)))
        model.std.copy_(torch.from_numpy(allf.std(0) + 1e-3))

    ckpt_path = out / "checkpoint.pt"
    step, best = resume_or_start(model, opt, ckpt_path, init)
    losses = LossLog(out, ("loss", "lr"), resumed=step > 0)
    labels = np.array(train_labels)
    fill = model.mean.numpy().astype(np.float32)
    bar = tqdm(total=t.steps, initial=step, desc="kws", disable=not progress, unit="step")
    while step < t.steps:
        model.train()
        idx = rng.integers(len(labels), size=t.batch)
        feats = []
        for i in idx:
            f = train_feats[i]
            a = int(rng.integers(0, t.crop_frames + 1))
            b = int(rng.integers(0, t.crop_frames + 1))
            f = spec_augment(f[a : max(a + 10, f.shape[0] - b)], rng, fill, t.freq_mask, t.time_mask)
            feats.append(f + np.float32(rng.uniform(-1, 1) * t.gain_db * np.log(10) / 10))
        x, m = pad_batch(feats)
        lr = cosine_lr(step, t.steps, t.lr, t.lr_final)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = F.cross_entropy(model(x, m), torch.from_numpy(labels[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        losses.add({"loss": loss.item()}, step)
        bar.update()
        if step % t.valid_every == 0 or step == t.steps:
            losses.write(step, lr=lr)
            metrics = evaluate(model, valid_feats, valid_labels)
            append_valid(out, step, metrics)
            bar.set_postfix(valid_loss=f"{metrics['loss']:.3f}", acc=f"{metrics['accuracy']:.3f}")
            payload = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                       "model_config": json.dumps(model.config), "metrics": json.dumps(metrics)}
            if best is None or metrics["loss"] < best["loss"]:
                best = {"step": step, **metrics}
                save_atomic({k: v for k, v in payload.items() if k != "optimizer"}, out / "best.pt")
            save_atomic({**payload, "best": json.dumps(best)}, ckpt_path)
    bar.close()
    log.info("best validation: %s", best)
    return out / "best.pt"
