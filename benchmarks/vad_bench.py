"""VAD benchmark: the semantic VAD against webrtcvad and Silero VAD, side by side in one run.

    python benchmarks/vad_bench.py [--quick] [--json OUT.json] [--model PATH] [--res-model M] [--sweep] [--no-cache]
        [--set vad.KEY=VALUE ...]   (endpointer settings for every system, e.g. vad.barge_in_max_gap_ms=40)

Test material (built here, offline, from voices and devices never used in training): user turns of
the test voices (:mod:`training.vad.turns`, pauses of 150–700 ms inside sentences) in simulated rooms
(:mod:`training.vad.examples`), all passed through the echo chain; every system sees the chain's VAD
output (β_vad), as in the agent. ``--res-model`` chooses the chain's residual echo masks (its ``aec.res_model``:
``shipped``, ``null`` for the classical masks, or a path; default: the agent's default), so a VAD is measured on
the chain it was trained for.

Conditions:
- ``listen``: the agent is silent (noise, reverberation);
- ``ser_-20dB``: the agent speaks while the user speaks, SER −20 dB at the mic;
- ``echo_only``: 10 minutes (``--quick``: 1) of the agent's speech at 100 % volume and nobody else (voices of
  the test split as the agent);
- ``agent_voice``: 10 minutes (``--quick``: 1) of the agent's real default voice (the VITS demo voice) reading
  the project's Bangla sentences at 100 % volume in the default room, nobody else (issue 8's false barge-in
  target is about this voice); not cached (about a minute to make).

Systems (every one drives the same :class:`~models.vad.endpointer.Endpointer`, so onsets and ends of
turn are decided the same way): ``ours`` (speech and end-of-turn probabilities; end of turn from the
model, ``vad.max_silence_ms`` as the fallback); ``webrtc1``/``webrtc3`` (webrtcvad modes 1 and 3, 20 ms
frames, end of turn after 800 ms of silence, FSMN-VAD's default); ``silero500``/``silero800`` (Silero VAD
from its package, 512-sample chunks, end of turn after 500/800 ms of silence).

Metrics: frame DCF = 0.75·P_false + 0.25·P_miss (and the reverse weighting) of raw frame decisions;
end-of-turn latency (true end of the last sentence → decision) median and 90th percentile; premature
ends of turn (share of pauses inside sentences during which an end of turn was decided); ends of turn
decided in gaps between the sentences of one turn (reported apart: a finished sentence may end a
turn); onset latency; false onsets on echo-only audio, in listening mode and in barge-in mode (the agent is
playing: the agent's barge-in settings, the chain's echo gate when ``vad.barge_in_echo_gate``); at SER
−20 dB, barge-in latency (user's onset → barge-in decision) and missed barge-ins in the same mode; and
speed (ms per 10 ms of audio, one thread, medians of repeated runs in this process). An echo-aware model
also reads the chain's echo estimate.

The test material is kept in ``cache/vad/bench_material/`` under a key made of its size and a digest of
the code that builds it (the room, the echo chain, the example and turn builders, ``build_material``), so a rerun with
other models or settings skips the simulation and a change of that code builds it anew; ``--no-cache``
builds it in memory only. ``--sweep`` adds a table of the barge-in settings for ``ours``
(``vad.barge_in_threshold`` × ``vad.barge_in_min_speech_ms``, then the quick run's
``vad.barge_in_fast_min_speech_ms`` × ``vad.barge_in_fast_threshold`` at the given threshold and min speech): false
barge-ins in the echo-only minutes against latency and missed barge-ins at SER −20 dB, to choose the agent's
defaults from measurements.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import inspect
import json
import logging
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from agent.config import AecConfig, VadConfig  # noqa: E402
from models.vad.endpointer import Endpointer  # noqa: E402
from models.vad.metrics import (  # noqa: E402
    barge_in_metrics,
    frame_dcf,
    playing_frames,
    summarize,
    summarize_barge_in,
    turn_metrics,
)
from models.vad.runtime import SHIPPED_MODEL, SemanticVad  # noqa: E402
from models.vad.text_cue import SHIPPED_CUE  # noqa: E402

SR = 16000
HOP = 320
SYSTEMS = ("ours", "ours_text", "webrtc1", "webrtc3", "silero500", "silero800")
TIMEOUT_MS = {"webrtc1": 800, "webrtc3": 800, "silero500": 500, "silero800": 800}
TURNS = Path("cache/vad/turns")  # test/ (the benchmark) and valid/ (--split valid: tuning)
MATERIAL_CACHE = Path("cache/vad/bench_material")
ROOT = Path(__file__).resolve().parents[1]
MATERIAL_CODE = ("audio_io/room.py", "models/aec", "models/vad/features.py", "training/vad/examples.py",
                 "training/vad/turns.py", "training/res/scenes.py")  # + build_material and the room and aec defaults
KEPT = ("audio", "asr", "speech", "echo", "laec", "echo_dominant", "far_active")  # arrays of one material example


# --- per-frame probabilities of each system: (frames, 2) [speech, end of turn] -----------------------------

def probs_ours(audio: np.ndarray, vad: SemanticVad, echo: np.ndarray | None = None,
               laec: np.ndarray | None = None) -> np.ndarray:
    """``echo``: the chain's echo estimate (read by an echo-aware model); ``laec``: its linear canceller's output
    (read by a LAEC-aware model)."""
    vad.reset()
    block = lambda x, i: None if x is None else x[i : i + HOP]  # noqa: E731
    return np.array([vad.process(audio[i : i + HOP], block(echo, i), block(laec, i))
                     for i in range(0, len(audio) - HOP + 1, HOP)], np.float32)


def probs_webrtc(audio: np.ndarray, mode: int) -> np.ndarray:
    import webrtcvad

    v = webrtcvad.Vad(mode)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    out = [float(v.is_speech(pcm[i : i + HOP].tobytes(), SR)) for i in range(0, len(pcm) - HOP + 1, HOP)]
    return np.stack([np.array(out, np.float32), np.zeros(len(out), np.float32)], 1)


class Silero:
    def __init__(self) -> None:
        from silero_vad import load_silero_vad

        self.model = load_silero_vad(onnx=True)

    def probs(self, audio: np.ndarray) -> np.ndarray:
        """Silero's probability per 32 ms chunk, held for the 20 ms frames that end after the chunk (causal)."""
        import torch

        self.model.reset_states()
        chunk = 512
        ends, values = [], []
        for i in range(0, len(audio) - chunk + 1, chunk):
            values.append(float(self.model(torch.from_numpy(audio[i : i + chunk].astype(np.float32)), SR)))
            ends.append(i + chunk)
        frames = len(audio) // HOP
        out = np.zeros((frames, 2), np.float32)
        j = -1
        for t in range(frames):
            while j + 1 < len(ends) and ends[j + 1] <= (t + 1) * HOP:
                j += 1
            out[t, 0] = values[j] if j >= 0 else 0.0
        return out


