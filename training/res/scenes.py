"""Training scenes for the residual echo suppressor: simulated devices and rooms, run through the DSP chain.

One scene (``make_scene(seed, ...)``) is a few seconds of a simulated conversation:

- a *device profile* (one of ``device_profiles()``, at least 100: loudspeaker and mic pass bands,
  loudspeaker nonlinearity on/off with its clip level and gain, echo level, playback volume);
- a random shoebox room (RT60 0.1–0.8 s), loudspeaker, mic and talker positions, a bulk delay of
  0–300 ms (sometimes with drift or a jump), background noise (none, white or pink);
- far-end speech of one voice and near-end speech of another: several utterances merged into one long
  near-end signal with random gaps *and overlaps*, while the far end (and so the echo) is one
  continuous recording; the near end is scaled to an SER drawn from −25 to +15 dB;
- the DSP front end (:meth:`models.aec.chain.EchoCanceller.cancel_linear`: TDE, delay line, LAEC) run
  on the mixture. The echo estimate ŷ depends on the reference only, so the LAEC error splits exactly:
  e = near + noise + R_laec with R_laec = echo − ŷ (the same filter trajectory applied to the echo).

Saved arrays (float32, one row each, 16 kHz, all time-aligned with the mic): ``mic``, ``ref`` (the
reference as aligned by the delay line, what the LAEC saw), ``e`` (X_laec in time), ``near`` (the
reverberant near-end target), ``noise``. The residual is ``e − near − noise``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from agent.config import RoomConfig, build
from audio_io.room import SimulatedRoom, active_rms
from audio_io.wav import read_wav
from models.aec.chain import CLASSICAL, EchoCanceller
from models.aec.stft import HOP
from training.common.loop import run_jobs

SR = 16000
STREAMS = ("mic", "ref", "e", "near", "noise")
SER_RANGE_DB = (-25.0, 15.0)
MIC_PEAK = 0.99  # captures louder than this are scaled down as a whole


@dataclass(frozen=True)
class DeviceProfile:
    """Loudspeaker + microphone of one simulated device."""

    speaker_band_hz: tuple[float, float]
    mic_band_hz: tuple[float, float]
    nonlinearity: bool
    clip_level: float
    nl_gain: float
    echo_gain_db: float


def device_profiles(n: int = 128, seed: int = 0) -> list[DeviceProfile]:
    """``n`` reproducible device profiles; seed 0 is the training set, other seeds held-out devices."""
    rng = np.random.default_rng(10_000 + seed)
    out = []
    for _ in range(n):
        out.append(DeviceProfile(
            speaker_band_hz=(float(rng.uniform(80, 900)), float(rng.uniform(3500, 7800))),
            mic_band_hz=(float(rng.uniform(30, 200)), float(rng.uniform(6000, 7900))),
            nonlinearity=bool(rng.random() < 0.7),
            clip_level=float(rng.uniform(0.2, 1.0)),
            nl_gain=float(rng.uniform(0.6, 3.0)),
            echo_gain_db=float(rng.uniform(-6.0, 10.0)),
        ))
    return out


def load_utterances(corpus: Path, split: str) -> dict[str, list[Path]]:
    """16 kHz WAV files of a corpus split (``training.data.corpus``), grouped by voice id."""
    rows = [json.loads(line) for line in (corpus / f"{split}.jsonl").read_text(encoding="utf-8").splitlines() if line]
    if not rows:
        raise ValueError(f"{corpus / (split + '.jsonl')} lists no utterances")
    by_voice: dict[str, list[Path]] = {}
    for row in rows:
        by_voice.setdefault(row["voice_id"], []).append(corpus / row["files"]["16000"])
    return by_voice


def _inside(rng: np.random.Generator, dims: np.ndarray, margin: float = 0.4) -> np.ndarray:
    return np.array([rng.uniform(margin, d - margin) for d in dims])


def _near(rng: np.random.Generator, dims: np.ndarray, origin: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """A random point ``lo``–``hi`` m from ``origin`` that lies inside the room (falls back to the centre)."""
    for _ in range(50):
        v = rng.standard_normal(3)
        p = origin + v / np.linalg.norm(v) * rng.uniform(lo, hi)
        if np.all(p > 0.2) and np.all(p < dims - 0.2):
            return p
    return dims / 2


def room_config(rng: np.random.Generator, seed: int, profile: DeviceProfile, dims: np.ndarray, speaker: np.ndarray,
                mic_pos: np.ndarray, talker: np.ndarray, delay_ms: float, jumps: list[dict],
                overrides: dict | None = None) -> RoomConfig:
    """A :class:`RoomConfig` for one scene: the given geometry and device, with RT60, volume, drift and
    noise drawn from ``rng`` (in this order); ``overrides`` replaces drawn values."""
    return build(RoomConfig, {
        "seed": int(seed % (2**31)), "room_dim_m": dims.tolist(), "rt60_s": float(rng.uniform(0.1, 0.8)),
        "speaker_pos_m": speaker.tolist(), "mic_pos_m": mic_pos.tolist(), "talker_pos_m": talker.tolist(),
        "volume": float(rng.uniform(0.3, 1.0)), "nonlinearity": profile.nonlinearity,
        "clip_level": profile.clip_level, "nl_gain": profile.nl_gain,
        "speaker_band_hz": list(profile.speaker_band_hz), "mic_band_hz": list(profile.mic_band_hz),
        "echo_gain_db": profile.echo_gain_db, "delay_ms": delay_ms, "delay_jumps": jumps,
        "drift_ppm": float(rng.uniform(-100, 100)) if rng.random() < 0.3 else 0.0,
        "noise": str(rng.choice(["none", "white", "pink"], p=[0.3, 0.3, 0.4])),
        "snr_db": float(rng.uniform(10, 40)),
        **(overrides or {}),
    })


def random_geometry(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Room size, loudspeaker, mic (5–50 cm from the loudspeaker) and talker (0.4–3 m from the mic), metres."""
    dims = np.array([rng.uniform(3, 8), rng.uniform(3, 7), rng.uniform(2.4, 3.5)])
    speaker = _inside(rng, dims)
    mic_pos = _near(rng, dims, speaker, 0.05, 0.5)
    talker = _near(rng, dims, mic_pos, 0.4, 3.0)
    return dims, speaker, mic_pos, talker


