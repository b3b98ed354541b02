"""Small pieces every training loop here uses: atomic checkpoints, log truncation on resume, cosine LR."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import Path

import torch

log = logging.getLogger(__name__)


def cosine_lr(step: int, steps: int, lr: float, lr_final: float) -> float:
    """Learning rate at ``step`` of ``steps``: cosine decay from ``lr`` to ``lr_final``."""
    return lr_final + 0.5 * (lr - lr_final) * (1 + math.cos(math.pi * min(step, steps) / max(steps, 1)))


def save_atomic(payload: dict, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a crash never leaves half a checkpoint."""
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def truncate_logs(out: Path, step: int) -> None:
    """Drop rows of ``out/log.csv`` and ``out/valid.jsonl`` written after ``step`` (about to be redone)."""
    if (out / "log.csv").exists():
        lines = (out / "log.csv").read_text().splitlines()
        keep = lines[:1] + [ln for ln in lines[1:] if int(ln.split(",")[0]) <= step]
        (out / "log.csv").write_text("\n".join(keep) + "\n")
    if (out / "valid.jsonl").exists():
        rows = [ln for ln in (out / "valid.jsonl").read_text().splitlines() if json.loads(ln)["step"] <= step]
        (out / "valid.jsonl").write_text("".join(r + "\n" for r in rows))


class LossLog:
    """Training losses averaged over the steps between two writes, as rows of ``out/log.csv`` (``step`` + ``keys``;
    a key missing from a row is written as 0). A fresh run starts the file; a resumed one appends to it."""

    def __init__(self, out: Path, keys: tuple[str, ...], resumed: bool) -> None:
        self.path, self.keys = Path(out) / "log.csv", keys
        if not resumed:
            self.path.write_text(",".join(("step", *keys)) + "\n")
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, values: dict[str, float], step: int) -> None:
        """Add one step's losses; :class:`FloatingPointError` when one is not finite."""
        if not all(math.isfinite(v) for v in values.values()):
            raise FloatingPointError(f"non-finite loss at step {step}: {values}")
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.count += 1

    def write(self, step: int, **extra: float) -> dict[str, float]:
        """Append the means since the last write (and ``extra``, e.g. the learning rate); returns that row."""
        row = {k: v / max(self.count, 1) for k, v in self.sums.items()} | extra
        with self.path.open("a") as fh:
            fh.write(f"{step}," + ",".join(f"{row.get(k, 0.0):.5g}" for k in self.keys) + "\n")
        self.sums, self.count = {}, 0
        return row


def append_valid(out: Path, step: int, metrics: dict[str, float]) -> None:
    """One row of ``out/valid.jsonl``: the step and the validation metrics (5 decimals)."""
    with (Path(out) / "valid.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": step, **{k: round(v, 5) for k, v in metrics.items()}}) + "\n")


def load_model_checkpoint(path: Path, config_key: str, build: Callable[[dict], torch.nn.Module],
                          what: str) -> torch.nn.Module:
    """The model of a training checkpoint (``weights_only``) in eval mode: ``build`` makes it from the config JSON
    stored under ``config_key``, then the ``model`` weights are loaded. :class:`FileNotFoundError` for a missing
    file, :class:`ValueError` naming ``what`` for anything else."""
    import pickle
    import struct

    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        model = build(json.loads(ckpt[config_key]))
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, KeyError, ValueError, TypeError, EOFError, pickle.UnpicklingError, struct.error) as exc:
        raise ValueError(f"{path}: not {what} checkpoint of this project ({exc})") from None
    return model.eval()


def load_state(model: torch.nn.Module, path: Path, what: str) -> torch.nn.Module:
    """Load a checkpoint's weights into ``model`` (``weights_only``); a clear error when the file is bad."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(ckpt["model"] if "model" in ckpt else ckpt)
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} checkpoint not found: {path}") from None
    except Exception as exc:
        raise ValueError(f"{path} is not a {what} checkpoint: {exc}") from None
    return model.eval()


def plot_curves(out: Path, valid_keys: tuple[str, ...]) -> None:
    """Training loss (``out/log.csv``) and validation metrics (``out/valid.jsonl``) into ``out/curves.png``."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader((out / "log.csv").open())) if (out / "log.csv").exists() else []
    vals = [json.loads(line) for line in (out / "valid.jsonl").open()] if (out / "valid.jsonl").exists() else []
    fig, axes = plt.subplots(1, 1 + len(valid_keys), figsize=(16, 3.5))
    if rows:
        axes[0].plot([int(r["step"]) for r in rows], [float(r["loss"]) for r in rows])
    axes[0].set_title("training loss")
    for ax, key in zip(axes[1:], valid_keys, strict=True):
        ax.plot([v["step"] for v in vals], [v[key] for v in vals], marker="o")
        ax.set_title(f"valid {key}")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=80)
    plt.close(fig)


def run_jobs(work, jobs: list, workers: int, desc: str, progress: bool) -> list[str]:  # noqa: ANN001
    """``work(job) -> error text or None`` over ``jobs`` (in a process pool when ``workers`` > 1), with a progress
    bar; returns the errors."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    failures: list[str] = []
    bar = tqdm(total=len(jobs), desc=desc, disable=not progress, unit="item")
    if workers > 1 and jobs:
        with ProcessPoolExecutor(workers) as pool:
            for res in pool.map(work, jobs, chunksize=2):
                failures += [res] if res else []
                bar.update()
    else:
        for job in jobs:
            res = work(job)
            failures += [res] if res else []
            bar.update()
    bar.close()
    return failures


def resume_or_start(model: torch.nn.Module, opt: torch.optim.Optimizer, ckpt_path: Path,
                    init: Callable[[], None]) -> tuple[int, dict | None]:
    """Load ``ckpt_path`` into model and optimiser (and drop log rows past it), or call ``init()`` for a fresh run.

    Returns (step, best validation record or None).
    """
    if not ckpt_path.exists():
        init()
        return 0, None
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    step = int(ckpt["step"])
    log.info("resuming from step %d", step)
    truncate_logs(ckpt_path.parent, step)
    return step, json.loads(ckpt["best"])


class WeightAverage:
    """Exponential moving average of a model's weights (``decay`` per step, warmed up as (1 + n) / (10 + n) so
    early steps are not frozen in); the averaged weights vary far less from one validation to the next than the
    raw ones. ``state_dict()`` gives a full state dict (buffers copied from the model)."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.model = model
        self.decay = decay
        self.updates = 0
        self.average = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        params = dict(self.model.named_parameters())
        for k, v in self.model.state_dict().items():
            if k in params and v.is_floating_point():
                self.average[k].mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                self.average[k].copy_(v)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self.average.items()}

    def load(self, state: dict[str, torch.Tensor], updates: int) -> None:
        for k, v in state.items():
            self.average[k].copy_(v)
        self.updates = updates


def set_feature_stats(model: torch.nn.Module, mean: torch.Tensor, std: torch.Tensor) -> None:
    """Fix a model's input normalisation buffers (``feature_mean``, ``feature_std``)."""
    model.feature_mean.copy_(mean)
    model.feature_std.copy_(std)