# --- scoring -------------------------------------------------------------------------------------------------

NOT_ENDPOINTER = ("vad.model", "vad.threads")  # vad.* keys the benchmark takes elsewhere (--model) or not at all


def endpointer_settings(settings: list[str]) -> VadConfig:
    """The agent's ``vad`` section with ``vad.KEY=VALUE`` overrides (a ConfigError names a bad one)."""
    from agent.config import load_config
    from agent.config.base import ConfigError

    bad = [s for s in settings if not s.startswith("vad.")]
    if bad:
        raise SystemExit(f"error: --set {bad[0]}: only vad.* settings apply to this benchmark")
    model = [s for s in settings if s.split("=", 1)[0].strip() in NOT_ENDPOINTER]
    if model:
        raise SystemExit(f"error: --set {model[0]}: not an endpointer setting (name the model with --model)")
    try:
        return load_config(None, settings).vad
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from None


def endpointer_config(system: str, base: VadConfig) -> VadConfig:
    if system in ("ours", "ours_text"):
        return base
    # baselines: no end-of-turn model; the turn ends after a fixed silence
    return dataclasses.replace(base, end_of_turn_threshold=1.0, max_silence_ms=float(TIMEOUT_MS[system]))


def run_endpointer(probs: np.ndarray, config: VadConfig, playing: bool | np.ndarray = False,
                   echo_dominant: np.ndarray | None = None) -> list:
    """Endpointer events; ``playing``: one flag for all frames or one per frame."""
    ep = Endpointer(config)
    events = []
    for t in range(probs.shape[0]):
        gate = bool(echo_dominant[t]) if echo_dominant is not None and t < len(echo_dominant) else False
        play = bool(playing[min(t, len(playing) - 1)]) if isinstance(playing, np.ndarray) else playing
        events += ep.process(float(probs[t, 0]), float(probs[t, 1]), playing=play, echo_dominant=gate)
    return events


def score_condition(system: str, probs: list[np.ndarray], examples: list[dict], base: VadConfig,
                    text: TextCueRun | None = None) -> dict:
    """Frame DCF, end-of-turn and onset metrics (listening mode) and barge-in metrics (where the agent plays);
    ``text``: end the turns with the text cue as well (``ours_text``)."""
    cfg = endpointer_config(system, base)
    threshold = 0.5
    decisions = np.concatenate([p[:, 0] >= threshold for p in probs])
    truth = np.concatenate([ex["speech"][: p.shape[0]] for p, ex in zip(probs, examples, strict=True)])
    pooled: dict[str, list] = {}
    onsets = 0
    for p, ex in zip(probs, examples, strict=True):
        events = text.events(p, ex, cfg) if text is not None else run_endpointer(p, cfg)
        onsets += sum(e.kind == "speech_start" for e in events)
        for k, v in turn_metrics(events, ex["placed"], p.shape[0] * HOP).items():
            pooled.setdefault(k, []).extend(v)
    return {**frame_dcf(decisions, truth), **summarize(pooled), "onsets": onsets, **barge_in_scores(probs, examples, cfg)}