def speech_track(rng: np.random.Generator, files: list[Path], n: int, gap_s: tuple[float, float]) -> np.ndarray:
    """Utterances from ``files`` laid end to end with random gaps (negative gaps overlap) up to ``n`` samples."""
    out = np.zeros(n)
    pos = int(rng.uniform(0, 0.5) * SR)
    while pos < n:
        x = read_wav(files[int(rng.integers(len(files)))], SR)
        x = x.astype(np.float64)
        x /= active_rms(x) + 1e-9
        end = min(n, pos + x.shape[0])
        out[pos:end] += x[: end - pos]
        pos = max(0, pos + x.shape[0] + int(rng.uniform(*gap_s) * SR))
    return out


def make_scene(seed: int, utterances: dict[str, list[Path]], profiles: list[DeviceProfile],
               seconds: float = 8.0, room_overrides: dict | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Simulate one scene and run the DSP front end; returns (streams, metadata). See the module doc.

    ``room_overrides`` replaces drawn :class:`RoomConfig` values (for tests and diagnosis).
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * SR / HOP)) * HOP
    voices = sorted(utterances)
    if len(voices) < 2:
        raise ValueError("scenes need at least two voices (near and far end differ)")
    far_voice, near_voice = rng.choice(len(voices), 2, replace=False)
    profile = profiles[int(rng.integers(len(profiles)))]
    dims, speaker, mic_pos, talker = random_geometry(rng)
    kind = rng.choice(["double", "far_only", "near_only"], p=[0.75, 0.15, 0.1])
    delay_ms = float(rng.uniform(0, 300))
    jumps = []
    if rng.random() < 0.1:
        jumps = [{"at_s": float(rng.uniform(1, seconds - 1)), "delay_ms": float(rng.uniform(0, 300))}]
    cfg = room_config(rng, seed, profile, dims, speaker, mic_pos, talker, delay_ms, jumps, room_overrides)
    far = np.zeros(n)
    if kind != "near_only":
        far = speech_track(rng, utterances[voices[far_voice]], n, (0.05, 0.8))
        far *= 10 ** (rng.uniform(-26, -12) / 20)  # playback level, dBFS
        far = np.clip(far, -1, 1)
    room = SimulatedRoom(cfg)
    near_dry = None
    if kind != "far_only":
        near_dry = speech_track(rng, utterances[voices[near_voice]], n, (-0.6, 1.5))
        room.add_talker(near_dry.astype(np.float32), 0)
    _, truth = room.run(far.astype(np.float32))
    echo, near, noise = (truth[k].astype(np.float64) for k in ("echo", "near", "noise"))
    ser = float(rng.uniform(*SER_RANGE_DB))
    if kind == "double":
        active = np.abs(near) > 1e-5
        e_pow = float(np.mean(echo[active] ** 2)) if active.any() else 0.0
        if e_pow > 0:
            near *= np.sqrt(e_pow * 10 ** (ser / 10) / np.mean(near[active] ** 2))
    peak = float(np.max(np.abs(echo + near + noise)))
    if peak > MIC_PEAK:  # a real mic would clip: turn the whole capture down instead (keeps it linear)
        echo, near, noise = (x * (MIC_PEAK / peak) for x in (echo, near, noise))
    mic = echo + near + noise
    chain = EchoCanceller(CLASSICAL)  # only its linear part runs here
    ref_al, err = np.zeros(n), np.zeros(n)
    found = None
    for i in range(0, n, HOP):
        aligned, e, _, delay = chain.cancel_linear(mic[i : i + HOP], far[i : i + HOP])
        ref_al[i : i + HOP], err[i : i + HOP] = aligned, e
        found = delay if delay is not None else found
    streams = {"mic": mic, "ref": ref_al, "e": err, "near": near, "noise": noise}
    meta = {"seed": int(seed), "kind": str(kind), "ser_db": ser if kind == "double" else None,
            "profile": asdict(profile), "rt60_s": cfg.rt60_s, "delay_ms": delay_ms, "jumps": jumps,
            "noise": cfg.noise, "tde_final_samples": found,
            "true_delay_samples": float(truth["echo_delay_samples"][-1]), "laec_resets": chain.laec.resets,
            "far_voice": voices[far_voice], "near_voice": voices[near_voice]}
    return {k: v.astype(np.float32) for k, v in streams.items()}, meta


