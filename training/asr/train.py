"""Training loop of the small streaming Paraformer (FunASR's model classes, the project's own loop).

Batches hold whole utterances up to ``batch_s`` seconds of audio; each utterance is drawn as its
clean, room or echo version (``train.mix``); corpus utterances whose example is not built yet take
part with their clean version (features computed once from the WAV). The model is FunASR's ``ParaformerStreaming`` with the
chunk configuration of the runtime (10 feature vectors per chunk, 5 of look-ahead), so what it learns is what the
streaming recogniser runs. Validation writes the current weights as a FunASR model folder and
recognises held-out voices through :class:`models.asr.paraformer.ParaformerRecognizer` — the real
streaming path — clean and with echo. The best validation step is kept as ``best.pt``.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from agent.config.base import to_dict
from audio_io.wav import read_wav
from models.asr.metrics import error_counts
from models.asr.tokens import TokenTable, normalize_transcript, token_inventory
from training.asr.config import AsrTrainingConfig
from training.asr.data import (
    FUNASR_LFR_N,
    VERSIONS,
    fbank_lfr,
    load_examples,
    load_manifest,
    sentence_heldout,
    stored_lfr_n,
)
from training.asr.folder import (
    FEATURE_DIM,
    build_model,
    paraformer_config,
    read_folder_weights,
    write_model_folder,
)
from training.common.loop import resume_or_start, save_atomic, truncate_logs

log = logging.getLogger(__name__)


def model_config(cfg: AsrTrainingConfig) -> dict:
    m = cfg.model
    return paraformer_config(dim=m.dim, encoder_blocks=m.encoder_blocks, decoder_blocks=m.decoder_blocks,
                             heads=m.heads, ffn=m.ffn, dropout=m.dropout, ctc_weight=m.ctc_weight, lfr_n=m.lfr_n)


class FeatureStore:
    """Features of the utterances, loaded (or, for corpus-only rows, computed) once and kept in memory (float16).

    An example's stored features are used when their hop is ``lfr_n``; otherwise (examples built for another hop)
    they are computed here from the example's audio (the clean version from the corpus WAV)."""

    def __init__(self, corpus: Path, lfr_n: int = FUNASR_LFR_N):
        self.corpus = corpus
        self.lfr_n = lfr_n
        self.frame_s = lfr_n * 0.01  # one feature vector, s
        self._cache: dict[str, dict[str, np.ndarray]] = {}

    def _features(self, audio: np.ndarray) -> np.ndarray:
        return fbank_lfr(audio, self.lfr_n).astype(np.float16)

    def get(self, row: dict, version: str) -> np.ndarray:
        item = self._cache.get(row["id"])
        if item is None:
            if row.get("path"):
                with np.load(row["path"]) as z:
                    if stored_lfr_n(z) == self.lfr_n:
                        item = {v: z[v] for v in VERSIONS}
                    else:  # the simulated versions from their audio, the clean one from the corpus WAV
                        item = {v: self._features(z[f"{v}_audio"].astype(np.float32) / 32767) for v in VERSIONS[1:]}
                        item["clean"] = self._features(read_wav(self.corpus / row["clean_wav"], 16000))
            else:  # a corpus utterance without an example yet: its clean version only
                item = {"clean": self._features(read_wav(self.corpus / row["clean_wav"], 16000))}
            self._cache[row["id"]] = item
        return item.get(version, item["clean"])


def training_rows(cfg: AsrTrainingConfig) -> list[dict]:
    """Training utterances: every example (three versions) plus the corpus utterances that have none yet (clean).

    Training voices only, and no utterance with a held-out sentence.
    """
    d = cfg.data
    examples = {r["id"]: r for r in load_examples(Path(d.examples_dir))}
    rows = list(examples.values())
    for rec in load_manifest(Path(d.corpus_dir)):
        if rec["id"] not in examples:
            rows.append({"id": rec["id"], "text": normalize_transcript(rec["text"]), "language": rec["language"],
                         "split": rec["split"], "clean_wav": rec["files"]["16000"], "path": None,
                         "new_sentences": any(sentence_heldout(x["text"], d.heldout_sentences)
                                              for x in rec["sentences"])})
    return sorted((r for r in rows if r["split"] == "train" and not r["new_sentences"]), key=lambda r: r["id"])