class TextCueRun:
    """``ours_text``: the listening agent's endpointing with the end-of-turn text cue
    (:func:`models.vad.text_cue.endpoint_with_text`): the shipped ASR on the chain's ASR output, its text scored once
    per pause; decoded texts are kept per example across calls. ``oracle``: the true words of the clauses heard so
    far instead of the ASR's (what the cue could do with a perfect recogniser), scored by a cue trained without the
    sentences of ``oracle``'s turns (:func:`training.vad.text_cue.train_cue`'s ``exclude``)."""

    def __init__(self, cue_path: Path, oracle: list[dict] | None = None) -> None:
        from agent.config import AgentConfig, AsrConfig
        from models.asr.paraformer import recognizer_from_config
        from models.vad.text_cue import SentenceEndCue

        self.oracle = oracle is not None
        self.path = cue_path
        if self.oracle:
            from training.vad.text_cue import train_cue, turn_sentences

            exclude = {s for ex in oracle for _, turn in ex["placed"] for s in turn_sentences(turn)}
            self.cue = train_cue(exclude=exclude)
        else:
            self.cue = SentenceEndCue.load(cue_path)
            self.recognizer = recognizer_from_config(AsrConfig())
        self.preroll = int(AgentConfig().agent.asr_preroll_ms * SR / 1000)
        self.spans: dict[int, object] = {}

    def events(self, probs: np.ndarray, example: dict, cfg: VadConfig) -> list:
        from models.vad.text_cue import asr_spans, endpoint_with_text

        if self.oracle:
            spans = oracle_spans(example["placed"])
        else:
            key = id(example["asr"])
            if key not in self.spans:
                self.spans[key] = asr_spans(self.recognizer, np.asarray(example["asr"], np.float32))
            spans = self.spans[key]
        return endpoint_with_text(probs, cfg, self.cue, spans, self.preroll)


def oracle_spans(placed: list[tuple[int, dict]]):  # noqa: ANN201
    """``text_of_span`` of the true words: every clause that ends after ``start`` and by ``end`` (samples)."""
    clauses = sorted((off + int(b * SR), text) for off, turn in placed
                     for (_, b), text in zip(turn["speech"], turn["clauses"], strict=True))

    def text_of_span(start: int, end: int) -> str:
        return " ".join(text for t, text in clauses if start < t <= end)

    return text_of_span


def barge_in_scores(probs: list[np.ndarray], examples: list[dict], cfg: VadConfig) -> dict:
    """Barge-in latency and missed barge-ins over the examples where the agent speaks (barge-in mode as in the
    agent, its echo gate included); empty when the agent never speaks."""
    barge: dict[str, list] = {"barge_in_latency_ms": [], "barge_in_missed": []}
    for p, ex in zip(probs, examples, strict=True):
        if ex["far_active"].any():
            playing = playing_frames(ex["far_active"][: p.shape[0]], int(cfg.barge_in_tail_ms / 20))
            b_events = run_endpointer(p, cfg, playing, ex["echo_dominant"])
            for k, v in barge_in_metrics(b_events, ex["placed"], playing, p.shape[0] * HOP).items():
                barge[k].extend(v)
    return summarize_barge_in(barge) if barge["barge_in_missed"] else {}


SWEEP_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
SWEEP_MIN_SPEECH_MS = (80, 120, 160, 200, 240)


SWEEP_FAST_MIN_SPEECH_MS = (0, 60, 80, 100)
SWEEP_FAST_THRESHOLDS = (0.9, 0.95, 0.98)


def sweep_barge_in(double: tuple[list, list], echo_only: tuple[list, list], agent_voice: tuple[list, list],
                   base: VadConfig) -> list[dict]:
    """False barge-ins on the echo-only material and on the agent's own voice, and barge-in latency / misses at
    SER −20 dB, for each (threshold, min speech) pair, then (with ``base``'s threshold and min speech) for each
    quick run (``barge_in_fast_min_speech_ms`` × ``barge_in_fast_threshold``; 0 ms = no quick run, once); each
    argument but ``base``: (probabilities, examples). Rows name all four settings."""
    grid = [(th, float(ms), base.barge_in_fast_min_speech_ms, base.barge_in_fast_threshold)
            for th in SWEEP_THRESHOLDS for ms in SWEEP_MIN_SPEECH_MS]
    grid += [(base.barge_in_threshold, base.barge_in_min_speech_ms, float(fast_ms), fast_th)
             for fast_ms in SWEEP_FAST_MIN_SPEECH_MS for fast_th in SWEEP_FAST_THRESHOLDS[: 1 if fast_ms == 0 else None]]
    rows = []
    for threshold, min_ms, fast_ms, fast_th in grid:
        cfg = dataclasses.replace(base, barge_in_threshold=threshold, barge_in_min_speech_ms=min_ms,
                                  barge_in_fast_min_speech_ms=fast_ms, barge_in_fast_threshold=fast_th)
        fo = false_onsets("ours", *echo_only, cfg)
        rows.append({"barge_in_threshold": threshold, "barge_in_min_speech_ms": min_ms,
                     "barge_in_fast_min_speech_ms": fast_ms, "barge_in_fast_threshold": fast_th,
                     "false_barge_ins": fo["barge_in_mode"], "echo_minutes": fo["minutes"],
                     "agent_voice_false_barge_ins": false_onsets("ours", *agent_voice, cfg)["barge_in_mode"],
                     **barge_in_scores(*double, cfg)})
    return rows


def false_onsets(system: str, probs: list[np.ndarray], examples: list[dict], base: VadConfig) -> dict:
    cfg = endpointer_config(system, base)
    listening = sum(sum(e.kind == "speech_start" for e in run_endpointer(p, cfg)) for p in probs)
    out = {"listening": listening}
    out["barge_in_mode"] = sum(sum(e.kind == "barge_in" for e in run_endpointer(p, cfg, True, ex["echo_dominant"]))
                               for p, ex in zip(probs, examples, strict=True))
    out["minutes"] = sum(p.shape[0] for p in probs) * HOP / SR / 60
    out["p_false"] = float(np.mean(np.concatenate([p[:, 0] >= 0.5 for p in probs])))
    return out