def save_scene(path: Path, streams: dict[str, np.ndarray], meta: dict) -> None:
    """One ``.npy`` of shape (5, samples) (rows in :data:`STREAMS` order) plus a ``.json`` beside it."""
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, np.stack([streams[k] for k in STREAMS]))
    tmp.replace(path.with_suffix(".npy"))
    path.with_suffix(".json").write_text(json.dumps(meta), encoding="utf-8")


_UTTS: dict[tuple[Path, str], dict[str, list[Path]]] = {}  # utterance lists per (corpus, split), per process


def _build_one(args: tuple[Path, int, Path, str, int, float]) -> str | None:
    out, seed, corpus, split, profile_seed, seconds = args
    target = out / f"{seed:07d}"
    if target.with_suffix(".json").exists():
        return None
    try:
        if (corpus, split) not in _UTTS:  # read the manifest once per process, not once per scene
            _UTTS[(corpus, split)] = load_utterances(corpus, split)
        streams, meta = make_scene(seed, _UTTS[(corpus, split)], device_profiles(seed=profile_seed), seconds)
        save_scene(target, streams, meta)
    except Exception as exc:  # one bad scene must not stop a long build
        logging.getLogger(__name__).warning("scene %d failed: %s", seed, exc)
        return f"{seed}: {exc}"
    return None



def build_scenes(out: Path, corpus: Path, split: str, count: int, first_seed: int, profile_seed: int,
                 seconds: float, workers: int = 1, progress: bool = True) -> list[Path]:
    """Build (or resume) ``count`` scenes into ``out``; returns the scene paths (without suffix)."""
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(out, first_seed + i, corpus, split, profile_seed, seconds) for i in range(count)]
    todo = [j for j in jobs if not (out / f"{j[1]:07d}.json").exists()]
    failures = run_jobs(_build_one, todo, workers, f"scenes {out.name}", progress)
    if failures:
        logging.getLogger(__name__).warning("%d scenes failed (first: %s)", len(failures), failures[0])
    return [out / f"{j[1]:07d}" for j in jobs if (out / f"{j[1]:07d}.json").exists()]


def main(argv: list[str] | None = None) -> int:
    """``python -m training.res.scenes``: build a scene set on its own (training does this by itself)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m training.res.scenes", description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, required=True, help="corpus folder (python -m training.data.corpus)")
    ap.add_argument("--out", type=Path, required=True, help="scene folder (resumable)")
    ap.add_argument("--split", default="train", choices=["train", "valid", "test"])
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--profile-seed", type=int, default=0, help="0 = training devices; others are held out")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    logging.getLogger("models.aec.laec").setLevel(logging.ERROR)
    paths = build_scenes(args.out, args.corpus, args.split, args.count, args.first_seed, args.profile_seed,
                         args.seconds, args.workers, not args.no_progress)
    print(f"{len(paths)} scenes in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
