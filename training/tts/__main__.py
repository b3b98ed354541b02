"""``python -m training.tts``: train, fine-tune (QAT) and export Bangla voices: VITS, and the two-stage
AlignTTS + HiFi-GAN / UnivNet.

    python -m training.tts --config configs/train/tts_bn.yaml [--set train.steps=2000] [--no-progress]
    python -m training.tts aligntts --config configs/train/aligntts_bn.yaml
    python -m training.tts vocoder --config configs/train/vocoder_bn.yaml [--set model.kind=univnet]
    python -m training.tts export --checkpoint cache/tts/run/checkpoint.pt --out models/weights/tts_bn_small.onnx
    python -m training.tts qat --config configs/train/tts_bn.yaml --checkpoint cache/tts/run/checkpoint.pt
    python -m training.tts evaluate --config configs/train/tts_bn.yaml --voice cache/tts/run/voice.onnx [--json OUT]
    python -m training.tts evaluate --config configs/train/tts_bn.yaml --vocoder cache/tts/vocoder_hifigan/hifigan.onnx

Training builds what is missing first (the espeak-ng teacher set when ``data.dataset`` has no
metadata.csv and ``data.build_teacher`` is true; the preprocessed features), resumes from
``train.out_dir/checkpoint.pt`` when present, and exports ``train.out_dir/voice.onnx`` at the end.
``aligntts`` and ``vocoder`` train the two stages on the same data (resumable, exported at the end to
``OUT_DIR/aligntts.onnx`` / ``OUT_DIR/<kind>.onnx``); ``export`` reads any of the three kinds of
checkpoint (an AlignTTS export names its default vocoder with ``--vocoder``, a file next to it).
``evaluate`` scores a voice on the held-out utterances: mel-cepstral distortion against the recordings
and the character error rate of the project's ASR on the synthesised audio (and on the recordings).
To train on real data (CRBLP, OpenSLR 37), point ``data.dataset`` at its LJSpeech-style folder.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from agent.config.base import ConfigError


def _config(command: str, args: argparse.Namespace):  # noqa: ANN202
    from training.tts.config import load_aligntts_config, load_tts_config, load_vocoder_config

    load = {"aligntts": load_aligntts_config, "vocoder": load_vocoder_config}.get(command, load_tts_config)
    return load(args.config, args.set)


def _data(cfg, progress: bool):  # noqa: ANN001, ANN202
    from training.tts.data import load_utterances, prepare_features
    from training.tts.teacher import build_teacher

    d = cfg.data
    if not (Path(d.dataset) / "metadata.csv").exists() and d.build_teacher:
        build_teacher(Path(d.dataset), d.teacher_voice, d.teacher_repeats, d.workers, progress)
    problems = prepare_features(Path(d.dataset), Path(d.features_dir), d.max_seconds, d.trim_db, d.latin, d.workers,
                                progress)
    if problems:
        logging.getLogger(__name__).info("%d utterances skipped, e.g. %s", len(problems), problems[0])
    return (load_utterances(Path(d.features_dir), d.valid_fraction, "train"),
            load_utterances(Path(d.features_dir), d.valid_fraction, "valid"))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    command = argv[0] if argv[:1] and argv[0] in ("export", "qat", "evaluate", "aligntts", "vocoder") else "train"
    ap = argparse.ArgumentParser(prog=f"python -m training.tts{'' if command == 'train' else ' ' + command}",
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    if command in ("train", "qat", "evaluate", "aligntts", "vocoder"):
        ap.add_argument("--config", default=None, help="YAML file (configs/train/tts_bn.yaml, aligntts_bn.yaml, "
                        "vocoder_bn.yaml); default: built-in defaults")
        ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a setting")
        ap.add_argument("--no-progress", action="store_true", help="hide progress bars")
    if command in ("export", "qat"):
        ap.add_argument("--checkpoint", type=Path, required=True, help="training checkpoint (checkpoint.pt)")
    if command == "export":
        ap.add_argument("--out", type=Path, required=True, help="voice file to write (NAME.onnx; NAME.onnx.json too)")
        ap.add_argument("--quality", default="small", help="quality label written into the .onnx.json")
        ap.add_argument("--vocoder", default="tts_bn_hifigan.onnx",
                        help="AlignTTS only: file name of its default vocoder, next to --out")
    if command == "evaluate":
        who = ap.add_mutually_exclusive_group(required=True)
        who.add_argument("--voice", type=Path, help="voice to score (NAME.onnx; a two-stage voice with its vocoder)")
        who.add_argument("--vocoder", type=Path, help="score a vocoder alone by copy synthesis of the recordings")
        ap.add_argument("--limit", type=int, default=None, help="score only the first N held-out utterances")
        ap.add_argument("--no-asr", action="store_true", help="skip the character error rate (MCD only)")
        ap.add_argument("--json", type=Path, help="write the scores here")
    args = ap.parse_args(argv[1:] if command != "train" else argv)
    try:
        if command == "export":
            return export(args.checkpoint, args.out, args.quality, args.vocoder)
        cfg = _config(command, args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    progress = not args.no_progress
    if command == "evaluate":
        return evaluate(cfg, args, progress)
    train_utts, valid_utts = _data(cfg, progress)
    if command == "aligntts":
        from training.tts.aligntts_train import train_aligntts

        ckpt = train_aligntts(cfg, train_utts, valid_utts, progress)
        return export(ckpt, Path(cfg.train.out_dir) / "aligntts.onnx", cfg.model.size)
    if command == "vocoder":
        from training.tts.vocoder_train import run_dir, train_vocoder

        ckpt = train_vocoder(cfg, train_utts, valid_utts, progress)
        return export(ckpt, run_dir(cfg) / f"{cfg.model.kind}.onnx")
    if command == "qat":
        from training.tts.qat import train_qat

        out = train_qat(cfg, args.checkpoint, train_utts, valid_utts, progress)
        print(f"int8 voice: {out}")
        return 0
    from training.tts.train import train

    ckpt = train(cfg, train_utts, valid_utts, progress=progress)
    return export(ckpt, Path(cfg.train.out_dir) / "voice.onnx", cfg.model.size)


def evaluate(cfg, args: argparse.Namespace, progress: bool) -> int:  # noqa: ANN001
    import json

    from models.tts.vocoders.runtime import Vocoder
    from models.tts.voice import Voice, VoiceError
    from training.tts.data import load_utterances
    from training.tts.evaluate import evaluate as score
    from training.tts.evaluate import evaluate_vocoder

    try:
        voice = Voice.load(args.voice) if args.voice else Vocoder(args.vocoder, error=VoiceError)
    except VoiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    valid = load_utterances(Path(cfg.data.features_dir), cfg.data.valid_fraction, "valid")[: args.limit]
    if not valid:
        print(f"error: no held-out utterances in {cfg.data.features_dir} (train once to build the features)",
              file=sys.stderr)
        return 1
    recognizer = None
    if not args.no_asr:
        from models.asr.paraformer import ParaformerRecognizer, resolve_asr_model

        recognizer = ParaformerRecognizer(resolve_asr_model(None))
    scores = (score if args.voice else evaluate_vocoder)(voice, valid, recognizer, progress)
    cer = "-" if scores.cer is None else f"{scores.cer:.1%}"
    ceiling = "-" if scores.cer_reference is None else f"{scores.cer_reference:.1%}"
    print(f"{args.voice or args.vocoder}: {scores.utterances} held-out utterances, MCD {scores.mcd_db:.2f} dB, "
          f"ASR CER {cer} (on the recordings: {ceiling})")
    if args.json:
        args.json.write_text(json.dumps(scores.as_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


def checkpoint_kind(checkpoint: Path) -> str:
    """``vits``, ``aligntts`` or ``vocoder`` (from the checkpoint's ``kind``; VITS checkpoints have none)."""
    import torch

    try:
        return str(torch.load(checkpoint, map_location="cpu", weights_only=True).get("kind", "vits"))
    except Exception:  # noqa: BLE001 (any unreadable file)
        return "vits"  # the loader below reports what is wrong with the file


def export(checkpoint: Path, out: Path, quality: str = "small", vocoder: str = "tts_bn_hifigan.onnx") -> int:
    """Export a VITS, AlignTTS or vocoder checkpoint to ONNX, checked against torch; exit code."""
    from functools import partial

    from training.common.export import export_checked

    kind = checkpoint_kind(checkpoint) if Path(checkpoint).exists() else "vits"
    if kind == "aligntts":
        from models.tts.aligntts.export import export_acoustic
        from models.tts.aligntts.export import max_difference as acoustic_difference
        from training.tts.aligntts_train import load_aligntts

        return export_checked(checkpoint, out, load_aligntts, partial(export_acoustic, quality=quality, vocoder=vocoder),
                              acoustic_difference)
    if kind == "vocoder":
        from models.tts.vocoders.export import export_vocoder
        from models.tts.vocoders.export import max_difference as vocoder_difference
        from training.tts.vocoder_train import load_vocoder

        return export_checked(checkpoint, out, load_vocoder, export_vocoder, vocoder_difference)
    from models.tts.vits.export import export_voice, max_difference
    from training.tts.train import load_generator

    return export_checked(checkpoint, out, load_generator, partial(export_voice, quality=quality), max_difference)


if __name__ == "__main__":
    sys.exit(main())