# --- test material -------------------------------------------------------------------------------------------

AGENT_SCENARIO = ROOT / "configs" / "scenarios" / "long" / "monologue_30min.yaml"


def agent_voice_material(minutes: float, res_model: str | None = None) -> list[dict]:
    """``minutes`` of the agent's own default voice (``tts.*`` defaults: the VITS demo voice) reading what it reads
    in the 30-minute monologue scenario (the project's Bangla sentences), played at 100 % volume in the default
    room with nobody else, through the echo chain (``aec.res_model`` = ``res_model``)."""
    from agent.config import AecConfig, RoomConfig, build, load_config
    from agent.simulate import load_scenario
    from agent.speech_out import build_engine
    from audio_io.room import SimulatedRoom
    from models.aec.chain import run_chain

    text = load_scenario(AGENT_SCENARIO).agent.full_greeting
    want = int(minutes * 60 * SR)
    chunks, n = [], 0
    for chunk in build_engine(load_config().tts).stream(text):
        chunks.append(chunk)
        n += chunk.shape[0]
        if n >= want:
            break
    far = np.concatenate(chunks)[:want].astype(np.float64)
    room = SimulatedRoom(build(RoomConfig, {"seed": 0, "volume": 1.0}))
    _, truth = room.run(far.astype(np.float32))
    mic = truth["echo"].astype(np.float64) + truth["noise"].astype(np.float64)
    chain = run_chain(mic, far, dataclasses.replace(AecConfig(), res_model=res_model))
    frames = chain.vad.shape[0] // HOP
    seen = chain.stats[1 : frames + 1]
    return [{"audio": chain.vad.astype(np.float64), "echo": chain.echo.astype(np.float64),
             "laec": chain.laec.astype(np.float64), "echo_dominant": np.array([s.far_end_active and not s.double_talk for s in seen]),
             "far_active": np.array([s.far_end_active for s in seen], dtype=np.int8),
             "speech": np.zeros(frames, np.int8), "placed": []}]


def material_key(count: int, echo_minutes: float, res_model: str | None = None, split: str = "test") -> str:
    """Size and a digest of the code that builds the material (a change of it builds the material anew): the
    modules it uses and :func:`build_material` itself (not the rest of this file, so scoring changes keep it), the
    default values of the config sections it reads (``room`` and ``aec``: not the whole schema file, so a new
    default of another section, e.g. ``vad``, keeps it), and the chain's ``res_model`` (with the model file's bytes)."""
    from agent.config import RoomConfig

    h = hashlib.sha1(inspect.getsource(build_material).encode())
    h.update(repr(RoomConfig()).encode() + b"\0" + repr(AecConfig()).encode())
    for name in MATERIAL_CODE:
        path = ROOT / name
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(f.relative_to(ROOT).as_posix().encode() + b"\0" + f.read_bytes())
    from models.aec.chain import resolve_res_model

    path = resolve_res_model(res_model)  # None: the classical masks (null, none, ...)
    if path is not None:
        h.update(b"res\0" + (path.read_bytes() if path.is_file() else str(path).encode()))
    prefix = "" if split == "test" else f"{split}_"
    return f"{prefix}n{count}_echo{echo_minutes:g}min_{h.hexdigest()[:12]}"


def save_material(material: dict[str, list[dict]], folder: Path) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")  # two benchmarks may build the same material at once
    tmp.mkdir(exist_ok=True)
    arrays = {f"{cond}/{i}/{k}": ex[k] for cond, exs in material.items() for i, ex in enumerate(exs) for k in KEPT}
    np.savez(tmp / "arrays.npz", **arrays)
    placed = {cond: [[[int(off), t] for off, t in ex["placed"]] for ex in exs] for cond, exs in material.items()}
    (tmp / "placed.json").write_text(json.dumps(placed, ensure_ascii=False), encoding="utf-8")
    try:
        tmp.replace(folder)
    except OSError:
        if not (folder / "placed.json").exists():
            raise
        shutil.rmtree(tmp)  # the other process saved the same material first


def load_material(folder: Path) -> dict[str, list[dict]]:
    placed = json.loads((folder / "placed.json").read_text(encoding="utf-8"))
    with np.load(folder / "arrays.npz", allow_pickle=False) as z:
        return {cond: [{**{k: z[f"{cond}/{i}/{k}"] for k in KEPT}, "placed": [(off, t) for off, t in pl]}
                       for i, pl in enumerate(items)] for cond, items in placed.items()}


def cached_material(count: int, echo_minutes: float, progress: bool, use_cache: bool = True,
                    res_model: str | None = None, split: str = "test") -> dict[str, list[dict]]:
    """:func:`build_material`, kept in :data:`MATERIAL_CACHE` (see the module doc)."""
    folder = MATERIAL_CACHE / material_key(count, echo_minutes, res_model, split)
    if use_cache and (folder / "placed.json").exists():
        try:
            return load_material(folder)
        except (OSError, ValueError, KeyError) as exc:
            print(f"rebuilding the test material: {folder} is unreadable ({exc})", file=sys.stderr)
    material = build_material(count, echo_minutes, progress, res_model, split)
    if use_cache:
        save_material(material, folder)
    return material


