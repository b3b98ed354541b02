"""``python -m training.asr``: train and export the small streaming Paraformer.

    python -m training.asr --config configs/train/asr.yaml [--set train.steps=2000] [--no-progress] [--no-build]
    python -m training.asr prepare --config configs/train/asr.yaml [--set data.workers=1]
    python -m training.asr export --checkpoint cache/asr/run/best.pt --out models/weights/asr_paraformer_bn_en
    python -m training.asr evaluate --model models/weights/asr_paraformer_bn_en [--split test]
    python -m training.asr jsonl --corpus cache/corpus/asr --split train --out train.jsonl
    python -m training.asr onnx --model models/weights/asr_paraformer_bn_en [--out FOLDER]

Training builds what is missing first (the spoken-only corpus, then every utterance clean, in a
simulated room and with the agent talking through the echo chain; all resumable), resumes from
``train.out_dir/checkpoint.pt`` when present, and writes the best validation step as a FunASR model
folder to ``train.out_dir/model``. ``export`` writes any checkpoint of a run as a model folder.

``prepare`` only builds the data (validation and test examples first). With ``--no-build`` training
starts on what is there (the corpus must exist), so it can run beside a ``prepare`` that is still
building: examples that appear join the training set at the next epoch.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from agent.config.base import ConfigError


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("models.aec.laec").setLevel(logging.ERROR)
    if argv[:1] == ["export"]:
        ap = argparse.ArgumentParser(prog="python -m training.asr export",
                                     description="Write a checkpoint of a run as a FunASR model folder.")
        ap.add_argument("--checkpoint", type=Path, required=True, help="best.pt or checkpoint.pt of a run")
        ap.add_argument("--out", type=Path, required=True, help="model folder to write")
        args = ap.parse_args(argv[1:])
        from training.asr.export import export_folder

        folder = export_folder(args.checkpoint, args.out)
        print(f"wrote {folder}")
        return 0
    if argv[:1] == ["onnx"]:
        ap = argparse.ArgumentParser(prog="python -m training.asr onnx",
                                     description="Write encoder.onnx, decoder.onnx and onnx.json (the ONNX backend) "
                                                 "for a FunASR streaming Paraformer folder, checked against torch.")
        ap.add_argument("--model", type=Path, required=True, help="FunASR model folder")
        ap.add_argument("--out", type=Path, default=None, help="folder to write (default: the model folder)")
        args = ap.parse_args(argv[1:])
        from models.asr.onnx_export import UnsupportedForOnnx, write_onnx
        from models.asr.paraformer import AsrModelError

        try:
            meta = write_onnx(args.model, args.out)
        except (AsrModelError, UnsupportedForOnnx, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {args.out or args.model}: {meta['encoder']}, {meta['decoder']} "
              f"(tokens equal to torch on the check signal: {meta['check_tokens']})")
        return 0
    if argv[:1] == ["jsonl"]:
        ap = argparse.ArgumentParser(prog="python -m training.asr jsonl",
                                     description="Write a corpus split as FunASR's training list (JSONL).")
        ap.add_argument("--corpus", type=Path, required=True, help="corpus folder (with manifest.jsonl)")
        ap.add_argument("--split", default="train", choices=["train", "valid", "test", "all"])
        ap.add_argument("--out", type=Path, required=True, help="JSONL file to write")
        args = ap.parse_args(argv[1:])
        from training.asr.jsonl import write_corpus_jsonl

        print(f"wrote {write_corpus_jsonl(args.corpus, args.split, args.out)} lines to {args.out}")
        return 0
    if argv[:1] == ["evaluate"]:
        ap = argparse.ArgumentParser(prog="python -m training.asr evaluate",
                                     description="CER/WER of a model folder on the examples of one split.")
        ap.add_argument("--model", type=Path, required=True, help="FunASR model folder")
        ap.add_argument("--config", default=None, help="training YAML (for the data folders)")
        ap.add_argument("--split", default="valid", choices=["valid", "test"])
        ap.add_argument("--limit", type=int, default=200, help="utterances at most")
        args = ap.parse_args(argv[1:])
        from training.asr.config import load_asr_config
        from training.asr.data import load_examples
        from training.asr.train import recognise_set

        cfg = load_asr_config(args.config)
        rows = [r for r in load_examples(Path(cfg.data.examples_dir)) if r["split"] == args.split][: args.limit]
        print(json.dumps(recognise_set(args.model, rows, Path(cfg.data.corpus_dir), ("clean", "room", "echo")),
                         indent=2))
        return 0
    prepare_only = argv[:1] == ["prepare"]
    ap = argparse.ArgumentParser(prog="python -m training.asr" + (" prepare" if prepare_only else ""),
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=None, help="YAML file (configs/train/asr.yaml); default: built-in defaults")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a setting")
    ap.add_argument("--no-progress", action="store_true", help="hide progress bars")
    if not prepare_only:
        ap.add_argument("--no-build", action="store_true",
                        help="train on the corpus and the examples built so far (build the rest with 'prepare')")
    args = ap.parse_args(argv[1:] if prepare_only else argv)
    from training.asr.config import load_asr_config
    from training.asr.export import export_folder
    from training.asr.prepare import prepare_data
    from training.asr.train import train

    try:
        cfg = load_asr_config(args.config, args.set)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        rows = prepare_data(cfg, not args.no_progress, build=prepare_only or not args.no_build)
    except FileNotFoundError as exc:  # --no-build without a corpus
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if prepare_only:
        splits = {s: sum(1 for r in rows if r["split"] == s) for s in ("train", "valid", "test")}
        print(f"{len(rows)} examples in {cfg.data.examples_dir} ({', '.join(f'{k} {v}' for k, v in splits.items())})")
        return 0
    try:
        best = train(cfg, rows, progress=not args.no_progress)
    except ValueError as exc:  # e.g. train.init_from names another network, or no validation examples yet
        print(f"error: {exc}", file=sys.stderr)
        return 2
    folder = export_folder(best, Path(cfg.train.out_dir) / "model")
    print(f"best checkpoint {best}; model folder {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
