"""``python -m agent say``: speak Bangla text with the VITS voice, to a WAV file or the speaker."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from agent.config import AgentConfig
from audio_io.device import DeviceUnavailableError, play_chunks
from audio_io.wav import write_wav
from models.tts.text import TextError
from models.tts.voice import Voice, VoiceError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("say", help="speak text with the Bangla VITS voice (to a WAV or the speaker)",
                       description=(
                           "Normalise TEXT (numbers, dates, currency… spelled out), synthesise it sentence by "
                           "sentence with the VITS voice (tts.voice; default: the shipped demo voice) and write "
                           "it to --out, or play it on the speaker when there is one (playback starts after the "
                           "first sentence). TEXT '-' reads standard input. Prints the normalised sentences, "
                           "the time to first audio and the real-time factor."))
    p.add_argument("text", metavar="TEXT", help="text to speak ('-' = read standard input)")
    p.add_argument("--out", type=Path, metavar="OUT.wav", help="write the audio here instead of playing it")
    p.add_argument("--voice", help="voice: .onnx, folder, or KIND:PATH (project, piper, coqui, mms); default tts.voice")
    p.add_argument("--vocoder", help="vocoder of a two-stage (AlignTTS) voice: HiFi-GAN or UnivNet .onnx; "
                   "default tts.vocoder, else the one the voice names")
    p.add_argument("--speaker", help="speaker of a multi-speaker Piper voice (name or id); default tts.speaker")
    p.add_argument("--speed", type=float, default=None, help="speaking rate (1 = normal, 1.5 = faster)")
    p.add_argument("--noise-scale", type=float, default=None, help="prior noise (default tts.noise_scale)")
    p.add_argument("--noise-w", type=float, default=None, help="duration noise (default tts.noise_scale_w)")
    p.add_argument("--json", type=Path, metavar="OUT.json", help="write sentences and timings here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config: AgentConfig = args.config
    tts = config.tts
    text = sys.stdin.read() if args.text == "-" else args.text
    if len(text) > tts.max_text_chars:
        print(f"error: the text has {len(text)} characters; tts.max_text_chars is {tts.max_text_chars}", file=sys.stderr)
        return 2
    if args.speed is not None and not 0.25 <= args.speed <= 4:
        print("error: --speed must be between 0.25 and 4", file=sys.stderr)
        return 2
    try:
        voice = Voice.load(args.voice or tts.voice, threads=tts.threads, speaker=args.speaker or tts.speaker,
                           vocoder=args.vocoder or tts.vocoder, seed=tts.seed)
    except VoiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    settings = voice.settings(
        noise_scale=tts.noise_scale if args.noise_scale is None else args.noise_scale,
        length_scale=tts.length_scale / args.speed if args.speed else tts.length_scale,
        noise_w=tts.noise_scale_w if args.noise_w is None else args.noise_w,
        sentence_silence_s=tts.sentence_silence_s)
    try:
        sentences = voice.frontend.sentences(text)
    except TextError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not sentences:
        print(f"nothing to say: the text has no speakable Bangla (Latin-script words: {voice.frontend.latin}, "
              "set in the voice's .onnx.json)")
        return 0
    for s in sentences:
        print(f"  {s}")
    t0 = time.perf_counter()
    first: list[float] = []
    samples = 0

    def timed() -> Iterator[np.ndarray]:
        nonlocal samples
        for chunk in voice.synthesize(text, settings):
            if not first:
                first.append(time.perf_counter() - t0)
            samples += len(chunk)
            yield chunk

    if args.out:
        audio = np.concatenate(list(timed()))
        write_wav(args.out, audio, voice.sample_rate)
        where = str(args.out)
    else:
        try:
            play_chunks(timed(), voice.sample_rate)
        except DeviceUnavailableError as exc:
            print(f"error: cannot play ({exc}); use --out OUT.wav", file=sys.stderr)
            return 1
        where = "the speaker"
    elapsed = time.perf_counter() - t0
    seconds = samples / voice.sample_rate
    vocoder = None if voice.vocoder is None else str(voice.vocoder.path)
    print(f"{seconds:.2f} s of audio to {where}; first audio after {first[0] * 1000:.0f} ms, "
          f"real-time factor {elapsed / max(seconds, 1e-9):.3f} (voice {voice.source}"
          f"{'' if vocoder is None else ' + vocoder ' + vocoder})")
    if args.json:
        payload = {"sentences": sentences, "duration_s": round(seconds, 3), "first_audio_ms": round(first[0] * 1000, 1),
                   "elapsed_s": round(elapsed, 3), "voice": voice.source, "vocoder": vocoder}
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0