def build_material(count: int, echo_minutes: float, progress: bool, res_model: str | None = None,
                   split: str = "test") -> dict[str, list[dict]]:
    """The three conditions of ``split``'s voices; ``split`` "valid" (held-out voices of training's validation,
    other devices and seeds than the benchmark's: for choosing settings) builds the ``listen`` condition only."""
    from training.vad.examples import make_example
    from training.vad.turns import build_turns

    turn_dir = TURNS / split
    turns = build_turns(turn_dir, split, 150, 0, 2, progress)
    utts: dict[str, list[Path]] = {}  # the agent's speech: the split's turns (other voices than the user's, per example)
    for t in turns:
        utts.setdefault(t["voice_id"], []).append(turn_dir / t["file"])
    seconds = 16.0
    plan = [("listen", i, {}) for i in range(count)]
    if split == "test":
        plan += [("ser_-20dB", i, {}) for i in range(count)]
        plan += [("echo_only", i, {"volume": 1.0}) for i in range(int(np.ceil(echo_minutes * 60 / seconds)))]
    first_seed, profile_seed = (2_000_000, 2) if split == "test" else (3_000_000, 3)
    out: dict[str, list[dict]] = {c: [] for c in ("listen", "ser_-20dB", "echo_only") if any(p[0] == c for p in plan)}
    from tqdm import tqdm

    by_id = {t["id"]: t for t in turns}
    for cond, i, over in tqdm(plan, desc=f"{split} material", disable=not progress):
        kind = {"listen": "listen", "ser_-20dB": "double", "echo_only": "echo_only"}[cond]
        arrays, meta = make_example(first_seed + 1000 * list(out).index(cond) + i, turns, turn_dir, utts,
                                    profile_seed=profile_seed, kind=kind, ser_db=-20.0 if kind == "double" else None,
                                    room_overrides=over, res_model=res_model)
        out[cond].append({"audio": arrays["vad_out"].astype(np.float64), "asr": arrays["asr_out"],
                          "speech": arrays["speech"],
                          "echo": arrays["echo"].astype(np.float64), "laec": arrays["laec"].astype(np.float64),
                          "echo_dominant": arrays["echo_dominant"],
                          "far_active": arrays["far_active"],
                          "placed": [(off, by_id[tid]) for off, tid in meta["turns"]]})
    return out


def speed(vad: SemanticVad, silero: Silero | None, repeats: int = 5, seconds: float = 10.0) -> dict[str, float]:
    """ms of CPU per 10 ms of audio (medians of ``repeats`` runs over ``seconds`` of noise-like audio)."""
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(int(seconds * SR)) * 0.05).astype(np.float64)
    fns = {"ours": lambda: probs_ours(audio, vad), "webrtc": lambda: probs_webrtc(audio, 3)}
    if silero is not None:
        fns["silero"] = lambda: silero.probs(audio)
    out = {}
    for name, fn in fns.items():
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            runs.append((time.perf_counter() - t0) * 1000 / (seconds * 100))
        out[name] = statistics.median(runs)
    return out


TEXT_SWEEP = {"text_cue_after_ms": (60.0, 100.0, 160.0), "text_end_threshold": (0.3, 0.5, 0.7),
              "text_finished_eot_threshold": (0.3, 0.5, 0.6, 0.7, 0.8, 0.9),
              "text_unfinished_eot_threshold": (0.9, 0.95, 0.97, 0.99, 1.0)}


QUICK_TEXT_SWEEP = {"text_cue_after_ms": (100.0,), "text_end_threshold": (0.5,),
                    "text_finished_eot_threshold": (0.3, 0.7), "text_unfinished_eot_threshold": (0.95, 1.0)}
SWEEP_KEYS = ("eot_latency_median_ms", "eot_latency_p90_ms", "premature_rate", "sentence_gap_eot_rate", "eot_missed_rate",
              "turns", "clause_pauses")
EOT_THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99)
PREMATURE_BUDGETS = (0.02, 0.05, 0.10)


def fastest_within(rows: list[dict], budget: float) -> dict | None:
    """The threshold-sweep row with the lowest median end of turn among those with at most ``budget`` premature
    ends (None when no row is within it)."""
    ok = [r for r in rows if r["premature_rate"] <= budget + 1e-9 and np.isfinite(r["eot_latency_median_ms"])]
    return min(ok, key=lambda r: (r["eot_latency_median_ms"], r["premature_rate"]), default=None)


def text_sweep(probs: list[np.ndarray], examples: list[dict], base: VadConfig, text: TextCueRun,
               grid: dict[str, tuple[float, ...]] | None = None) -> list[dict]:
    """End of turn with the text cue on listening material for every combination of ``grid`` (default
    :data:`TEXT_SWEEP`): one row of settings and :func:`score_condition`'s end-of-turn figures each."""
    import itertools

    grid = grid or TEXT_SWEEP
    rows = []
    keys = list(grid)
    for values in itertools.product(*grid.values()):
        m = score_condition("ours", probs, examples, dataclasses.replace(base, **dict(zip(keys, values, strict=True))),
                            text)
        rows.append({**dict(zip(keys, values, strict=True)),
                     **{k: m[k] for k in SWEEP_KEYS}})
    return rows


def best_text_rows(rows: list[dict], max_premature: float = 0.02) -> list[dict]:
    """Rows with at most ``max_premature`` premature ends and no more missed ends than the fewest of any row, fastest
    median first."""
    fewest = min((r["eot_missed_rate"] for r in rows), default=0.0)
    ok = [r for r in rows if r["premature_rate"] <= max_premature + 1e-9 and r["eot_missed_rate"] <= fewest + 0.011]
    return sorted(ok, key=lambda r: (r["eot_latency_median_ms"], r["premature_rate"], r["eot_latency_p90_ms"]))


