"""Short-word spotter examples: one short sound of the user while the agent talks, through the echo chain.

A scene (``make_scene(seed, split, ...)``) is ``WORDS_PER_SCENE`` short sounds of the user, each of one class:

- ``stop``: a command of :data:`STOP` (Bangla or English), which must stop the agent;
- ``backchannel``: one of :data:`BACKCHANNEL` (হুঁ, হ্যাঁ, আচ্ছা, okay …), over which the agent talks on;
- ``other``: one or two words of the project's sentence lists that are in neither list (a short question,
  a name …), which stops the agent as a command does;
- ``noise``: a cough, a knock, a clap or a breath (:func:`noise_burst`), over which the agent talks on;

spoken by an espeak-ng voice of the split (:func:`split_variants`: the variants that the short-word benchmark
uses are in neither split), at a random speed and pitch, in a random room and device of the RES scene
generator, while the agent's own voice (``cache/vad/agent_voice``, :mod:`training.vad.agent_voice`) plays.
As in the agent, the playback stops shortly after most sounds (a barge-in holds the reply) and resumes a
moment later. The capture runs through the real echo chain (default configuration: the neural RES); one
example is the window of the chain's ASR output that the agent would classify: from 0.1–0.6 s before the sound
to 0.15–0.45 s after it (the speech start's lag and the ASR pre-roll, the hangover and the check), as 40
log-mel features (:func:`models.vad.features.file_features` of that window alone, as the runtime computes them),
and the same features of the chain's echo estimate and of its linear canceller's output (before the residual
echo masks) over the window (for a spotter that reads them).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from agent.config import AecConfig
from agent.scripted_user import speech_offset, speech_onset
from agent.simulate.run import cough
from audio_io.room import SimulatedRoom
from audio_io.speech_synth import SynthVoice, espeak_variants, synthesize
from models.aec.chain import run_chain
from models.aec.stft import HOP
from models.kws.spotter import CLASSES
from models.vad.features import file_features
from training.data.corpus import spoken_sentences
from training.res.scenes import device_profiles, random_geometry, room_config, speech_track

SR = 16000
log = logging.getLogger(__name__)

STOP = {"bn": ["না", "থামো", "থামুন", "থাম", "দাঁড়াও", "দাঁড়ান", "চুপ", "চুপ করো", "এক মিনিট", "শোনো", "না না"],
        "en": ["stop", "no", "wait", "cancel", "hold on", "stop it", "wait a second", "no no"]}
BACKCHANNEL = {"bn": ["হুঁ", "হু", "হুম", "হুঁহুঁ", "উঁ", "উম", "হ্যাঁ", "আচ্ছা", "ঠিক", "ঠিক আছে", "আছে", "ও", "আহা",
                      "বাহ", "হ্যাঁ হ্যাঁ", "আচ্ছা আচ্ছা"],
               "en": ["mm", "hmm", "mhm", "mm-hmm", "uh-huh", "yeah", "yes", "ok", "okay", "right", "sure", "I see"]}
BENCHMARK_VARIANTS = ("f2", "f3", "m3")  # benchmarks/short_word_verdict.py's voices: never in training or validation
CLASS_P = (0.3, 0.35, 0.2, 0.15)  # stop, backchannel, other, noise
WORDS_PER_SCENE = 3
SCENE_GAP_S = (2.6, 3.2)  # from one sound's onset to the next one's


def split_variants(split: str) -> list[str]:
    """espeak-ng voice variants of ``split`` ("train" or "valid"): about one in six is held out for validation
    (by a hash of the name); the benchmark's variants are in neither."""
    if split not in ("train", "valid"):
        raise ValueError(f"split must be train or valid, got {split!r}")
    out = []
    for v in espeak_variants():
        if v in BENCHMARK_VARIANTS:
            continue
        held = int(hashlib.sha1(f"kws:{v}".encode()).hexdigest()[:8], 16) % 6 == 0
        if held == (split == "valid"):
            out.append(v)
    return out


