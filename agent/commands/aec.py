"""``python -m agent aec``: echo-cancel a microphone recording given the played reference."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from agent.config import AgentConfig
from audio_io.frames import SAMPLE_RATE
from audio_io.wav import read_wav, write_wav
from models.aec.chain import EchoCanceller, cancel_echo, resolve_res_model

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("aec", help="echo-cancel a mic WAV with its reference WAV (ASR and VAD outputs)",
                       description=(
                           "Run the echo chain (GCC-PHAT delay estimation, Kalman echo canceller, post Wiener filter) "
                           "over a microphone recording and the signal that was played. Inputs are read as 16 kHz "
                           "mono (other rates are resampled and stereo mixed down, with a warning); the outputs "
                           "are aligned with the input sample for sample. Settings: --set aec.KEY=VALUE."))
    p.add_argument("--mic", required=True, type=Path, help="microphone recording (WAV)")
    p.add_argument("--ref", required=True, type=Path, help="what was played through the speaker (WAV)")
    p.add_argument("--out-asr", required=True, type=Path, help="output for the ASR (beta_asr, less distortion)")
    p.add_argument("--out-vad", type=Path, help="output for the VAD (beta_vad, stronger suppression)")
    p.add_argument("--stats", type=Path, help="write per-second statistics (delay, ERLE, double talk) as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config: AgentConfig = args.config
    mic = read_wav(args.mic, SAMPLE_RATE)
    ref = read_wav(args.ref, SAMPLE_RATE)
    if ref.shape[0] != mic.shape[0]:
        log.warning("reference has %d samples, mic %d: the reference is %s to the mic's length",
                    ref.shape[0], mic.shape[0], "cut" if ref.shape[0] > mic.shape[0] else "zero-padded")
    t0 = time.perf_counter()
    asr, vad, stats = cancel_echo(mic, ref, config.aec)
    elapsed = time.perf_counter() - t0
    write_wav(args.out_asr, asr)
    if args.out_vad:
        write_wav(args.out_vad, vad)
    per_s = SAMPLE_RATE // EchoCanceller.hop
    summary = [
        {"t_s": i / per_s, "delay_samples": s.delay_samples, "erle_db": round(s.erle_db, 2), "double_talk": s.double_talk}
        for i, s in enumerate(stats) if i % per_s == 0
    ]
    if args.stats:
        args.stats.write_text(json.dumps({"sample_rate": SAMPLE_RATE, "latency_removed_samples":
                                          EchoCanceller.latency_samples, "per_second": summary}, indent=2))
    delays = [s.delay_samples for s in stats if s.delay_samples is not None]
    seconds = mic.shape[0] / SAMPLE_RATE
    delay_txt = f"{delays[-1]:.1f} samples ({delays[-1] / 16:.1f} ms)" if delays else "none found"
    res = resolve_res_model(config.aec.res_model)
    masks = f"neural ({res})" if res is not None else "classical"
    print(f"{seconds:.2f} s processed in {elapsed:.2f} s ({elapsed / seconds * 100:.1f} % of real time); "
          f"echo delay {delay_txt}; ERLE estimate {stats[-1].erle_db:.1f} dB; residual echo masks: {masks}; "
          "outputs aligned with the input")
    return 0