def print_text_sweep(rows: list[dict]) -> None:
    best = best_text_rows(rows)
    print(f"\ntext cue settings (listening): {len(rows)} combinations; the 10 fastest with ≤ 2 % premature ends "
          "(and at most one missed end in a hundred more than the fewest)")
    print(f"{'after ms':>8} {'text thr':>8} {'finished':>8} {'unfinished':>10} {'EoT med':>7} {'p90':>6} "
          f"{'premature%':>10} {'gap EoT%':>8}")
    for r in best[:10]:
        print(f"{r['text_cue_after_ms']:>8.0f} {r['text_end_threshold']:>8.2f} {r['text_finished_eot_threshold']:>8.2f} "
              f"{r['text_unfinished_eot_threshold']:>10.2f} {fmt(r['eot_latency_median_ms'], 0):>7} "
              f"{fmt(r['eot_latency_p90_ms'], 0):>6} {fmt(100 * r['premature_rate'], 1):>10} "
              f"{fmt(100 * r['sentence_gap_eot_rate'], 1):>8}")


def asr_error_rates(listen: list[dict], text: TextCueRun) -> dict[str, dict]:
    """The ASR's error rate (Bangla CER, English WER) on the whole turns of listening material (each turn from 300 ms
    before its first clause to 500 ms after its end, the chain's ASR output), against the turn's text. Bangla
    references have their numbers written out as words by the TTS front-end's expansion (the turns were synthesised
    from text with digits, which the recogniser never writes; the synthesiser's own reading may differ in places);
    English references keep their digits."""
    from models.asr.metrics import error_rate
    from models.asr.tokens import normalize_transcript
    from models.tts.text.expand import expand

    pairs: dict[str, list] = {}
    for ex in listen:
        audio = np.asarray(ex["asr"], np.float32)
        for off, turn in ex["placed"]:
            a, b = off + int(turn["speech"][0][0] * SR) - SR * 3 // 10, off + int(turn["end_s"] * SR) + SR // 2
            if b <= audio.shape[0]:
                hyp = text.recognizer.transcribe(audio[max(0, a) : b])
                ref = expand(turn["text"]) if turn["language"] == "bn" else turn["text"]
                pairs.setdefault(turn["language"], []).append((normalize_transcript(ref), hyp))
    return {lang: {"error_rate": error_rate(p, lang), "turns": len(p)} for lang, p in sorted(pairs.items())}


def tune_text_cue(listen: list[dict], vad: SemanticVad, text: TextCueRun | None, base: VadConfig, out: Path | None,
                  quick: bool = False) -> int:
    """``--split valid``: ours (and its end-of-turn threshold alone), ours_text (the ASR's words) and ours_oracle (the
    true words, a cue trained without this material's sentences) at the given settings, and the text cue's sweep for
    both, on validation listening material; ``text`` None (``--systems ours``): the VAD alone (no ASR)."""
    probs = [probs_ours(ex["audio"], vad, ex["echo"], ex["laec"]) for ex in listen]
    report: dict = {"split": "valid", "examples": len(listen), "settings": dataclasses.asdict(base),
                    "model": str(vad.path), "text_cue": str(text.path) if text else None}
    print(f"\nvalidation listening material: {len(listen)} examples")
    if text is None:
        m = score_condition("ours", probs, listen, base)
        report["ours"] = m
        report.update(eot_threshold_report(probs, listen, base))
        return write_report(report, out)
    oracle = TextCueRun(SHIPPED_CUE, oracle=listen)
    report["oracle_cue_metrics"] = oracle.cue.meta["metrics"]
    report["asr_on_material"] = asr_error_rates(listen, text)
    print("  the shipped ASR on these turns (whole turns, the chain's ASR output): " + ", ".join(
        f"{lang} {'CER' if lang == 'bn' else 'WER'} {100 * r['error_rate']:.1f} % ({r['turns']} turns)"
        for lang, r in report["asr_on_material"].items()))
    for system, run in (("ours", None), ("ours_text", text), ("ours_oracle", oracle)):
        m = score_condition("ours", probs, listen, base, run)
        report[system] = m
        print(f"  {system:<11} EoT median {fmt(m['eot_latency_median_ms'], 0)} ms, p90 "
              f"{fmt(m['eot_latency_p90_ms'], 0)} ms, premature {fmt(100 * m['premature_rate'], 1)} % of "
              f"{m['clause_pauses']} pauses, in sentence gaps {fmt(100 * m['sentence_gap_eot_rate'], 1)} %, missed "
              f"{fmt(100 * m['eot_missed_rate'], 1)} % of {m['turns']} turns")
    report.update(eot_threshold_report(probs, listen, base))
    for name, run in (("ours_text", text), ("ours_oracle", oracle)):
        rows = text_sweep(probs, listen, base, run, QUICK_TEXT_SWEEP if quick else None)
        print(f"\n{name}:", end="")
        print_text_sweep(rows)
        best = best_text_rows(rows)
        report[f"{name}_sweep"] = rows
        report[f"{name}_best"] = best[0] if best else None
    return write_report(report, out)


