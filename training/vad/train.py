"""VAD training loop: random crops of the prepared examples, BCE on speech and end of turn.

Loss = BCE(speech) + eot_weight · BCE(end of turn, frames labelled −1 ignored). Crops get a random
level change (applied exactly to the log-mel powers; the echo-estimate features of an echo-aware
model get the same change plus a small one of their own). Validation runs the model over the whole
held-out examples through the endpointer with the agent's default settings and reports the frame DCF
(0.75·P_false + 0.25·P_miss), the end-of-turn latency median, the premature-end rate at pauses inside
sentences and the onset latency, and in barge-in mode (the endpointer told when the far end plays):
false barge-ins per minute of echo-only audio and the barge-in latency of turns the user starts while the
agent speaks; the best checkpoint has the lowest ``selection_score``.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from agent.config import VadConfig
from models.vad.endpointer import Endpointer
from models.vad.features import FEATURES, POWER_FLOOR
from models.vad.metrics import (
    barge_in_metrics,
    frame_dcf,
    playing_frames,
    summarize,
    summarize_barge_in,
    turn_metrics,
)
from models.vad.net import VadDfsmn, input_groups
from models.vad.pitch import PITCH_FEATURES
from models.vad.power_floor import raise_floor
from training.common.loop import (
    WeightAverage,
    cosine_lr,
    load_state,
    resume_or_start,
    save_atomic,
    set_feature_stats,
)
from training.common.loop import plot_curves as draw_curves
from training.vad.config import VadTrainingConfig

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.pt"
SR = 16000
HOP = 320


def load_examples(paths: list[Path], echo_input: bool = True, pitch_input: bool = False,
                  power_floor: float = POWER_FLOOR, laec_input: bool = False) -> list[dict]:
    """Arrays and metadata of prepared examples (``training.vad.examples``); ``features`` holds the model's input
    (frames, width), its groups in the order of :func:`models.vad.net.input_groups`: the output's log-mel features with
    ``power_floor`` (:func:`raise_floor`), the echo estimate's for an echo-aware model, the LAEC output's for a
    LAEC-aware one, and the output's pitch features for a prosody-aware one."""
    stored = {"features": "features", "echo": "echo_features", "laec": "laec_features", "pitch": "pitch"}
    groups = input_groups(echo_input, laec_input, pitch_input)
    out = []
    for p in paths:
        with np.load(p.with_suffix(".npz")) as z:
            for name, _, _ in groups:
                if stored[name] not in z.files:
                    raise ValueError(f"{p.with_suffix('.npz')} has no {stored[name]} (built by an older version): build "
                                     "the examples into a new folder (data.train_dir, data.valid_dir)")
            level = np.concatenate([z[stored[n]].astype(np.float32) for n, _, lv in groups if lv], axis=1)
            feats = raise_floor(level, power_floor)  # the model's feature floor, applied exactly to the stored ones
            if pitch_input:
                feats = np.concatenate([feats, z["pitch"].astype(np.float32)], axis=1)
            far = z["far_active"] if "far_active" in z.files else np.zeros(feats.shape[0], np.int8)
            out.append({"features": feats, "speech": z["speech"], "eot": z["eot"], "far_active": far,
                        "meta": json.loads(p.with_suffix(".json").read_text())})
    return out


def change_level(features: torch.Tensor, gain_db: torch.Tensor, floor: float = POWER_FLOOR) -> torch.Tensor:
    """Log-mel powers of the same audio ``gain_db`` louder: log(g²·(e^f − floor) + floor)."""
    power = (torch.exp(features) - floor).clamp_min(0)
    return torch.log(power * 10 ** (gain_db / 10) + floor)


