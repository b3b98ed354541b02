"""``python -m agent room --out DIR``: render a scripted scene of the simulated room to WAV files.

The scene: the agent plays Bangla speech (the far end) from 0.5 s; a user talks over it from
``--near-at`` seconds (double talk). Both come from espeak-ng unless WAV files are given. The
scene runs through the same :class:`~audio_io.backend.RoomBackend` the agent uses, block by block.

Files written: ``mic.wav`` (what the microphone hears), ``ref.wav`` (what was played: the echo
reference), ``echo.wav``, ``near.wav``, ``noise.wav`` (ground truth; mic = echo + near + noise),
``echo_path_ir.npy`` (the linear echo path, including the volume) and ``truth.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import numpy as np

from agent.config import AgentConfig, to_dict
from audio_io.backend import RoomBackend
from audio_io.frames import SAMPLE_RATE
from audio_io.room import SimulatedRoom, active_rms
from audio_io.speech_synth import SynthVoice, synthesize
from audio_io.wav import read_wav, write_wav

FAR_TEXT = "আমি আপনার সহকারী। আজ আবহাওয়া ভালো থাকবে, তবে বিকেলে বৃষ্টি হতে পারে। আর কিছু জানতে চান?"
NEAR_TEXT = "থামো, আমি একটা প্রশ্ন করতে চাই।"
FAR_START_S = 0.5


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("room", help="render a scripted simulated-room scene to WAV files", description=(
        "Render a scripted scene of the simulated room: the agent plays Bangla speech from 0.5 s and a user "
        "talks over it from --near-at seconds (both from espeak-ng unless WAV files are given). Writes mic.wav, "
        "ref.wav (what was played), echo.wav, near.wav, noise.wav (mic = echo + near + noise), echo_path_ir.npy "
        "and truth.json (delay track, talker times, SER). Room settings: --set room.KEY=VALUE."))
    p.add_argument("--out", required=True, type=Path, help="output folder (created)")
    p.add_argument("--far-wav", type=Path, help="what the agent plays (default: Bangla speech from espeak-ng)")
    p.add_argument("--near-wav", type=Path, help="what the user says (default: Bangla speech from espeak-ng)")
    p.add_argument("--near-at", type=float, default=3.0, help="when the user starts talking, s (default 3.0)")
    p.add_argument("--duration", type=float, help="scene length in s (default: until both have finished, +0.5 s)")
    p.set_defaults(func=run)


def _ser_db(echo: np.ndarray, near: np.ndarray) -> float | None:
    """Signal-to-echo ratio over the stretch where the near end is active, dB."""
    active = np.abs(near) > 1e-4
    if not active.any():
        return None
    e = float(np.mean(echo[active].astype(np.float64) ** 2))
    s = active_rms(near) ** 2
    return None if e <= 0 else round(10 * np.log10(s / e), 2)


async def render(config: AgentConfig, far: np.ndarray, near: np.ndarray, near_at_s: float,
                 duration_s: float) -> dict[str, np.ndarray | dict]:
    """Run the scene through a RoomBackend; returns the signals and a truth record."""
    room = SimulatedRoom(config.room)
    backend = RoomBackend(room, duration_s=duration_s, paced=config.room.paced,
                          playback_buffer_s=max(config.audio.playback_buffer_s, duration_s + 1))
    near_at = int(round(near_at_s * SAMPLE_RATE))
    room.add_talker(near, near_at)
    far_at = int(FAR_START_S * SAMPLE_RATE)
    parts: dict[str, list] = {"mic": [], "ref": [], "echo": [], "near": [], "noise": []}
    delays: list[list[float]] = []
    queued = False
    async with backend:
        async for block in backend.blocks():
            if not queued and block.start_sample + block.num_samples >= far_at:
                backend.play(far)  # starts with the next block
                queued = True
            parts["mic"].append(block.mic)
            parts["ref"].append(block.ref)
            for key in ("echo", "near", "noise"):
                parts[key].append(block.truth[key])
            if not delays or abs(delays[-1][1] - block.truth["echo_delay_samples"]) > 0.5:
                delays.append([block.start_sample, round(block.truth["echo_delay_samples"], 2)])
    signals = {k: np.concatenate(v) for k, v in parts.items()}
    truth = {
        "sample_rate": SAMPLE_RATE,
        "duration_s": round(signals["mic"].shape[0] / SAMPLE_RATE, 3),
        "room": to_dict(config.room),
        "echo_path_peak_samples": room.echo_peak_samples,
        "echo_delay_track": {"columns": ["start_sample", "echo_delay_samples"], "rows": delays},
        "talkers": [{"start_s": near_at_s, "end_s": round(near_at_s + near.shape[0] / SAMPLE_RATE, 3)}],
        "ser_db": _ser_db(signals["echo"], signals["near"]),
    }
    signals["echo_path_ir"] = config.room.volume * room.linear_echo_ir
    return {"signals": signals, "truth": truth}


def run(args: argparse.Namespace) -> int:
    config: AgentConfig = args.config
    far = read_wav(args.far_wav) if args.far_wav else synthesize(FAR_TEXT, SynthVoice("espeak-ng", "bn", "bn", 150, 45))
    near = read_wav(args.near_wav) if args.near_wav else synthesize(NEAR_TEXT, SynthVoice("espeak-ng", "bn+f3", "bn", 165, 60))
    if args.near_at < 0:
        raise ValueError("--near-at must be >= 0")
    duration = args.duration
    if duration is None:
        duration = max(FAR_START_S + far.shape[0] / SAMPLE_RATE, args.near_at + near.shape[0] / SAMPLE_RATE) + 0.5
    if not 0 < duration <= 3600:
        raise ValueError(f"--duration must be in (0, 3600] s, got {duration}")
    result = asyncio.run(render(config, far, near, args.near_at, duration))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    sig = result["signals"]
    for name in ("mic", "ref", "echo", "near", "noise"):
        write_wav(out / f"{name}.wav", sig[name])
    np.save(out / "echo_path_ir.npy", sig["echo_path_ir"])
    (out / "truth.json").write_text(json.dumps(result["truth"], indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    t = result["truth"]
    print(f"scene: {t['duration_s']:.2f} s, RT60 {config.room.rt60_s} s, volume {config.room.volume:.0%}, "
          f"nonlinearity {'on' if config.room.nonlinearity else 'off'}, echo delay "
          f"{t['echo_delay_track']['rows'][0][1] / SAMPLE_RATE * 1000:.1f} ms, SER {t['ser_db']} dB")
    print(f"wrote {out}/{{mic,ref,echo,near,noise}}.wav, echo_path_ir.npy, truth.json")
    return 0