def eot_threshold_report(probs: list[np.ndarray], listen: list[dict], base: VadConfig) -> dict:
    """Ours alone over :data:`EOT_THRESHOLDS` (printed): ``eot_threshold_sweep`` and ``eot_fastest_within`` (the
    fastest threshold within each of :data:`PREMATURE_BUDGETS`)."""
    thresholds = []
    for th in EOT_THRESHOLDS:
        m = score_condition("ours", probs, listen, dataclasses.replace(base, end_of_turn_threshold=th))
        thresholds.append({"end_of_turn_threshold": th, **{k: m[k] for k in SWEEP_KEYS}})
    print("\nours alone, vad.end_of_turn_threshold: " + "; ".join(
        f"{r['end_of_turn_threshold']:g}: {fmt(r['eot_latency_median_ms'], 0)} ms / "
        f"{fmt(100 * r['premature_rate'], 1)} %" for r in thresholds))
    fastest = {}
    for budget in PREMATURE_BUDGETS:
        row = fastest_within(thresholds, budget)
        fastest[f"{budget:g}"] = row
        print(f"  fastest with <= {100 * budget:g} % premature: " + (
            f"threshold {row['end_of_turn_threshold']:g}, {fmt(row['eot_latency_median_ms'], 0)} ms median, "
            f"{fmt(100 * row['premature_rate'], 1)} %" if row else "none"))
    return {"eot_threshold_sweep": thresholds, "eot_fastest_within": fastest}