class Crops:
    """Random fixed-length crops (features, speech, eot) of in-memory examples."""

    def __init__(self, examples: list[dict], frames: int, gain_db: float, seed: int, echo_gain_db: float = 0.0,
                 power_floor: float = POWER_FLOOR, level_features: int | None = None) -> None:
        self.examples = examples
        self.level_features = level_features  # leading log-power features that a level change moves (None: all)
        self.power_floor = power_floor
        self.frames = frames
        self.gain_db = gain_db
        self.echo_gain_db = echo_gain_db
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(features, speech, eot, far_active), each (size, frames[, features])."""
        feats, speech, eot, far = [], [], [], []
        for _ in range(size):
            ex = self.examples[int(self.rng.integers(len(self.examples)))]
            total = ex["features"].shape[0]
            f = min(self.frames, total)
            a = int(self.rng.integers(0, total - f + 1))
            feats.append(ex["features"][a : a + f])
            speech.append(ex["speech"][a : a + f])
            eot.append(ex["eot"][a : a + f])
            far.append(ex["far_active"][a : a + f])
        f = min(x.shape[0] for x in feats)
        x = torch.from_numpy(np.stack([v[:f] for v in feats]))
        level = x.shape[2] if self.level_features is None else self.level_features
        gains = self.rng.uniform(-self.gain_db, self.gain_db, (size, 1, 1)) * np.ones((1, 1, level))
        if level >= 2 * FEATURES:  # echo-aware: the estimate's own small change on top (it is the second group)
            gains[:, :, FEATURES : 2 * FEATURES] += self.rng.uniform(-self.echo_gain_db, self.echo_gain_db, (size, 1, 1))
        x = torch.cat([change_level(x[..., :level], torch.from_numpy(gains.astype(np.float32)), self.power_floor),
                       x[..., level:]], dim=-1)  # pitch features do not depend on the level
        return (x, torch.from_numpy(np.stack([v[:f] for v in speech]).astype(np.float32)),
                torch.from_numpy(np.stack([v[:f] for v in eot]).astype(np.float32)),
                torch.from_numpy(np.stack([v[:f] for v in far]).astype(np.float32)))


def vad_loss(model: VadDfsmn, feats: torch.Tensor, speech: torch.Tensor, eot: torch.Tensor, far: torch.Tensor,
             eot_weight: float, echo_weight: float = 1.0, pause_weight: float = 1.0
             ) -> tuple[torch.Tensor, dict[str, float]]:
    """BCE(speech) with frames of echo and no user (far end active, no speech) weighted ``echo_weight``, plus
    ``eot_weight`` · BCE(end of turn) over labelled frames, the silent frames of pauses inside sentences (label 0,
    no speech: where a premature end of turn is decided) weighted ``pause_weight``."""
    logits = model(feats)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    weights = 1.0 + (echo_weight - 1.0) * far * (1.0 - speech)
    l_speech = bce(logits[..., 0], speech, weight=weights / weights.mean())
    mask = eot >= 0
    pause = ((eot == 0) & (speech == 0)).float()
    w_eot = (1.0 + (pause_weight - 1.0) * pause)[mask]
    l_eot = bce(logits[..., 1][mask], eot[mask], weight=w_eot / w_eot.mean()) if mask.any() else logits.sum() * 0
    return l_speech + eot_weight * l_eot, {"speech": float(l_speech.detach()), "eot": float(l_eot.detach())}


def feature_stats(examples: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
    x = np.concatenate([ex["features"] for ex in examples[:200]])
    return torch.from_numpy(x.mean(0)), torch.from_numpy(x.std(0) + 1e-3)


def evaluate(probs: list[np.ndarray], examples: list[dict], turns: dict[str, dict],
             config: VadConfig | None = None) -> dict[str, float]:
    """Metrics of per-frame probabilities (frames, 2) over examples (with their placed turns); see the module doc.
    Barge-in mode runs without the echo chain's gate (not kept in the examples): the model's own judgement."""
    config = config or VadConfig()
    barge_cfg = replace(config, barge_in_echo_gate=False, barge_in_cooldown_ms=0.0)
    tail = int(config.barge_in_tail_ms / 20)
    decisions, truth = [], []
    pooled: dict[str, list] = {}
    barge: dict[str, list] = {"barge_in_latency_ms": [], "barge_in_missed": []}
    false_onsets, false_barge_ins, echo_minutes = 0, 0, 0.0
    for p, ex in zip(probs, examples, strict=True):
        ep = Endpointer(config)
        events = [ev for t in range(p.shape[0]) for ev in ep.process(float(p[t, 0]), float(p[t, 1]))]
        decisions.append(p[:, 0] >= config.speech_threshold)
        truth.append(ex["speech"])
        placed = [(off, turns[tid]) for off, tid in ex["meta"]["turns"] if tid in turns]
        for k, v in turn_metrics(events, placed, p.shape[0] * HOP).items():
            pooled.setdefault(k, []).extend(v)
        if ex["meta"]["kind"] == "listen":
            continue
        playing = playing_frames(ex["far_active"][: p.shape[0]], tail)
        ep = Endpointer(barge_cfg)
        barge_events = [ev for t in range(p.shape[0]) for ev in ep.process(float(p[t, 0]), float(p[t, 1]),
                                                                            playing=bool(playing[t]))]
        for k, v in barge_in_metrics(barge_events, placed, playing, p.shape[0] * HOP).items():
            barge[k].extend(v)
        if ex["meta"]["kind"] == "echo_only":
            false_onsets += sum(ev.kind == "speech_start" for ev in events)
            false_barge_ins += sum(ev.kind == "barge_in" for ev in barge_events)
            echo_minutes += p.shape[0] * HOP / SR / 60
    dcf = frame_dcf(np.concatenate(decisions), np.concatenate(truth))
    out = {**dcf, **summarize(pooled)}
    out["false_onsets_per_echo_min"] = false_onsets / echo_minutes if echo_minutes else float("nan")
    out["false_barge_ins_per_echo_min"] = false_barge_ins / echo_minutes if echo_minutes else float("nan")
    return {**out, **summarize_barge_in(barge)}


def selection_score(m: dict) -> float:
    """Lower is better: DCF (%) + premature rate (%) + end-of-turn latency / 100 ms + missed ends (%), and for
    barge-in: missed barge-ins (%) + latency / 100 ms + 10 × false barge-ins per minute of echo."""
    return (100 * m["dcf"] + 100 * np.nan_to_num(m["premature_rate"]) + np.nan_to_num(m["eot_latency_median_ms"]) / 100
            + 100 * np.nan_to_num(m["eot_missed_rate"]) + 100 * np.nan_to_num(m.get("barge_in_missed_rate", 0.0))
            + np.nan_to_num(m.get("barge_in_latency_median_ms", 0.0)) / 100
            + 10 * np.nan_to_num(m.get("false_barge_ins_per_echo_min", 0.0)))


def predict(model: VadDfsmn, features: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(model(torch.from_numpy(features)[None]))[0].numpy()


def load_turns(turn_dir: Path) -> dict[str, dict]:
    return {json.loads(p.read_text(encoding="utf-8"))["id"]: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted((turn_dir / "meta").glob("*.json"))}


def load_model(path: Path) -> VadDfsmn:
    """A trained model from a checkpoint (``weights_only`` loading; a clear error when it is bad); echo-aware or
    not, as its input layer says."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        weights = ckpt["model"] if "model" in ckpt else ckpt
        inputs = int(weights["input.weight"].shape[1])
        names = str(ckpt.get("inputs", "")).split(",") if "model" in ckpt else []
        if names == [""] or not names:  # checkpoints from before the list was kept: 40, 43, 80 or 83 inputs
            names = ["features"] + ["echo"] * (inputs // FEATURES == 2) + ["pitch"] * (inputs % FEATURES == PITCH_FEATURES)
        echo, laec, pitch = ("echo" in names), ("laec" in names), ("pitch" in names)
        floor = float(ckpt.get("power_floor", POWER_FLOOR)) if "model" in ckpt else POWER_FLOOR
        branch = len({k.split(".")[1] for k in weights if k.startswith("eot_layers.")})
    except FileNotFoundError:
        raise FileNotFoundError(f"VAD checkpoint not found: {path}") from None
    except Exception as exc:
        raise ValueError(f"{path} is not a VAD checkpoint: {exc}") from None
    model = load_state(VadDfsmn(echo_input=echo, pitch_input=pitch, laec_input=laec, eot_layers=branch), path, "VAD")
    model.power_floor = floor
    return model


def initial_weights(model: VadDfsmn, source: Path, power_floor: float) -> None:
    """Fill ``model`` with the weights of a trained VAD (``train.init_from``: an exported .onnx or a checkpoint);
    its end-of-turn branch, when the source has none, stays at its zero start. ValueError when the source reads other
    inputs or has another feature floor."""
    if source.suffix == ".onnx":
        from training.vad.export import model_from_fused_onnx

        trained, _ = model_from_fused_onnx(source)
    else:
        trained = load_model(source)
    have = [name for name, _, _ in trained.groups]
    want = [name for name, _, _ in model.groups]
    if have != want:
        raise ValueError(f"train.init_from {source} reads {have}, this config's model {want}")
    if trained.power_floor != power_floor:
        raise ValueError(f"train.init_from {source} has power_floor {trained.power_floor:g}, this config "
                         f"{power_floor:g}")
    weights = trained.state_dict()
    missing = [k for k in model.state_dict() if k not in weights and not k.startswith(("eot_layers.", "eot_output."))]
    extra = [k for k in weights if k not in model.state_dict()]
    if missing or extra:
        raise ValueError(f"train.init_from {source} does not fit this model: missing {missing[:3]}, extra {extra[:3]}")
    model.load_state_dict(weights, strict=False)
    log.info("starting from the weights of %s", source)


def plot_curves(out: Path) -> None:
    """Training loss and validation metrics into ``out/curves.png``."""
    draw_curves(out, ("dcf", "premature_rate", "eot_latency_median_ms"))


def train(cfg: VadTrainingConfig, train_paths: list[Path], valid_paths: list[Path], progress: bool = True) -> Path:
    """Train (resuming from ``out_dir/checkpoint.pt``); returns the best checkpoint's path."""
    from tqdm import tqdm

    t = cfg.train
    torch.manual_seed(t.seed)
    torch.set_num_threads(t.threads)
    out = Path(t.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not train_paths:
        raise ValueError(f"no training examples in {cfg.data.train_dir}")
    if t.freeze_trunk and not (t.init_from and t.eot_layers):
        raise ValueError("train.freeze_trunk needs train.init_from (a trained VAD) and train.eot_layers > 0")
    train_ex = load_examples(train_paths, t.echo_input, t.pitch_input, t.power_floor, t.laec_input)
    valid_ex = load_examples(valid_paths, t.echo_input, t.pitch_input, t.power_floor, t.laec_input)
    turns = load_turns(Path(cfg.data.turns_dir) / "valid")
    model = VadDfsmn(echo_input=t.echo_input, pitch_input=t.pitch_input, laec_input=t.laec_input,
                     eot_layers=t.eot_layers)
    inputs = ",".join(name for name, _, _ in model.groups)  # kept in every checkpoint (load_model)
    model.power_floor = t.power_floor
    trained = model.branch_parameters() if t.freeze_trunk else list(model.parameters())
    if t.freeze_trunk:  # the trunk (and the speech output) stays as init_from left it
        branch = {id(p) for p in trained}
        for p in model.parameters():
            p.requires_grad_(id(p) in branch)
    opt = torch.optim.Adam(trained, lr=t.lr)
    ckpt_path = out / CHECKPOINT

    def start() -> None:
        if t.init_from:
            initial_weights(model, Path(t.init_from), t.power_floor)
        else:
            set_feature_stats(model, *feature_stats(train_ex))

    step, best = resume_or_start(model, opt, ckpt_path, start)
    ema = WeightAverage(model, t.ema_decay) if t.ema_decay > 0 else None
    if ema is not None and step:
        saved = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if "ema" in saved:  # else (a run begun without it) the average starts from the resumed weights
            ema.load(saved["ema"], int(saved["ema_updates"]))
    scored = VadDfsmn(echo_input=t.echo_input, pitch_input=t.pitch_input, laec_input=t.laec_input,
                      eot_layers=t.eot_layers) if ema is not None else model  # what is validated and kept
    crops = Crops(train_ex, int(t.crop_s * SR / HOP), t.gain_db, seed=t.seed * 1_000_003 + step,
                  echo_gain_db=t.echo_gain_db, power_floor=t.power_floor, level_features=model.level_features)
    new_log = not (out / "log.csv").exists()
    log_fh = (out / "log.csv").open("a", newline="")
    writer = csv.writer(log_fh)
    if new_log:
        writer.writerow(["step", "loss", "speech", "eot", "lr", "seconds"])
    bar = tqdm(total=t.steps, initial=step, desc="train VAD", disable=not progress, unit="step")
    t0 = time.time()
    model.train()
    while step < t.steps:
        lr = cosine_lr(step, t.steps, t.lr, t.lr_final)
        for group in opt.param_groups:
            group["lr"] = lr
        loss, parts = vad_loss(model, *crops.batch(t.batch), t.eot_weight, t.echo_weight, t.pause_weight)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, t.grad_clip)
        opt.step()
        if ema is not None:
            ema.update()
        step += 1
        bar.update()
        bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
        if step % t.log_every == 0 or step == t.steps:
            writer.writerow([step, f"{float(loss.detach()):.4f}", f"{parts['speech']:.4f}", f"{parts['eot']:.4f}",
                             f"{lr:.2e}", f"{time.time() - t0:.1f}"])
            log_fh.flush()
        if valid_ex and (step % t.valid_every == 0 or step == t.steps):
            if ema is not None:
                scored.load_state_dict(ema.state_dict())
            scored.eval()
            metrics = {"step": step, **evaluate([predict(scored, ex["features"]) for ex in valid_ex], valid_ex, turns)}
            model.train()
            with (out / "valid.jsonl").open("a") as fh:
                fh.write(json.dumps(metrics) + "\n")
            score = selection_score(metrics)
            validated = {"model": scored.state_dict(), "step": step, "metrics": json.dumps(metrics),
                         "power_floor": t.power_floor, "inputs": inputs}
            if t.keep_validated:  # the rule picks one; the benchmark may prefer another trade-off
                save_atomic(validated, out / f"valid_step_{step:05d}.pt")
            if best is None or score < best["score"]:
                best = {**metrics, "score": score}
                save_atomic(validated, out / "best.pt")
            plot_curves(out)
            bar.write(f"step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k != "step"))
        if step % t.checkpoint_every == 0 or step == t.steps:
            state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "inputs": inputs,
                     "config": json.dumps(asdict(cfg)), "best": json.dumps(best)}
            if ema is not None:
                state.update(ema=ema.state_dict(), ema_updates=ema.updates)
            save_atomic(state, ckpt_path)
    bar.close()
    log_fh.close()
    if not (out / "best.pt").exists():
        final = ema.state_dict() if ema is not None else model.state_dict()
        save_atomic({"model": final, "step": step, "metrics": "null", "power_floor": t.power_floor, "inputs": inputs},
                    out / "best.pt")
    return out / "best.pt"
