"""ASR examples: every corpus utterance clean, in a simulated room, and in a room with the agent talking.

For each utterance of the spoken-only corpus (``python -m training.data.corpus --spoken-only``) this
writes ``<id>.npz`` with Paraformer features (80 fbank × LFR 7/``model.lfr_n`` = 560 values per vector, before
CMVN; the hop is kept in the file as ``lfr_n``, :func:`stored_lfr_n`) of three versions, the audio of the two
simulated ones, and the normalised transcript (training computes features at another hop from that audio):

- ``clean``: the corpus audio as synthesised;
- ``room``: the user in a simulated room and device (:func:`~training.res.scenes.room_config`),
  through the echo chain's ASR output with the loudspeaker silent;
- ``echo``: the same with the agent talking (other voices of the same split) at a signal-to-echo
  ratio drawn from ``echo_ser_db``, through the echo chain's ASR output (β_asr) — the stream the
  recogniser hears in the agent.

Splits follow the corpus (disjoint voices) and, in addition, a share of sentences is held out: a
training utterance containing one is skipped, and test utterances are tagged ``new_sentences``
so that benchmarks report seen and unseen sentences apart. Every choice comes from the utterance
index, so a rebuilt example is identical.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from agent.config import AecConfig
from audio_io.room import SimulatedRoom
from audio_io.wav import read_wav
from models.aec.chain import CLASSICAL, cancel_echo
from models.aec.stft import HOP
from models.asr.tokens import normalize_transcript
from training.common.loop import run_jobs
from training.res.scenes import device_profiles, random_geometry, room_config, speech_track

SR = 16000
VERSIONS = ("clean", "room", "echo")
FUNASR_LFR_N = 6  # FunASR's released models' LFR hop (60 ms); examples written before the hop was recorded have it
log = logging.getLogger(__name__)


def sentence_heldout(sentence: str, fraction: float) -> bool:
    """Whether a sentence is held out of training (a stable hash of its normalised text)."""
    h = int(hashlib.sha1(normalize_transcript(sentence).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return h < fraction


def load_manifest(corpus: Path) -> list[dict]:
    path = corpus / "manifest.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"corpus manifest not found: {path} (build it with python -m training.data.corpus)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def room_signals(seed: int, clean: np.ndarray, agent_files: list[Path] | None, ser_db: float | None,
                 profile_seed: int = 0, parts: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
    """``clean`` spoken in a random simulated room and device: (microphone, loudspeaker signal, meta), float64 at
    16 kHz, before any echo chain (:func:`in_room` runs the chain on them).

    With ``agent_files`` and ``ser_db`` the loudspeaker plays speech from those files and the user's level is
    set so that the signal-to-echo ratio at the mic is ``ser_db`` (over the user's active samples).
    ``parts``: meta also holds the microphone's parts as mixed (``echo``, ``near``, ``noise_signal``: mic = their sum)
    and the device (``delay_ms``: the bulk delay, ``nonlinearity``, ``clip_level``, ``nl_gain``, ``volume``).
    """
    rng = np.random.default_rng(seed)
    n = int(np.ceil((clean.shape[0] + 0.3 * SR) / HOP)) * HOP
    profiles = device_profiles(seed=profile_seed)
    profile = profiles[int(rng.integers(len(profiles)))]
    dims, speaker, mic_pos, talker = random_geometry(rng)
    cfg = room_config(rng, seed, profile, dims, speaker, mic_pos, talker, float(rng.uniform(0, 300)), [],
                      {"talker_level_dbfs": float(rng.uniform(-40, -20)), "drift_ppm": 0.0})
    # with nothing played the echo path carries only zeros: its RIR (half the RIR time) is not computed
    played = bool(agent_files) and ser_db is not None
    room = SimulatedRoom(cfg, echo_rir=None if played else np.ones(1))
    near_dry = np.zeros(n, np.float32)
    near_dry[: clean.shape[0]] = clean
    room.add_talker(near_dry, 0)
    far = np.zeros(n)
    if played:
        far = speech_track(rng, agent_files, n, (0.05, 0.5))
        far = np.clip(far * 10 ** (rng.uniform(-22, -12) / 20), -1, 1)
    _, truth = room.run(far.astype(np.float32))
    echo, near, noise = (truth[k].astype(np.float64) for k in ("echo", "near", "noise"))
    if ser_db is not None and np.any(far):
        active = np.abs(near) > 1e-5
        e_pow = float(np.mean(echo**2))
        if e_pow > 0 and active.any():
            near *= np.sqrt(e_pow * 10 ** (ser_db / 10) / np.mean(near[active] ** 2))
    mic = echo + near + noise
    peak = float(np.max(np.abs(mic)))
    scale = 0.99 / peak if peak > 0.99 else 1.0
    mic *= scale
    meta = {"seed": int(seed), "ser_db": ser_db, "rt60_s": cfg.rt60_s, "noise": cfg.noise, "snr_db": cfg.snr_db}
    if parts:
        meta.update({"echo": echo * scale, "near": near * scale, "noise_signal": noise * scale,
                     "delay_ms": float(cfg.delay_ms), "nonlinearity": bool(cfg.nonlinearity),
                     "clip_level": float(cfg.clip_level), "nl_gain": float(cfg.nl_gain), "volume": float(cfg.volume)})
    return mic, far, meta


def in_room(seed: int, clean: np.ndarray, agent_files: list[Path] | None, ser_db: float | None,
            profile_seed: int = 0, chain: AecConfig = CLASSICAL) -> tuple[np.ndarray, dict]:
    """``clean`` spoken in a random simulated room and device (:func:`room_signals`), through the echo chain (by
    default with the classical masks: the shipped ASR model's recipe and benchmark); returns (ASR output, meta).

    ``chain`` changes only the echo chain: the same seed gives the same microphone and loudspeaker signals.
    """
    mic, far, meta = room_signals(seed, clean, agent_files, ser_db, profile_seed)
    asr_out, _, _ = cancel_echo(mic, far, chain)
    return asr_out.astype(np.float32), meta


_FRONTENDS: dict[int, object] = {}  # FunASR's offline frontend per LFR hop, built on first use (per process)


def fbank_lfr(audio: np.ndarray, lfr_n: int = FUNASR_LFR_N) -> np.ndarray:
    """Paraformer input features of 16 kHz audio without CMVN: (frames, 560) float32, one per ``lfr_n`` × 10 ms.

    FunASR's own offline frontend; identical to what its streaming frontend gives chunk by chunk.
    """
    import torch

    from training.asr.folder import paraformer_config

    frontend = _FRONTENDS.get(lfr_n)
    if frontend is None:
        from models.asr.paraformer import quiet_funasr

        with quiet_funasr():  # FunASR's import prints a notice about ffmpeg to stdout
            from funasr.frontends.wav_frontend import WavFrontend

        frontend = _FRONTENDS[lfr_n] = WavFrontend(**paraformer_config(lfr_n=lfr_n)["frontend_conf"])
    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None]
    with torch.no_grad():
        feats, _ = frontend(x, torch.tensor([x.shape[1]]))
    return feats[0].numpy()


def _build_one(args: tuple) -> str | None:
    rec, corpus, out, agent_files, ser_range, heldout, lfr_n = args
    path = out / f"{rec['id']}.npz"
    if path.exists():
        return None
    try:
        clean = read_wav(corpus / rec["files"]["16000"], SR)
        seed = int(rec["id"].replace("-", ""))
        room, room_meta = in_room(seed * 2 + 1, clean, None, None)
        rng = np.random.default_rng(seed)
        ser = float(rng.uniform(*ser_range))
        echo, echo_meta = in_room(seed * 2, clean, agent_files, ser)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, clean=fbank_lfr(clean, lfr_n).astype(np.float16), room=fbank_lfr(room, lfr_n).astype(np.float16),
                 echo=fbank_lfr(echo, lfr_n).astype(np.float16), lfr_n=np.int16(lfr_n),
                 room_audio=(np.clip(room, -1, 1) * 32767).astype(np.int16),
                 echo_audio=(np.clip(echo, -1, 1) * 32767).astype(np.int16))
        tmp.replace(path)
        meta = {"id": rec["id"], "text": normalize_transcript(rec["text"]), "language": rec["language"],
                "split": rec["split"], "voice_id": rec["voice_id"], "clean_wav": rec["files"]["16000"],
                "new_sentences": any(sentence_heldout(s["text"], heldout) for s in rec["sentences"]),
                "room": room_meta, "echo": echo_meta}
        path.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        return None
    except Exception as exc:  # one bad utterance must not stop the build
        return f"{rec['id']}: {exc}"


def build_examples(corpus: Path, out: Path, ser_range: tuple[float, float], heldout: float, workers: int,
                   progress: bool = True, lfr_n: int = FUNASR_LFR_N) -> list[dict]:
    """Build (or resume) the examples of every corpus utterance, features at LFR hop ``lfr_n``; returns their
    metadata records."""
    out.mkdir(parents=True, exist_ok=True)
    records = load_manifest(corpus)
    agent_by_split: dict[str, list[Path]] = {}
    for r in records:
        agent_by_split.setdefault(r["split"], []).append(corpus / r["files"]["16000"])
    # validation and test utterances first: a training run started on a partial build (``--no-build``)
    # then validates on its final set; the content of an example does not depend on the order
    first = {"valid": 0, "test": 1}
    todo = sorted((r for r in records if not (out / f"{r['id']}.json").exists()),
                  key=lambda r: (first.get(r["split"], 2), r["id"]))
    jobs = [(r, corpus, out, agent_by_split[r["split"]], tuple(ser_range), heldout, lfr_n) for r in todo]
    failures = run_jobs(_build_one, jobs, workers, "asr examples", progress)
    if failures:
        log.warning("%d examples failed (re-run to retry): %s", len(failures), "; ".join(failures[:5]))
    return load_examples(out)


def stored_lfr_n(example: np.lib.npyio.NpzFile) -> int:
    """The LFR hop of an open example file's features."""
    return int(example["lfr_n"]) if "lfr_n" in example.files else FUNASR_LFR_N


def load_examples(out: Path) -> list[dict]:
    """Metadata of the finished examples in ``out`` (sorted by id), each with its ``path``."""
    rows = []
    for meta in sorted(out.glob("*.json")):
        if meta.with_suffix(".npz").exists():
            row = json.loads(meta.read_text(encoding="utf-8"))
            row["path"] = str(meta.with_suffix(".npz"))
            rows.append(row)
    return rows
