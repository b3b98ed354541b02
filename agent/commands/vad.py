"""``python -m agent vad``: speech segments and end-of-turn decisions of a recording."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from agent.config import AgentConfig
from audio_io.frames import SAMPLE_RATE
from audio_io.wav import read_wav
from models.vad.runtime import SemanticVad, detect, resolve_vad_model


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("vad", help="find speech segments and ends of turn in a WAV (semantic VAD)",
                       description=(
                           "Run the semantic VAD and the endpointer over a recording, as the agent does while it "
                           "listens, but with the VAD alone: the end-of-turn text cue (vad.text_cue, on in the agent) "
                           "needs the ASR's words and is not applied here. The input is read as 16 kHz mono (other rates are resampled and stereo mixed "
                           "down, with a warning). Prints the segments; --json writes {\"segments\": [[start_s, "
                           "end_s], ...], \"end_of_turn\": [t_s, ...]} where an end-of-turn time is when the "
                           "decision was made. Settings: --set vad.KEY=VALUE."))
    p.add_argument("input", type=Path, metavar="IN.wav", help="recording to analyse (WAV)")
    p.add_argument("--json", type=Path, metavar="OUT.json", help="write the segments and end-of-turn times here")
    p.add_argument("--probabilities", type=Path, metavar="OUT.csv",
                   help="also write the per-frame probabilities (time_s, speech, end_of_turn) as CSV")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config: AgentConfig = args.config
    audio = read_wav(args.input, SAMPLE_RATE)
    vad = SemanticVad(resolve_vad_model(config.vad.model), config.vad.threads)
    t0 = time.perf_counter()
    result = detect(audio, config.vad, vad)
    elapsed = time.perf_counter() - t0
    seconds = audio.shape[0] / SAMPLE_RATE
    for a, b in result.segments:
        print(f"speech {a:7.2f} – {b:7.2f} s")
    for t in result.end_of_turn:
        print(f"end of turn decided at {t:.2f} s")
    print(f"{len(result.segments)} speech segments, {len(result.end_of_turn)} ends of turn in {seconds:.2f} s "
          f"(processed in {elapsed:.2f} s, {elapsed / max(seconds, 1e-9) * 100:.1f} % of real time)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.as_json(), indent=2) + "\n")
    if args.probabilities:
        args.probabilities.parent.mkdir(parents=True, exist_ok=True)
        rows = ["time_s,speech,end_of_turn"] + [f"{(t + 1) * vad.hop / SAMPLE_RATE:.2f},{p[0]:.4f},{p[1]:.4f}"
                                                for t, p in enumerate(result.probabilities)]
        args.probabilities.write_text("\n".join(rows) + "\n")
    return 0
