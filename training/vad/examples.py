"""VAD training examples: user turns in a simulated room, with the agent talking or not, through the echo chain.

One example (``make_example(seed, ...)``) is ``seconds`` of 16 kHz audio:

- a random room and device (the RES scene generator's :func:`~training.res.scenes.random_geometry`,
  :func:`~training.res.scenes.room_config`, :func:`~training.res.scenes.device_profiles`);
- a kind: ``listen`` (the agent is silent; the user speaks), ``double`` (the agent speaks while the
  user speaks: SER −25…+10 dB) or ``echo_only`` (the agent speaks; nobody else), ``echo_only`` with the
  share ``echo_only_share`` and the other two 40 : 45 in what is left;
- with the share ``delay_jump_share`` of the examples where the agent speaks, one jump of the echo path's
  delay (30–200 ms up or down, at 1 s … end − 1 s), drawn from its own random stream so that a share of 0
  gives the examples of earlier recipes; the VAD learns that the agent's voice is still its voice while
  the echo canceller's estimate is misaligned;
- user turns (:mod:`training.vad.turns`) placed one after another, and the agent's speech (turns of
  the same split, other voices) played through the loudspeaker; with the share ``agent_voice_share`` of the
  examples where the agent speaks (its own random stream, so 0 gives the examples of earlier recipes), the
  agent's speech is its own default TTS voice instead (:mod:`training.vad.agent_voice`), the voice it
  must never mistake for the user;
- the capture run through the real echo chain (:func:`models.aec.chain.run_chain`, default
  configuration but ``aec.res_model`` = ``res_model``: the classical residual-echo masks for ``None``, the
  neural suppressor for ``"shipped"`` or a path; with ``res_share`` < 1, only that share of the examples,
  drawn from its own random stream, uses ``res_model`` and the others the classical masks); the VAD learns on the chain's **VAD output** (β_vad), as in the agent, so it meets
  the residual echo and the chain's distortion of the user's speech, and (echo-aware model) on the
  chain's echo estimate ŷ, which shows it what the agent's voice sounds like at the microphone.

Labels per 20 ms frame: ``speech`` (1 when at least half of the frame is inside a clause), and
``eot`` (end of turn): 1 from the end of a turn's last sentence for :data:`EOT_LABEL_S` seconds, 0 in
speech and in pauses inside sentences, and −1 (ignored) elsewhere: sentence gaps inside a turn
(see :mod:`training.vad.turns`), silence before the first turn, echo-only examples, and long silences
(the model only remembers 2.8 s).

Saved per example: ``features`` (frames, 40) float16 (of the chain's VAD output), ``echo_features``
(frames, 40) float16 (of its echo estimate), ``laec_features`` (frames, 40) float16 (of the linear
canceller's output e = mic − ŷ, before the residual echo masks), ``pitch`` (frames, 3) float16 (the output's prosody,
:mod:`models.vad.pitch`), ``speech``, ``eot`` and ``far_active`` (the chain saw
far-end activity in that frame) (frames,) int8, in one ``.npz``, plus a ``.json`` with the kind, the
levels and the turn ids. Folders built before ``echo_features`` (or, for a LAEC-aware model, ``laec_features``)
existed are refused by the trainer.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from agent.config import AecConfig
from audio_io.room import SimulatedRoom, active_rms
from audio_io.wav import read_wav
from models.aec.chain import run_chain
from models.aec.stft import HOP
from models.vad.features import file_features
from models.vad.pitch import file_pitch
from training.common.loop import run_jobs
from training.res.scenes import device_profiles, random_geometry, room_config, speech_track

SR = 16000
EOT_LABEL_S = 2.0
KINDS = ("listen", "double", "echo_only")
KIND_P = (0.4, 0.45, 0.15)  # the first recipes' shares (echo_only_share 0.15)
SER_RANGE_DB = (-25.0, 10.0)
log = logging.getLogger(__name__)


def frame_labels(n_frames: int, turns: list[tuple[int, dict]]) -> tuple[np.ndarray, np.ndarray]:
    """(speech, eot) int8 labels for turns placed at sample offsets; see the module doc."""
    speech = np.zeros(n_frames, dtype=np.int8)
    eot = np.full(n_frames, -1, dtype=np.int8)

    def frame(t_s: float, offset: int) -> int:
        return int(np.clip(np.floor((offset + t_s * SR) / HOP + 0.5), 0, n_frames))

    for offset, turn in turns:  # after the end of a turn
        eot[frame(turn["end_s"], offset) : frame(turn["end_s"] + EOT_LABEL_S, offset)] = 1
    for offset, turn in turns:  # inside a turn (overrides an earlier turn's end label)
        eot[frame(turn["speech"][0][0], offset) : frame(turn["end_s"], offset)] = 0
        for a_s, b_s in turn["speech"]:
            speech[frame(a_s, offset) : frame(b_s, offset)] = 1
        for a_s, b_s in turn["sentence_gaps"]:
            eot[frame(a_s, offset) : frame(b_s, offset)] = -1
    return speech, eot


def place_turns(rng: np.random.Generator, turns: list[dict], turn_dir: Path, n: int) -> tuple[np.ndarray, list]:
    """User turns laid one after another (each with its own lead and trailing silence) up to ``n`` samples."""
    track = np.zeros(n)
    placed = []
    pos = int(rng.uniform(-0.3, 0.5) * SR)
    while pos < n - SR:
        turn = turns[int(rng.integers(len(turns)))]
        x = read_wav(turn_dir / turn["file"], SR).astype(np.float64)
        x /= active_rms(x) + 1e-9
        x *= 10 ** (rng.uniform(-6, 6) / 20)  # turns of one user differ in loudness
        a = max(pos, 0)
        b = min(n, pos + x.shape[0])
        track[a:b] += x[a - pos : b - pos]
        placed.append((pos, turn))
        pos += int(turn["end_s"] * SR) + int(rng.uniform(0.6, 2.5) * SR)  # next turn after a long silence
    return track, placed


def kind_shares(echo_only_share: float) -> tuple[float, float, float]:
    """Probabilities of (listen, double, echo_only): listen and double share what echo_only leaves, 40 : 45."""
    if not 0.0 <= echo_only_share <= 1.0:
        raise ValueError(f"echo_only_share must be in [0, 1], got {echo_only_share}")
    rest = 1.0 - echo_only_share
    return rest * KIND_P[0] / (KIND_P[0] + KIND_P[1]), rest * KIND_P[1] / (KIND_P[0] + KIND_P[1]), echo_only_share


def delay_jumps(seed: int, delay_ms: float, seconds: float, share: float) -> list[dict]:
    """With probability ``share``, one jump of the echo path's delay (room ``delay_jumps`` entries): 30–200 ms
    up or down from ``delay_ms`` (kept in 0–400 ms), at a time 1 s … ``seconds`` − 1 s. Its own random stream."""
    jr = np.random.default_rng([seed, 7])
    if share <= 0 or jr.random() >= share:
        return []
    step = float(jr.uniform(30, 200)) * (1 if jr.random() < 0.5 else -1)
    new = delay_ms + step if 0 <= delay_ms + step <= 400 else delay_ms - step
    return [{"at_s": float(jr.uniform(1.0, seconds - 1.0)), "delay_ms": float(np.clip(new, 0, 400))}]


def example_res_model(seed: int, res_model: str | None, res_share: float) -> str | None:
    """The residual-echo masks of example ``seed``: ``res_model`` with probability ``res_share`` (its own random
    stream, so a share of 1 gives the examples of earlier recipes), else ``None`` (the classical masks)."""
    if not 0.0 <= res_share <= 1.0:
        raise ValueError(f"res_share must be in [0, 1], got {res_share}")
    if res_model is None or res_share >= 1.0:
        return res_model
    return res_model if np.random.default_rng([seed, 13]).random() < res_share else None


def make_example(seed: int, turns: list[dict], turn_dir: Path, agent_utts: dict[str, list[Path]],
                 profile_seed: int = 0, seconds: float = 16.0, kind: str | None = None, ser_db: float | None = None,
                 room_overrides: dict | None = None, echo_only_share: float = KIND_P[2],
                 delay_jump_share: float = 0.0, res_model: str | None = None, res_share: float = 1.0,
                 own_voice: list[Path] | None = None, agent_voice_share: float = 0.0) -> tuple[dict, dict]:
    """Simulate one example; returns (arrays, metadata). See the module doc.

    Arrays: ``features``, ``echo_features``, ``laec_features``, ``pitch``, ``speech``, ``eot``, ``far_active`` (per frame), ``vad_out``,
    ``asr_out`` (the chain's two outputs), ``echo``, ``laec``, ``mic``, ``far`` (samples), and ``echo_dominant`` (per frame: the chain saw far-end activity and
    no double talk).

    ``kind``, ``ser_db`` and ``room_overrides`` (e.g. ``{"volume": 1.0}``) fix what is otherwise drawn;
    ``echo_only_share``, ``delay_jump_share``, ``res_model``, ``res_share`` and ``agent_voice_share`` (drawing
    from ``own_voice``, the agent voice's files): see the module doc.
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * SR / HOP)) * HOP
    kind = kind or str(rng.choice(KINDS, p=kind_shares(echo_only_share)))
    profiles = device_profiles(seed=profile_seed)
    profile = profiles[int(rng.integers(len(profiles)))]
    dims, speaker, mic_pos, talker = random_geometry(rng)
    delay_ms = float(rng.uniform(0, 300))
    jumps = delay_jumps(seed, delay_ms, seconds, delay_jump_share) if kind != "listen" else []
    cfg = room_config(rng, seed, profile, dims, speaker, mic_pos, talker, delay_ms, jumps,
                      {"talker_level_dbfs": float(rng.uniform(-45, -18)), **(room_overrides or {})})
    room = SimulatedRoom(cfg)
    far = np.zeros(n)
    own = kind != "listen" and agent_voice_share > 0 and np.random.default_rng([seed, 11]).random() < agent_voice_share
    if own and not own_voice:
        raise ValueError("agent_voice_share > 0 needs the agent voice's files (training.vad.agent_voice)")
    if kind != "listen":
        voices = sorted(agent_utts)
        pool = own_voice if own else agent_utts[voices[int(rng.integers(len(voices)))]]
        far = speech_track(rng, pool, n, (0.05, 0.8))
        far = np.clip(far * 10 ** (rng.uniform(-26, -12) / 20), -1, 1)
    placed: list = []
    if kind != "echo_only":
        near_dry, placed = place_turns(rng, turns, turn_dir, n)
        room.add_talker(near_dry.astype(np.float32), 0)
    _, truth = room.run(far.astype(np.float32))
    echo, near, noise = (truth[k].astype(np.float64) for k in ("echo", "near", "noise"))
    ser = None
    if kind == "double":
        ser = float(rng.uniform(*SER_RANGE_DB)) if ser_db is None else float(ser_db)
        e_pow = float(np.mean(echo**2))
        n_act = np.abs(near) > 1e-5
        if e_pow > 0 and n_act.any():
            near *= np.sqrt(e_pow * 10 ** (ser / 10) / np.mean(near[n_act] ** 2))
    mic = echo + near + noise
    peak = float(np.max(np.abs(mic)))
    if peak > 0.99:
        mic *= 0.99 / peak
    res_model = example_res_model(seed, res_model, res_share)
    chain = run_chain(mic, far, dataclasses.replace(AecConfig(), res_model=res_model))
    vad_out = chain.vad
    feats = file_features(vad_out)
    # the chain's view of each output frame (its outputs lag by one block)
    seen = chain.stats[1 : feats.shape[0] + 1]
    echo_dominant = np.array([s.far_end_active and not s.double_talk for s in seen])
    far_active = np.array([s.far_end_active for s in seen], dtype=np.int8)
    speech, eot = frame_labels(feats.shape[0], placed)
    meta = {"seed": int(seed), "kind": kind, "ser_db": ser, "rt60_s": cfg.rt60_s, "volume": cfg.volume,
            "noise": cfg.noise, "snr_db": cfg.snr_db, "talker_level_dbfs": cfg.talker_level_dbfs,
            "turns": [[int(p), t["id"]] for p, t in placed], "delay_ms": delay_ms, "delay_jumps": jumps,
            "agent_voice": bool(own), "res_model": res_model}
    return {"features": feats.astype(np.float16), "echo_features": file_features(chain.echo).astype(np.float16),
            "laec_features": file_features(chain.laec).astype(np.float16),
            "pitch": file_pitch(vad_out).astype(np.float16), "speech": speech, "eot": eot, "far_active": far_active,
            "vad_out": vad_out.astype(np.float32), "asr_out": chain.asr.astype(np.float32), "echo": chain.echo, "laec": chain.laec, "mic": mic.astype(np.float32),
            "far": far.astype(np.float32), "echo_dominant": echo_dominant}, meta


