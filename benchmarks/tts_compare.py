"""The TTS paper's comparison with this project's numbers, every system in one run.

    python benchmarks/tts_compare.py [--quick] [--limit N] [--no-asr] [--json docs/results_tts_compare.json]
        [--acoustic A.onnx] [--hifigan H.onnx] [--univnet U.onnx] [--vits V.onnx] [--int8 I.onnx] [--coqui PATH]

Systems: AlignTTS + HiFi-GAN, AlignTTS + UnivNet (two-stage), VITS, VITS QAT-int8, and a Coqui
Bangla VITS when one is given (``--coqui``, converted once like ``Voice.load("coqui:PATH")``).
Defaults are the shipped models in ``models/weights/`` and the QAT export of the recipe
(``cache/tts/qat/voice_int8.onnx``); a system whose files are missing is listed as skipped.

Columns, as in the paper: real-time factor on one thread (100-word paragraph) and time to first
audio (10-word sentence), medians of repeated runs; intelligibility = character error rate of the
project's ASR on the synthesised held-out sentences; mel-cepstral distortion against the held-out
teacher recordings (``training.tts.evaluate``: DTW-aligned MFCC-style cepstra, comparable inside this
project only). The teacher recordings' own CER is printed as the ceiling the ASR allows. **MOS is not
measured**: it needs listeners, and no number is invented for it.

Held-out sentences: the features of the TTS recipe (``--features``, default ``cache/tts/features``,
built by ``python -m training.tts``), the utterances its hash puts in the validation split.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.filterwarnings("ignore")

from tts_bench import PARAGRAPH, SENTENCE, measure  # noqa: E402

from models.tts.voice import SHIPPED_VOICE, WEIGHTS, Voice, VoiceError  # noqa: E402

MOS_NOTE = "MOS not measured: it needs listeners"
REPO = Path(__file__).resolve().parents[1]


def shown(path: str | Path | None) -> str | None:
    """``path`` as written in the report: relative to the repository when it is inside it."""
    if path is None:
        return None
    kind, sep, rest = str(path).rpartition(":") if ":" in str(path) else ("", "", str(path))
    try:
        rest = str(Path(rest).resolve().relative_to(REPO))
    except ValueError:
        pass
    return f"{kind}{sep}{rest}"


def systems(args: argparse.Namespace) -> dict[str, dict]:
    """name → {"spec", "vocoder"} of every system to compare (paths may be missing: reported as skipped)."""
    out = {
        "aligntts_hifigan": {"spec": args.acoustic, "vocoder": args.hifigan},
        "aligntts_univnet": {"spec": args.acoustic, "vocoder": args.univnet},
        "vits": {"spec": args.vits, "vocoder": None},
        "vits_int8": {"spec": args.int8, "vocoder": None},
    }
    if args.coqui:
        out["coqui"] = {"spec": f"coqui:{args.coqui}", "vocoder": None}
    return out


def missing(spec: str | Path, vocoder: Path | None) -> str | None:
    for p in (str(spec).split(":", 1)[-1], vocoder):
        if p is not None and not Path(p).exists():
            return f"{p} not found"
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--acoustic", type=Path, default=WEIGHTS / "tts_bn_aligntts.onnx", help="AlignTTS .onnx")
    p.add_argument("--hifigan", type=Path, default=WEIGHTS / "tts_bn_hifigan.onnx", help="HiFi-GAN .onnx")
    p.add_argument("--univnet", type=Path, default=WEIGHTS / "tts_bn_univnet.onnx", help="UnivNet .onnx")
    p.add_argument("--vits", type=Path, default=SHIPPED_VOICE, help="VITS voice .onnx")
    p.add_argument("--int8", type=Path, default=Path("cache/tts/qat/voice_int8.onnx"), help="VITS QAT-int8 .onnx")
    p.add_argument("--coqui", type=Path, default=None, help="a Coqui Bangla VITS (config.json + model.pth folder)")
    p.add_argument("--features", type=Path, default=Path("cache/tts/features"), help="the TTS recipe's features")
    p.add_argument("--valid-fraction", type=float, default=0.05, help="the recipe's data.valid_fraction")
    p.add_argument("--limit", type=int, default=None, help="score only the first N held-out sentences")
    p.add_argument("--repeats", type=int, default=3, help="speed runs per text (median)")
    p.add_argument("--no-asr", action="store_true", help="skip the character error rate")
    p.add_argument("--quick", action="store_true", help="5 held-out sentences, one speed run (a smoke run)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    args = p.parse_args(argv)
    if args.quick:
        args.limit, args.repeats = min(args.limit or 5, 5), 1

    import torch

    from training.tts.data import load_utterances
    from training.tts.evaluate import evaluate

    torch.set_num_threads(1)
    held_out = load_utterances(args.features, args.valid_fraction, "valid")[: args.limit]
    if not held_out:
        print(f"error: no held-out utterances in {args.features}; build them with python -m training.tts "
              "(the data step runs before training)", file=sys.stderr)
        return 1
    recognizer = None
    if not args.no_asr:
        from models.asr.paraformer import ParaformerRecognizer, resolve_asr_model

        recognizer = ParaformerRecognizer(resolve_asr_model(None))
    report: dict = {"threads": 1, "held_out": len(held_out), "mos": MOS_NOTE, "systems": {}, "skipped": {}}
    for name, sysdef in systems(args).items():
        why = missing(sysdef["spec"], sysdef["vocoder"])
        if why:
            report["skipped"][name] = why
            continue
        try:
            t0 = time.perf_counter()
            voice = Voice.load(sysdef["spec"], threads=1, vocoder=sysdef["vocoder"])
            load_s = time.perf_counter() - t0
        except VoiceError as exc:
            report["skipped"][name] = str(exc)
            continue
        voice.synthesize_all("আমি।")  # warm-up
        sentence = measure(voice, SENTENCE, voice.defaults, args.repeats)
        paragraph = measure(voice, PARAGRAPH, voice.defaults, args.repeats)
        scores = evaluate(voice, held_out, recognizer, progress=not args.no_progress)
        size = voice.path.stat().st_size + (voice.vocoder.path.stat().st_size if voice.vocoder else 0)
        report["systems"][name] = {
            "spec": shown(sysdef["spec"]), "vocoder": shown(sysdef["vocoder"]),
            "size_mb": round(size / 1e6, 2), "load_s": round(load_s, 2),
            "rtf": round(paragraph["rtf"], 4), "first_audio_ms": round(sentence["first_audio_ms"], 1),
            "cer": scores.cer, "mcd_db": round(scores.mcd_db, 3), "cer_teacher": scores.cer_reference,
            "random_weights": voice.metadata.get("random_weights") == "True"}
    rows = report["systems"]
    if not rows:
        print("error: no system could be loaded: " + "; ".join(f"{k}: {v}" for k, v in report["skipped"].items()),
              file=sys.stderr)
        return 1
    teacher = next((r["cer_teacher"] for r in rows.values() if r["cer_teacher"] is not None), None)
    report["cer_teacher_recordings"] = teacher
    print(f"{'system':18} {'MB':>6} {'RTF 1 thr':>10} {'first ms':>9} {'CER':>7} {'MCD dB':>7}  MOS")
    for name, r in rows.items():
        cer = "-" if r["cer"] is None else f"{r['cer']:.1%}"
        flag = " (random weights)" if r["random_weights"] else ""
        print(f"{name:18} {r['size_mb']:6.1f} {r['rtf']:10.4f} {r['first_audio_ms']:9.1f} {cer:>7} "
              f"{r['mcd_db']:7.2f}  n/a{flag}")
    if teacher is not None:
        print(f"{'teacher recordings':18} {'':6} {'':10} {'':9} {teacher:7.1%} {0.0:7.2f}  (the ASR's ceiling)")
    for name, why in report["skipped"].items():
        print(f"{name:18} skipped: {why}")
    print(f"{len(held_out)} held-out sentences; {MOS_NOTE}.")
    print(json.dumps({k: v for k, v in report.items() if k != "systems"}, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