def feature_stats(store: FeatureStore, rows: list[dict], limit: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation per feature over all versions of up to ``limit`` utterances."""
    total = np.zeros(560)
    sq = np.zeros(560)
    n = 0
    for row in rows[:limit]:
        for v in VERSIONS if row.get("path") else ("clean",):
            f = store.get(row, v).astype(np.float64)
            total += f.sum(0)
            sq += (f**2).sum(0)
            n += f.shape[0]
    mean = total / max(n, 1)
    std = np.sqrt(np.maximum(sq / max(n, 1) - mean**2, 1e-8))
    return mean, std


def make_batches(rows: list[dict], store: FeatureStore, batch_s: float, rng: random.Random) -> list[list[dict]]:
    """One epoch of batches: utterances of similar length together, up to ``batch_s`` seconds each."""
    order = sorted(rows, key=lambda r: store.get(r, "clean").shape[0] + rng.random() * 8)
    batches, cur, dur = [], [], 0.0
    for r in order:
        d = store.get(r, "clean").shape[0] * store.frame_s
        if cur and dur + d > batch_s:
            batches.append(cur)
            cur, dur = [], 0.0
        cur.append(r)
        dur += d
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


def collate(batch: list[dict], store: FeatureStore, table: TokenTable, mix: tuple[float, ...],
            mean: np.ndarray, std: np.ndarray, rng: random.Random) -> tuple[torch.Tensor, ...]:
    feats = [(store.get(r, rng.choices(VERSIONS, weights=mix)[0]).astype(np.float32) - mean) / std for r in batch]
    texts = [table.encode(r["text"]) for r in batch]
    t_max = max(f.shape[0] for f in feats)
    n_max = max(len(t) for t in texts)
    speech = torch.zeros(len(batch), t_max, feats[0].shape[1])
    text = torch.full((len(batch), n_max), -1, dtype=torch.long)
    for i, (f, t) in enumerate(zip(feats, texts, strict=True)):
        speech[i, : f.shape[0]] = torch.from_numpy(f)
        text[i, : len(t)] = torch.tensor(t)
    return (speech, torch.tensor([f.shape[0] for f in feats]), text, torch.tensor([len(t) for t in texts]))


def learning_rate(step: int, cfg: AsrTrainingConfig) -> float:
    t = cfg.train
    if step < t.warmup:
        return t.lr * (step + 1) / t.warmup
    frac = (step - t.warmup) / max(t.steps - t.warmup, 1)
    return t.lr_final + 0.5 * (t.lr - t.lr_final) * (1 + math.cos(math.pi * min(frac, 1.0)))


def recognise_set(folder: Path, rows: list[dict], corpus: Path, versions: tuple[str, ...] = ("clean", "echo"),
                  threads: int = 1) -> dict[str, float]:
    """CER (Bangla) and WER (English) of ``rows`` recognised through the streaming runtime, per version."""
    from models.asr.paraformer import ParaformerRecognizer

    rec = ParaformerRecognizer(folder, threads=threads)
    out: dict[str, float] = {}
    for version in versions:
        counts = {"bn": [0, 0], "en": [0, 0]}
        for row in rows:
            if version == "clean":
                audio = read_wav(corpus / row["clean_wav"], 16000)
            else:
                with np.load(row["path"]) as z:
                    audio = z[f"{version}_audio"].astype(np.float32) / 32767
            e, n = error_counts(row["text"], rec.transcribe(audio), row["language"])
            counts[row["language"]][0] += e
            counts[row["language"]][1] += n
        out[f"cer_{version}"] = counts["bn"][0] / max(counts["bn"][1], 1)
        out[f"wer_{version}"] = counts["en"][0] / max(counts["en"][1], 1)
    return out


def valid_rows(rows: list[dict], n: int) -> list[dict]:
    """A fixed, language-balanced subset of the validation utterances (70 % Bangla)."""
    bn = [r for r in rows if r["language"] == "bn"]
    en = [r for r in rows if r["language"] == "en"]
    k = max(1, round(n * 0.7))
    return bn[:k] + en[: max(1, n - k)]


def warm_start(model: torch.nn.Module, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load a FunASR model folder's weights into ``model`` (same network, else ValueError naming the first
    difference); returns the folder's (mean, std) feature statistics, the normalisation those weights expect."""
    state, mean, std = read_folder_weights(folder)
    own = model.state_dict()
    for name in sorted(set(own) | set(state)):
        if name not in state or name not in own or own[name].shape != state[name].shape:
            have = tuple(state[name].shape) if name in state else "missing"
            want = tuple(own[name].shape) if name in own else "missing"
            raise ValueError(f"train.init_from: {folder} holds another network than the model section builds: "
                             f"{name} is {have} there, {want} here")
    model.load_state_dict(state)
    if mean.shape[0] != FEATURE_DIM:
        raise ValueError(f"train.init_from: {folder}/am.mvn has {mean.shape[0]} values, the features {FEATURE_DIM}")
    log.info("warm start from %s", folder)
    return mean, std


def train(cfg: AsrTrainingConfig, rows: list[dict], progress: bool = True) -> Path:
    """Train (resuming from ``out_dir/checkpoint.pt``); returns the path of the best checkpoint.

    ``rows`` are the example records (validation uses them); training uses :func:`training_rows`, and
    examples that appear in ``data.examples_dir`` while training runs (a build still going on) join at the
    next epoch.
    """
    from tqdm import tqdm

    t = cfg.train
    out = Path(t.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(t.threads)
    torch.manual_seed(t.seed)
    train_rows = training_rows(cfg)
    valid = valid_rows([r for r in rows if r["split"] == "valid"], t.valid_utterances)
    if not train_rows or not valid:
        raise ValueError(f"no training or validation utterances in {cfg.data.examples_dir}")
    store = FeatureStore(Path(cfg.data.corpus_dir), cfg.model.lfr_n)
    table = TokenTable(token_inventory())
    config = model_config(cfg)
    model = build_model(config, len(table.tokens))
    opt = torch.optim.Adam(model.parameters(), lr=t.lr, betas=(0.9, 0.98))
    stats_path = out / "cmvn.npz"

    def init() -> None:
        if t.init_from:
            mean, std = warm_start(model, Path(t.init_from))
        else:
            mean, std = feature_stats(store, train_rows)
        np.savez(stats_path, mean=mean, std=std)
        truncate_logs(out, -1)

    step, best = resume_or_start(model, opt, out / "checkpoint.pt", init)
    with np.load(stats_path) as z:
        mean, std = z["mean"], z["std"]
    mean32, std32 = mean.astype(np.float32), std.astype(np.float32)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("ASR model: %s parameters; %d training and %d validation utterances; resuming at step %d",
             f"{n_params:,}", len(train_rows), len(valid), step)
    (out / "config.json").write_text(json.dumps({"training": to_dict(cfg), "model": config}, indent=2,
                                                ensure_ascii=False))
    rng = random.Random(t.seed * 1000 + step)
    batches: list = []
    new_log = not (out / "log.csv").exists()
    log_file = (out / "log.csv").open("a", newline="")
    writer = csv.writer(log_file)
    if new_log:
        writer.writerow(["step", "loss", "loss_att", "loss_pre", "acc", "lr"])
    bar = tqdm(total=t.steps, initial=step, desc="asr train", disable=not progress)
    acc: list[list[float]] = []
    model.train()
    try:
        while step < t.steps:
            if not batches:
                fresh = training_rows(cfg)
                n_ex = sum(1 for r in fresh if r["path"])
                if n_ex > sum(1 for r in train_rows if r["path"]):
                    log.info("epoch with %d training utterances, %d of them with room and echo versions",
                             len(fresh), n_ex)
                    train_rows = fresh
                batches = make_batches(train_rows, store, t.batch_s, rng)
            speech, lengths, text, text_lengths = collate(batches.pop(), store, table, t.mix, mean32, std32, rng)
            lr = learning_rate(step, cfg)
            for g in opt.param_groups:
                g["lr"] = lr
            loss, stats, _ = model(speech, lengths, text, text_lengths)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
            opt.step()
            step += 1
            bar.update(1)
            acc.append([float(loss), _f(stats.get("loss_att")), _f(stats.get("loss_pre")), _f(stats.get("acc"))])
            if step % t.log_every == 0:
                m = np.mean(acc, axis=0)
                writer.writerow([step, *(f"{v:.4f}" for v in m), f"{lr:.6f}"])
                log_file.flush()
                bar.set_postfix(loss=f"{m[0]:.3f}", acc=f"{m[3]:.3f}")
                acc = []
            if step % t.valid_every == 0 or step == t.steps:
                model.eval()
                folder = write_model_folder(out / "model_step", config, model.state_dict(), mean, std)
                versions = ("clean", "room", "echo") if t.valid_room else ("clean", "echo")
                metrics = recognise_set(folder, valid, Path(cfg.data.corpus_dir), versions)
                model.train()
                record = {"step": step, **{k: round(v, 4) for k, v in metrics.items()}}
                with (out / "valid.jsonl").open("a") as f:
                    f.write(json.dumps(record) + "\n")
                log.info("step %d: %s", step, record)
                if best is None or selection_score(record) < selection_score(best):
                    best = record
                    save_atomic({"model": model.state_dict(), "step": step, "best": json.dumps(best)}, out / "best.pt")
            if step % t.checkpoint_every == 0 or step == t.steps:
                save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                             "best": json.dumps(best)}, out / "checkpoint.pt")
    finally:
        bar.close()
        log_file.close()
    shutil.rmtree(out / "model_step", ignore_errors=True)
    return out / "best.pt"


def selection_score(record: dict) -> float:
    """Lower is better: Bangla CER clean and with echo, English WER with half the weight."""
    return record["cer_clean"] + record["cer_echo"] + 0.5 * (record["wer_clean"] + record["wer_echo"])


def _f(v) -> float:  # noqa: ANN001
    if v is None:
        return float("nan")
    return float(v.item() if hasattr(v, "item") else v)