SAVED = ("features", "echo_features", "laec_features", "pitch", "speech", "eot", "far_active")  # the arrays kept in an example's .npz
_CACHE: dict[tuple[Path, int], tuple] = {}


def agent_speech(turns: list[dict], turn_dir: Path) -> dict[str, list[Path]]:
    """The agent's side: the same split's turn recordings, grouped by voice (so no extra corpus is needed)."""
    out: dict[str, list[Path]] = {}
    for t in turns:
        out.setdefault(t["voice_id"], []).append(turn_dir / t["file"])
    return out


def _inputs(turn_dir: Path, turn_count: int) -> tuple[list[dict], dict[str, list[Path]]]:
    """The first ``turn_count`` turns of ``turn_dir`` (in id order, so a larger folder gives the same examples)."""
    key = (turn_dir, turn_count)
    if key not in _CACHE:  # read the lists once per process
        files = sorted((turn_dir / "meta").glob("*.json"))[:turn_count]
        turns = [json.loads(p.read_text(encoding="utf-8")) for p in files]
        if not turns:
            raise ValueError(f"no turns in {turn_dir} (python -m training.vad.turns)")
        _CACHE[key] = (turns, agent_speech(turns, turn_dir))
    return _CACHE[key]


def _build_one(args: tuple) -> str | None:
    out, seed, turn_dir, turn_count, profile_seed, seconds, recipe, own_voice = args
    target = out / f"{seed:07d}"
    if target.with_suffix(".json").exists():
        return None
    try:
        turns, utts = _inputs(turn_dir, turn_count)
        arrays, meta = make_example(seed, turns, turn_dir, utts, profile_seed, seconds, **recipe,
                                    own_voice=list(own_voice))
        tmp = target.with_suffix(".tmp.npz")
        np.savez(tmp, **{k: arrays[k] for k in SAVED})
        tmp.replace(target.with_suffix(".npz"))
        target.with_suffix(".json").write_text(json.dumps(meta), encoding="utf-8")
    except Exception as exc:  # one bad example must not stop a long build
        log.warning("example %d failed: %s", seed, exc)
        return f"{seed}: {exc}"
    return None


