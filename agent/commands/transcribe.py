"""``python -m agent transcribe``: text of a recording through the streaming Paraformer."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from agent.config import AgentConfig
from audio_io.frames import SAMPLE_RATE
from audio_io.wav import read_wav
from models.asr.paraformer import recognizer_from_config

BLOCK = 320  # feed the recogniser 20 ms at a time, as the agent does


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transcribe", help="transcribe a WAV with the streaming ASR",
                       description=(
                           "Recognise a recording with the streaming Paraformer, fed 20 ms at a time as in the "
                           "agent. The input is read as 16 kHz mono (other rates are resampled and stereo mixed "
                           "down, with a warning). Prints the partial results as they change and the final text; "
                           "--json writes {\"text\": ..., \"partials\": [[t_s, text], ...], ...}. Model and "
                           "streaming settings: --set asr.KEY=VALUE (asr.model_dir for another FunASR folder)."))
    p.add_argument("input", type=Path, metavar="IN.wav", help="recording to transcribe (WAV)")
    p.add_argument("--json", type=Path, metavar="OUT.json", help="write the text (and partial results) here")
    p.add_argument("--quiet", action="store_true", help="print only the final text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config: AgentConfig = args.config
    audio = read_wav(args.input, SAMPLE_RATE)
    recognizer = recognizer_from_config(config.asr)
    stream = recognizer.stream()
    partials: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    for start in range(0, audio.shape[0], BLOCK):
        text = stream.accept(audio[start : start + BLOCK])
        if text and (not partials or partials[-1][1] != text):
            t_s = min(start + BLOCK, audio.shape[0]) / SAMPLE_RATE
            partials.append((round(t_s, 2), text))
            if not args.quiet:
                print(f"  {t_s:6.2f} s  … {text}")
    text = stream.finish()
    elapsed = time.perf_counter() - t0
    seconds = audio.shape[0] / SAMPLE_RATE
    print(text)
    if not args.quiet:
        print(f"({seconds:.2f} s of audio in {elapsed:.2f} s, real-time factor {elapsed / max(seconds, 1e-9):.3f}; "
              f"model {recognizer.model_dir}, {recognizer.backend})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"text": text, "partials": partials, "duration_s": round(seconds, 3),
                   "elapsed_s": round(elapsed, 3), "model": str(recognizer.model_dir), "backend": recognizer.backend}
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0