@functools.lru_cache(maxsize=2)
def other_phrases(lang: str) -> tuple[str, ...]:
    """One- and two-word spans of the sentence lists with no word of either list (punctuation dropped)."""
    listed = {w for p in STOP[lang] + BACKCHANNEL[lang] for w in p.casefold().split()}
    out: set[str] = set()
    for _, sentence in spoken_sentences(lang):
        words = ["".join(ch for ch in w if ch.isalnum() or ch in "\u09bc\u09cd" or "\u0980" <= ch <= "\u09ff")
                 for w in sentence.split()]
        words = [w for w in words if w]
        for i, w in enumerate(words):
            if w.casefold() not in listed:
                out.add(w)
                if i + 1 < len(words) and words[i + 1].casefold() not in listed:
                    out.add(f"{w} {words[i + 1]}")
    return tuple(sorted(out))


def noise_burst(rng: np.random.Generator) -> np.ndarray:
    """A short non-speech sound at peak 0.3: a cough (other seeds than the benchmark's), a knock (two or three
    damped resonances), a clap or a breath (low-passed noise with a slow envelope)."""
    import scipy.signal

    kind = rng.choice(["cough", "knock", "clap", "breath"], p=[0.4, 0.25, 0.15, 0.2])
    if kind == "cough":
        return cough(int(rng.integers(1000, 10**6)), float(rng.uniform(0.2, 0.5)))
    if kind == "knock":
        hits = int(rng.integers(2, 4))
        gap = int(rng.uniform(0.1, 0.2) * SR)
        x = np.zeros(hits * gap + SR // 5)
        t = np.arange(SR // 5) / SR
        for h in range(hits):
            f = rng.uniform(150, 900)
            x[h * gap : h * gap + t.size] += np.sin(2 * np.pi * f * t) * np.exp(-t / rng.uniform(0.01, 0.04))
    elif kind == "clap":
        n = int(rng.uniform(0.05, 0.12) * SR)
        t = np.arange(n) / SR
        sos = scipy.signal.butter(2, [800, 6000], btype="bandpass", fs=SR, output="sos")
        x = scipy.signal.sosfilt(sos, rng.standard_normal(n)) * np.exp(-t / 0.015)
    else:
        n = int(rng.uniform(0.3, 0.7) * SR)
        sos = scipy.signal.butter(2, rng.uniform(1500, 4000), btype="lowpass", fs=SR, output="sos")
        x = scipy.signal.sosfilt(sos, rng.standard_normal(n)) * np.hanning(n)
    return (0.3 * x / (np.max(np.abs(x)) + 1e-12)).astype(np.float32)


def draw_sound(rng: np.random.Generator, variants: list[str], others: dict[str, tuple[str, ...]]
               ) -> tuple[str, str, str, np.ndarray]:
    """(class, text, voice, dry 16 kHz audio) of one short sound."""
    label = CLASSES[int(rng.choice(len(CLASSES), p=CLASS_P))]
    if label == "noise":
        return label, "", "", noise_burst(rng)
    lang = "bn" if rng.random() < 0.6 else "en"
    pool = {"stop": STOP, "backchannel": BACKCHANNEL}.get(label, others)[lang]
    text = pool[int(rng.integers(len(pool)))]
    base = "bn" if lang == "bn" else str(rng.choice(["en-us", "en"]))
    voice = SynthVoice("espeak-ng", f"{base}+{variants[int(rng.integers(len(variants)))]}", lang,
                       speed_wpm=int(rng.integers(120, 211)), pitch=int(rng.integers(25, 76)))
    return label, text, f"{voice.name} s{voice.speed_wpm} p{voice.pitch}", synthesize(text, voice, SR)


_VAD = None  # the shipped VAD, loaded once per process


def vad_speech(out) -> np.ndarray:  # noqa: ANN001 - models.aec.chain.ChainOutputs
    """The shipped VAD's speech probability per 20 ms block of the chain's outputs (as the agent reads them)."""
    global _VAD
    from models.vad.runtime import SemanticVad

    if _VAD is None:
        _VAD = SemanticVad()
    _VAD.reset()
    n = out.vad.shape[0] // HOP
    return np.array([_VAD.process(out.vad[i * HOP : (i + 1) * HOP], out.echo[i * HOP : (i + 1) * HOP],
                                  out.laec[i * HOP : (i + 1) * HOP])[0] for i in range(n)])


def make_scene(seed: int, split: str, agent_files: list[Path], keep_audio: bool = False) -> list[dict]:
    """Simulate one scene; returns one example per sound: ``features``, ``echo_features`` and ``laec_features``
    (frames, 40) float16, ``label`` (index in :data:`~models.kws.spotter.CLASSES`), ``text``, ``voice``,
    ``gain_db``, ``stopped`` (the playback paused after it), ``vad_peak`` (the shipped VAD's highest speech
    probability from the sound's onset to 0.2 s after it: a sound it never hears never reaches the spotter in the
    agent), and with ``keep_audio`` the window's ``audio`` (the chain's ASR output, float32)."""
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    variants = split_variants(split)
    others = {lang: other_phrases(lang) for lang in ("bn", "en")}
    profiles = device_profiles(seed=0 if split == "train" else 1)
    profile = profiles[int(rng.integers(len(profiles)))]
    dims, speaker, mic_pos, talker = random_geometry(rng)
    delay_ms = float(rng.uniform(0, 300))
    cfg = room_config(rng, seed, profile, dims, speaker, mic_pos, talker, delay_ms, [],
                      {"talker_level_dbfs": float(rng.uniform(-40, -24)), "volume": float(rng.uniform(0.4, 1.0))})
    sounds = [draw_sound(rng, variants, others) for _ in range(WORDS_PER_SCENE)]
    onsets = [float(rng.uniform(1.0, 3.0))]
    for _ in range(WORDS_PER_SCENE - 1):
        onsets.append(onsets[-1] + float(rng.uniform(*SCENE_GAP_S)))
    n = int((onsets[-1] + 2.0) * SR)
    far = speech_track(rng, agent_files, n, (0.05, 0.6))
    far = np.clip(far * 10 ** (rng.uniform(-26, -12) / 20), -1, 1)
    room = SimulatedRoom(cfg)
    placed = []
    for (label, text, voice, x), t in zip(sounds, onsets, strict=True):
        gain = float(rng.uniform(-6, 10))
        at = int(t * SR) - speech_onset(x)
        room.add_talker(x, at, gain)
        a, b = at + speech_onset(x), at + speech_offset(x)
        stopped = rng.random() < 0.85  # the agent holds its reply at a barge-in, and resumes it a moment later
        if stopped:
            s = a + int(rng.uniform(0.1, 0.35) * SR)
            far[s : s + int(rng.uniform(0.6, 1.2) * SR)] = 0.0
        placed.append((label, text, voice, gain, a, b, stopped))
    mic, _ = room.run(far.astype(np.float32))
    out = run_chain(mic.astype(np.float64), far, AecConfig())
    p_speech = vad_speech(out)
    examples = []
    for label, text, voice, gain, a, b, stopped in placed:
        lo = max(0, a - int(rng.uniform(0.1, 0.6) * SR))
        hi = min(n, b + int(rng.uniform(0.15, 0.45) * SR))
        window = out.asr[lo:hi].astype(np.float32)
        peak = float(p_speech[a // HOP : (b + int(0.2 * SR)) // HOP + 1].max())
        ex = {"features": file_features(window).astype(np.float16),
              "echo_features": file_features(out.echo[lo:hi]).astype(np.float16),
              "laec_features": file_features(out.laec[lo:hi]).astype(np.float16),
              "label": CLASSES.index(label), "text": text, "voice": voice, "gain_db": round(gain, 1),
              "stopped": stopped, "vad_peak": round(peak, 3)}
        if keep_audio:
            ex["audio"] = window
        examples.append(ex)
    return examples


def save_shard(path: Path, examples: list[dict]) -> None:
    """Examples in one ``.npz``: features concatenated with per-example offsets, labels, a JSON of the rest."""
    feats = [e["features"] for e in examples]
    offsets = np.cumsum([0] + [f.shape[0] for f in feats])
    arrays = {"features": np.concatenate(feats), "offsets": offsets,
              "echo_features": np.concatenate([e["echo_features"] for e in examples]),
              "laec_features": np.concatenate([e["laec_features"] for e in examples]),
              "labels": np.array([e["label"] for e in examples], dtype=np.int64),
              "meta": np.array(json.dumps([{k: e[k] for k in ("text", "voice", "gain_db", "stopped", "vad_peak")}
                                           for e in examples], ensure_ascii=False))}
    if all("audio" in e for e in examples):
        audio = [e["audio"] for e in examples]
        arrays["audio"] = np.concatenate(audio)
        arrays["audio_offsets"] = np.cumsum([0] + [a.shape[0] for a in audio])
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def load_shards(folder: Path) -> dict[str, list]:
    """All shards of a folder: ``features``, ``echo_features`` and ``laec_features`` (lists of (frames, 40)
    float32), ``labels`` (list of int), ``meta``
    (list of dicts) and, where kept, ``audio`` (list of float32 arrays)."""
    out: dict[str, list] = {"features": [], "echo_features": [], "laec_features": [], "labels": [], "meta": [],
                            "audio": []}
    for path in sorted(folder.glob("shard_*.npz")):
        if path.name.endswith(".tmp.npz"):
            continue
        with np.load(path) as z:
            off = z["offsets"]
            out["features"] += [z["features"][off[i] : off[i + 1]].astype(np.float32) for i in range(off.size - 1)]
            for key in ("echo_features", "laec_features"):
                out[key] += [z[key][off[i] : off[i + 1]].astype(np.float32) for i in range(off.size - 1)]
            out["labels"] += [int(v) for v in z["labels"]]
            out["meta"] += json.loads(str(z["meta"]))
            if "audio" in z:
                ao = z["audio_offsets"]
                out["audio"] += [z["audio"][ao[i] : ao[i + 1]] for i in range(ao.size - 1)]
    return out


def _build_shard(job: tuple[Path, str, int, int, list[Path], bool]) -> str | None:
    path, split, first, count, agent_files, keep_audio = job
    if path.is_file():
        return None
    try:
        examples = [ex for seed in range(first, first + count) for ex in make_scene(seed, split, agent_files,
                                                                                    keep_audio)]
        save_shard(path, examples)
    except Exception as exc:  # noqa: BLE001 - reported with the shard's name, the run goes on
        return f"{path.name}: {exc}"
    return None


def build_examples(out: Path, split: str, scenes: int, agent_files: list[Path], workers: int = 2,
                   scenes_per_shard: int = 10, progress: bool = True) -> list[str]:
    """Build ``scenes`` scenes of ``split`` into ``out/shard_NNNN.npz`` (resumable: shards that exist are kept);
    returns the errors. Validation shards keep the windows' audio (for the ASR's words)."""
    from training.common.loop import run_jobs

    if not agent_files:
        raise ValueError("no agent voice files (build them with training.vad.agent_voice)")
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(out / f"shard_{k:04d}.npz", split, k * scenes_per_shard, min(scenes_per_shard, scenes - k * scenes_per_shard),
             agent_files, split == "valid") for k in range(-(-scenes // scenes_per_shard))]
    return run_jobs(_build_shard, jobs, workers, f"{split} scenes", progress)