RECIPE_FILE = "recipe.json"
LEGACY_RECIPE = {"echo_only_share": KIND_P[2], "delay_jump_share": 0.0}  # folders built before recipe.json
LATER_KEYS = {"res_model": None, "res_share": 1.0, "agent_voice_share": 0.0}  # recipe keys added later: what older folders used


def check_recipe(out: Path, recipe: dict) -> None:
    """Write ``out/recipe.json`` for a new folder; refuse to extend a folder built with another recipe."""
    path = out / RECIPE_FILE
    if path.exists():
        have = json.loads(path.read_text(encoding="utf-8"))
    elif any(out.glob("*.json")):
        have = LEGACY_RECIPE
    else:
        have = recipe
    have, recipe = {**LATER_KEYS, **have}, {**LATER_KEYS, **recipe}
    if have != recipe:
        raise ValueError(f"{out} holds examples built with {have}, not {recipe}: choose another folder "
                         "(data.train_dir, data.valid_dir) or the recipe it was built with")
    path.write_text(json.dumps(recipe) + "\n", encoding="utf-8")


def build_examples(out: Path, turn_dir: Path, turn_count: int, count: int, first_seed: int, profile_seed: int,
                   seconds: float, workers: int = 1, progress: bool = True, echo_only_share: float = KIND_P[2],
                   delay_jump_share: float = 0.0, res_model: str | None = None, res_share: float = 1.0,
                   agent_voice_share: float = 0.0, own_voice: list[Path] | None = None) -> list[Path]:
    """Build (or resume) ``count`` examples from the first ``turn_count`` turns of ``turn_dir`` into ``out``;
    returns their paths (without suffix). The recipe (``echo_only_share``, ``delay_jump_share``, ``res_model``,
    ``res_share``, ``agent_voice_share``; see the module doc) is kept in ``out/recipe.json``; a folder is only ever extended
    with its own recipe. ``own_voice``: the agent voice's files (needed when ``agent_voice_share`` > 0)."""
    out.mkdir(parents=True, exist_ok=True)
    if agent_voice_share > 0 and not own_voice:
        raise ValueError("agent_voice_share > 0 needs the agent voice's files (training.vad.agent_voice)")
    recipe = {"echo_only_share": float(echo_only_share), "delay_jump_share": float(delay_jump_share),
              "res_model": res_model, "res_share": float(res_share) if res_model is not None else 1.0,
              "agent_voice_share": float(agent_voice_share)}
    check_recipe(out, recipe)
    voice = tuple(own_voice or ())
    jobs = [(out, first_seed + i, turn_dir, turn_count, profile_seed, seconds, recipe, voice) for i in range(count)]
    todo = [j for j in jobs if not (out / f"{j[1]:07d}.json").exists()]
    failures = run_jobs(_build_one, todo, workers, f"examples {out.name}", progress)
    if failures:
        log.warning("%d examples failed (first: %s)", len(failures), failures[0])
    return [out / f"{j[1]:07d}" for j in jobs if (out / f"{j[1]:07d}.json").exists()]
