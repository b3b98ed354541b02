"""Batches for RES training: random crops of the simulated scenes, spectra, features and targets.

The torch STFT here is the streaming one of :mod:`models.aec.stft` over a whole crop (frame t is the
640-sample √Hann window ending at sample 320·(t+1)), so features computed here equal the
runtime's frame by frame; :func:`istft` is its overlap-add inverse, aligned with the input.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from models.aec.res.features import MEL_BANDS, POWER_FLOOR, mel_matrix
from models.aec.stft import HOP, WINDOW
from training.res.config import ResAugmentConfig
from training.res.scenes import MIC_PEAK, STREAMS

SQRT_HANN = torch.sin(torch.pi * torch.arange(WINDOW, dtype=torch.float64) / WINDOW).float()
MEL = torch.from_numpy(mel_matrix()).T.contiguous()  # (321, 80)


def stft(x: torch.Tensor) -> torch.Tensor:
    """(B, N) with N a multiple of 320 -> (B, N/320, 321) complex, as the streaming analyzer."""
    frames = torch.nn.functional.pad(x, (HOP, 0)).unfold(-1, WINDOW, HOP)
    return torch.fft.rfft(frames * SQRT_HANN.to(x.device), dim=-1)


def istft(spec: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`stft` by √Hann overlap-add: (B, T, 321) -> (B, 320·T), aligned with its input
    (the last 320 samples are covered by one window only)."""
    frames = torch.fft.irfft(spec, WINDOW, dim=-1) * SQRT_HANN.to(spec.device)  # (B, T, 640)
    b, t, _ = frames.shape
    out = torch.nn.functional.fold(frames.transpose(1, 2), (1, (t + 1) * HOP), (1, WINDOW), stride=(1, HOP))
    return out.reshape(b, -1)[:, HOP:]


def log_mel(spec: torch.Tensor) -> torch.Tensor:
    """(B, T, 321) complex -> (B, T, 80) log band power (models.aec.res.features)."""
    return torch.log((spec.abs() ** 2) @ MEL.to(spec.device) + POWER_FLOOR)


def features(y: torch.Tensor, r: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """(B, T, 240): [logmel(mic), logmel(ref), logmel(X_laec)]."""
    return torch.cat([log_mel(y), log_mel(r), log_mel(e)], dim=-1)


def spec_augment(feats: torch.Tensor, cfg: ResAugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Frequency and time masks on the reference features (columns 80–159) only; masked = silence."""
    feats = feats.clone()
    floor = float(np.log(POWER_FLOOR))
    b, t, _ = feats.shape
    for i in range(b):
        for _ in range(cfg.freq_masks):
            w = int(torch.randint(0, cfg.freq_mask_bands + 1, (1,), generator=gen))
            f0 = int(torch.randint(0, MEL_BANDS - w + 1, (1,), generator=gen))
            feats[i, :, MEL_BANDS + f0 : MEL_BANDS + f0 + w] = floor
        for _ in range(cfg.time_masks):
            w = int(torch.randint(0, min(cfg.time_mask_frames, t) + 1, (1,), generator=gen))
            t0 = int(torch.randint(0, t - w + 1, (1,), generator=gen))
            feats[i, t0 : t0 + w, MEL_BANDS : 2 * MEL_BANDS] = floor
    return feats


def list_scenes(folder: Path) -> list[Path]:
    return sorted(p.with_suffix("") for p in Path(folder).glob("*.json"))


class SceneCrops(Dataset):
    """Random crops of ``crop`` samples from scene files; item = float32 array (5, crop) in STREAMS order.

    With ``ref_shift_max`` > 0 the reference row is taken up to that many samples *later* in the scene,
    so the reference runs ahead of the mic (the paper's augmentation after alignment).
    """

    def __init__(self, scenes: list[Path], crop: int, ref_shift_max: int = 0, seed: int = 0,
                 epoch_size: int = 10**7) -> None:
        if not scenes:
            raise ValueError("no scenes to train on")
        self.scenes = scenes
        self.crop = crop
        self.ref_shift_max = ref_shift_max
        self.seed = seed
        self.epoch_size = epoch_size

    def __len__(self) -> int:
        return self.epoch_size

    def __getitem__(self, index: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, index))
        data = np.load(self.scenes[int(rng.integers(len(self.scenes)))].with_suffix(".npy"), mmap_mode="r")
        n = data.shape[1]
        shift = int(rng.integers(0, self.ref_shift_max + 1)) if self.ref_shift_max else 0
        crop = min(self.crop, (n - shift) // HOP * HOP)
        start = int(rng.integers(0, n - crop - shift + 1))
        out = np.array(data[:, start : start + crop], dtype=np.float32)
        if shift:
            out[STREAMS.index("ref")] = data[STREAMS.index("ref"), start + shift : start + shift + crop]
        # A capture louder than full scale (strong echo plus a near end scaled to a high SER) is turned down
        # as a whole; every row but the reference scales together, so X_laec = near + noise + R_laec holds.
        peak = float(np.abs(out[STREAMS.index("mic")]).max())
        if peak > MIC_PEAK:
            keep = out[STREAMS.index("ref")].copy()
            out *= MIC_PEAK / peak
            out[STREAMS.index("ref")] = keep
        return out


def load_scene(path: Path) -> tuple[np.ndarray, dict]:
    """Whole scene (5, samples) and its metadata."""
    return np.load(path.with_suffix(".npy")), json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
