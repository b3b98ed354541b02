"""TTS benchmark: real-time factor and time to first audio of VITS voices, side by side in one run.

    python benchmarks/tts_bench.py [--quick] [--voice PATH] [--int8 PATH] [--json OUT.json]

Voices (each exported to ONNX here or loaded, all run on onnxruntime with one thread):
- ``voice``: the demo voice (``--voice``; default the shipped one; a random-weight ``small`` VITS when
  there is none, flagged in the table);
- ``int8``: its QAT int8 export (``--int8``; default: the same random weights fake-quantised and exported
  through the QAT path, so that the speed of the int8 graph is measured even before a QAT run);
- ``medium``: a Piper-medium-sized VITS (hidden 192, decoder 256 channels) with random weights;
- ``paper``: the paper's / MMS size (Coqui's default VITS, 36 M parameters) with random weights (skipped by --quick);
- ``piper``, ``mms``, ``coqui``: the other formats a user may bring, at their published sizes, with random weights
  built by their own libraries (:mod:`models.tts.voices.references`) and loaded the way a user loads them
  (``Voice.load``): Piper runs as it is (espeak-ng phonemes), MMS and Coqui are converted once to a project
  voice (``load_s`` includes that conversion; skipped by --quick).

Texts: a 10-word sentence and a 100-word paragraph (ten sentences). Random-weight voices are given
a fixed length scale so that every voice produces about the same amount of audio per character
(durations of an untrained duration predictor are arbitrary); RTF = synthesis time / audio length,
first audio = time until the first sentence's chunk is ready. Medians of repeated runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")

import torch  # noqa: E402

from models.tts.vits import Vits, size_config  # noqa: E402
from models.tts.voice import SHIPPED_VOICE, SynthesisSettings, Voice  # noqa: E402
from models.tts.voices.references import build_coqui, build_mms, build_piper  # noqa: E402

SENTENCE = "আজ সকালে আমি বাজারে গিয়ে কিছু তাজা সবজি আর মাছ কিনেছি।"  # 10 words
PARAGRAPH = " ".join([
    "আজ সকালে আমি বাজারে গিয়ে কিছু তাজা সবজি আর মাছ কিনেছি।",
    "দুপুরে মা সেই মাছ দিয়ে খুব মজার একটা তরকারি রান্না করলেন।",
    "বিকেলে আমরা সবাই মিলে নদীর ধারে হাঁটতে গেলাম আর গল্প করলাম।",
    "সন্ধ্যার আগে আকাশে কালো মেঘ জমে হঠাৎ বৃষ্টি শুরু হলো।",
    "আমরা দৌড়ে একটা চায়ের দোকানে ঢুকে গরম চা খেলাম।",
    "দোকানের বৃদ্ধ মালিক আমাদের তার ছোটবেলার অনেক মজার গল্প শোনালেন।",
    "বৃষ্টি থামলে আমরা ভেজা রাস্তা ধরে ধীরে ধীরে বাড়ি ফিরলাম।",
    "রাতে খাওয়ার পরে বাবা আমাদের একটা পুরনো গান গেয়ে শোনালেন।",
    "ছোট ভাই সেই গান শুনতে শুনতে কখন যে ঘুমিয়ে পড়ল বুঝতেই পারিনি।",
    "এমন সুন্দর একটা দিন অনেক দিন পরে আমাদের জীবনে এসেছিল।",
])


def export_random(size: str, folder: Path, qat: bool = False) -> Path:
    from models.tts.vits.export import export_voice

    torch.manual_seed(0)
    model = Vits(size_config(size)).eval()
    if qat:
        from training.tts.qat import freeze, prepare_qat

        prepare_qat(model.train(), "decoder")
        with torch.no_grad():  # calibrate the activation ranges on a few syntheses
            for _ in range(3):
                model.infer(torch.randint(1, 90, (1, 60)), torch.tensor([60]), length_scale=8.0)
        freeze(model)
    name = f"{size}{'_int8' if qat else ''}.onnx"
    return export_voice(model, folder / name, {"random_weights": True}, quality=size)


def measure(voice: Voice, text: str, settings: SynthesisSettings, repeats: int) -> dict:
    rtfs, firsts = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        first, samples = None, 0
        for chunk in voice.synthesize(text, settings):
            if first is None:
                first = time.perf_counter() - t0
            samples += len(chunk)
        elapsed = time.perf_counter() - t0
        rtfs.append(elapsed / (samples / voice.sample_rate))
        firsts.append(first)
    return {"rtf": statistics.median(rtfs), "first_audio_ms": 1000 * statistics.median(firsts),
            "audio_s": samples / voice.sample_rate}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats, no paper-size model")
    p.add_argument("--voice", type=Path, default=None, help="voice .onnx (default: the shipped demo voice)")
    p.add_argument("--int8", type=Path, default=None, help="int8 voice .onnx (default: exported here)")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    repeats = 2 if args.quick else 5
    tmp = Path(tempfile.mkdtemp(prefix="tts-bench-"))
    voices: dict[str, tuple[Path, bool]] = {}
    demo = args.voice or (SHIPPED_VOICE if SHIPPED_VOICE.exists() else None)
    voices["voice"] = (demo, False) if demo else (export_random("small", tmp), True)
    voices["int8"] = (args.int8, False) if args.int8 else (export_random("small", tmp, qat=True), True)
    voices["medium"] = (export_random("medium", tmp), True)
    if not args.quick:
        voices["paper"] = (export_random("paper", tmp), True)
        os.environ["DUPLEX_AGENT_CACHE"] = str(tmp / "cache")  # conversions of this run only
        voices["piper"] = (build_piper(tmp / "bn_BD-random-medium.onnx", "real"), True)
        voices["mms"] = (build_mms(tmp / "mms-tts-random", "real"), True)
        voices["coqui"] = (build_coqui(tmp / "coqui", "real"), True)
    texts = {"sentence_10w": SENTENCE, "paragraph_100w": PARAGRAPH}
    report: dict = {"quick": args.quick, "threads": 1, "voices": {}}
    for name, (path, random_weights) in voices.items():
        t0 = time.perf_counter()
        voice = Voice.load(path, threads=1)
        load_s = time.perf_counter() - t0
        # random weights: pin durations (noise_w 0, long length scale) so audio length is comparable
        settings = voice.settings(noise_w=0.0, length_scale=6.0) if random_weights else voice.defaults
        voice.synthesize_all("আমি।", settings)  # warm-up
        row = {"path": str(path), "kind": voice.origin,
               "random_weights": random_weights, "size_mb": round(voice.path.stat().st_size / 1e6, 2),
               "load_s": round(load_s, 2)}
        for key, text in texts.items():
            row[key] = measure(voice, text, settings, repeats)
        report["voices"][name] = row
    base = report["voices"]["medium"]["paragraph_100w"]["rtf"]
    print(f"{'voice':8} {'kind':8} {'MB':>6} {'load s':>7} {'RTF 10w':>8} {'first ms':>9} {'RTF 100w':>9} "
          f"{'first ms':>9} {'vs medium':>9}")
    for name, row in report["voices"].items():
        s, para = row["sentence_10w"], row["paragraph_100w"]
        flag = " (random weights)" if row["random_weights"] else ""
        print(f"{name:8} {row['kind']:8} {row['size_mb']:6.1f} {row['load_s']:7.2f} {s['rtf']:8.4f} {s['first_audio_ms']:9.1f} {para['rtf']:9.4f} "
              f"{para['first_audio_ms']:9.1f} {para['rtf'] / base:8.2f}x{flag}")
    report["ratio_voice_vs_medium"] = report["voices"]["voice"]["paragraph_100w"]["rtf"] / base
    report["ratio_int8_vs_voice"] = (report["voices"]["int8"]["paragraph_100w"]["rtf"]
                                     / report["voices"]["voice"]["paragraph_100w"]["rtf"])
    print(f"int8 / float RTF: {report['ratio_int8_vs_voice']:.2f}; demo voice / medium: {report['ratio_voice_vs_medium']:.2f}")
    print(json.dumps({k: v for k, v in report.items() if k != "voices"}))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