def write_report(report: dict, out: Path | None) -> int:
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def fmt(v: float, digits: int = 1) -> str:
    return "—" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="6 examples per condition and 1 minute of echo (smoke test)")
    p.add_argument("--json", type=Path, help="write the results as JSON here")
    p.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="VAD model (default: the shipped one)")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of " + ", ".join(SYSTEMS))
    p.add_argument("--res-model", default=AecConfig().res_model,
                   help="the echo chain's aec.res_model for the material: shipped, null (classical masks) or a path "
                   "(default: the agent's default)")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="vad.KEY=VALUE",
                   help="an endpointer setting for every system (repeatable), e.g. vad.barge_in_max_gap_ms=40")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-cache", action="store_true", help="build the test material in memory only")
    p.add_argument("--sweep", action="store_true", help="also sweep the barge-in settings for ours (see the doc)")
    p.add_argument("--text-cue", type=Path, default=SHIPPED_CUE,
                   help="the end-of-turn text cue of ours_text (default: the shipped models/vad/text_cue.json)")
    p.add_argument("--split", choices=("test", "valid"), default="test",
                   help="valid: listening material of held-out validation voices and devices instead of the test "
                   "material: ours, ours_text and ours_oracle (the true words), the threshold sweeps (to choose settings); "
                   "with --systems ours: the VAD alone and its threshold sweep (no ASR)")
    p.add_argument("--text-sweep", action="store_true", help="also sweep the text cue's settings (ours_text)")
    p.add_argument("--examples", type=int, default=None, metavar="N",
                   help="examples per condition (default 48; --quick 6); more give steadier rates, e.g. --split valid "
                   "--systems ours --examples 192 for about 200 pauses inside sentences (built once into the cache)")
    args = p.parse_args(argv)
    if args.examples is not None and not 1 <= args.examples <= 2000:
        p.error("--examples must be 1 to 2000")
    base = endpointer_settings(args.settings)  # checked before the material is built
    logging.getLogger("models.aec.laec").setLevel(logging.ERROR)
    logging.getLogger("audio_io.room").setLevel(logging.ERROR)
    systems = [s for s in args.systems.split(",") if s]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        p.error(f"unknown systems {sorted(unknown)}; choose from {', '.join(SYSTEMS)}")
    count, echo_min = (6, 1.0) if args.quick else (48, 10.0)
    if args.examples is not None:
        count = args.examples
    from models.aec.chain import resolve_res_model

    res_model = args.res_model if resolve_res_model(args.res_model) is not None else None  # null, none: classical
    material = cached_material(count, echo_min, not args.no_progress, not args.no_cache, res_model, args.split)
    text = TextCueRun(args.text_cue) if "ours_text" in systems else None
    if args.split == "valid":
        return tune_text_cue(material["listen"], SemanticVad(args.model), text, base, args.json, args.quick)
    material["agent_voice"] = agent_voice_material(1.0 if args.quick else 10.0, res_model)
    vad = SemanticVad(args.model)
    silero = Silero() if any(s.startswith("silero") for s in systems) else None
    results: dict[str, dict] = {}
    ours_probs: dict[int, np.ndarray] = {}  # ours and ours_text share the model's probabilities
    for system in systems:
        def probs_of(audio: np.ndarray, echo: np.ndarray, laec: np.ndarray, system: str = system) -> np.ndarray:
            if system in ("ours", "ours_text"):
                if id(audio) not in ours_probs:
                    ours_probs[id(audio)] = probs_ours(audio, vad, echo, laec)
                return ours_probs[id(audio)]
            if system.startswith("webrtc"):
                return probs_webrtc(audio, int(system[-1]))
            return silero.probs(audio)

        probs = {cond: [probs_of(ex["audio"], ex["echo"], ex["laec"]) for ex in exs] for cond, exs in material.items()}
        res: dict[str, dict] = {cond: score_condition(system, probs[cond], material[cond], base,
                                                      text if system == "ours_text" else None)
                                for cond in ("listen", "ser_-20dB")}
        if system == "ours_text" and args.text_sweep:
            text_rows = text_sweep(probs["listen"], material["listen"], base, text,
                                   QUICK_TEXT_SWEEP if args.quick else None)
        res["echo_only"] = false_onsets(system, probs["echo_only"], material["echo_only"], base)
        res["agent_voice"] = false_onsets(system, probs["agent_voice"], material["agent_voice"], base)
        results[system] = res
        if system == "ours" and args.sweep:
            sweep = sweep_barge_in(*((probs[c], material[c]) for c in ("ser_-20dB", "echo_only", "agent_voice")),
                                   base)
    timing = speed(vad, silero)

    print(f"\nVAD benchmark ({'quick' if args.quick else 'full'}; chain's residual echo masks: "
          f"{res_model or 'classical'}): {count} examples per condition, "
          f"{material['echo_only'] and results[systems[0]]['echo_only']['minutes']:.1f} min echo-only at 100 % volume")
    head = (f"{'system':<10} {'DCF% listen':>11} {'DCF% -20dB':>10} {'rev% -20dB':>10} {'EoT med ms':>10} "
            f"{'EoT p90':>8} {'premature%':>10} {'gap EoT%':>8} {'missed%':>7} {'onset ms':>8} {'false onsets':>12}")
    print(head)
    print("-" * len(head))
    for system, r in results.items():
        li, dt, eo = r["listen"], r["ser_-20dB"], r["echo_only"]
        fo = f"{eo['listening']}" + (f" / {eo['barge_in_mode']} b-i" if "barge_in_mode" in eo else "")
        print(f"{system:<10} {fmt(100 * li['dcf'], 2):>11} {fmt(100 * dt['dcf'], 2):>10} {fmt(100 * dt['dcf_reverse'], 2):>10} "
              f"{fmt(li['eot_latency_median_ms'], 0):>10} {fmt(li['eot_latency_p90_ms'], 0):>8} "
              f"{fmt(100 * li['premature_rate'], 1):>10} {fmt(100 * li['sentence_gap_eot_rate'], 1):>8} "
              f"{fmt(100 * li['eot_missed_rate'], 1):>7} {fmt(li['onset_latency_median_ms'], 0):>8} {fo:>12}")
    print(f"\nbarge-in mode at SER -20 dB (the agent's endpointer settings, echo gate "
          f"{'on' if base.barge_in_echo_gate else 'off'}): latency from the user's onset, missed turns")
    for system, r in results.items():
        dt = r["ser_-20dB"]
        if "barge_in_turns" in dt:
            print(f"  {system:<10} median {fmt(dt['barge_in_latency_median_ms'], 0)} ms, p90 "
                  f"{fmt(dt['barge_in_latency_p90_ms'], 0)} ms, missed {fmt(100 * dt['barge_in_missed_rate'], 1)} % "
                  f"of {dt['barge_in_turns']} turns")
    print(f"\nthe agent's own voice (tts defaults), {results[systems[0]]['agent_voice']['minutes']:.1f} min at 100 % "
          "volume, nobody else: false barge-ins (false onsets when listening)")
    for system, r in results.items():
        av = r["agent_voice"]
        print(f"  {system:<10} {av['barge_in_mode']} ({av['listening']})")
    print("\nspeed, ms of CPU per 10 ms of audio (one thread, median of 5): "
          + ", ".join(f"{k} {v:.4f}" for k, v in timing.items()))
    if "ours" in results and "webrtc1" in results:
        ratio = results["ours"]["ser_-20dB"]["dcf"] / max(results["webrtc1"]["ser_-20dB"]["dcf"], 1e-9)
        print(f"DCF at SER -20 dB, ours / webrtc mode 1: {ratio:.2f}")
    report = {"quick": args.quick, "examples_per_condition": count, "model": str(args.model), "res_model": res_model,
              "dcf_weights": {"false": 0.75, "miss": 0.25}, "results": results, "speed_ms_per_10ms": timing}
    if args.sweep and "ours" in results:
        print(f"\nbarge-in settings for ours: false barge-ins in {sweep[0]['echo_minutes']:.1f} min of echo only and "
              "on the agent's own voice; latency (median / p90 ms) and missed at SER -20 dB")
        print(f"{'threshold':>9} {'min ms':>6} {'quick ms':>8} {'quick thr':>9} {'false':>5} {'agent':>5} {'median':>6} "
              f"{'p90':>6} {'missed%':>7}")
        for r in sweep:
            print(f"{r['barge_in_threshold']:>9.2f} {r['barge_in_min_speech_ms']:>6.0f} "
                  f"{r['barge_in_fast_min_speech_ms']:>8.0f} {r['barge_in_fast_threshold']:>9.2f} {r['false_barge_ins']:>5} "
                  f"{r['agent_voice_false_barge_ins']:>5} "
                  f"{fmt(r.get('barge_in_latency_median_ms', float('nan')), 0):>6} "
                  f"{fmt(r.get('barge_in_latency_p90_ms', float('nan')), 0):>6} "
                  f"{fmt(100 * r.get('barge_in_missed_rate', float('nan')), 1):>7}")
        report["barge_in_sweep"] = sweep
    if args.text_sweep and "ours_text" in results:
        print_text_sweep(text_rows)
        report["text_sweep"] = text_rows
    if "ours_text" in results:
        report["text_cue"] = str(args.text_cue)
    if args.settings:
        report["settings"] = args.settings
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
