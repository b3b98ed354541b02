"""``python -m training.vad``: train and export the semantic VAD.

    python -m training.vad --config configs/train/vad.yaml [--set train.steps=2000] [--no-progress]
    python -m training.vad export --checkpoint cache/vad/run/best.pt --out models/vad/vad_dfsmn.onnx
    python -m training.vad text-cue [--out models/vad/text_cue.json]   (the end-of-turn text cue; a few seconds)

Training builds what is missing first (user turns of training and held-out voices, then the
simulated examples run through the echo chain; all resumable), resumes from
``train.out_dir/checkpoint.pt`` when present, and exports ``train.out_dir/vad_dfsmn.onnx`` from the best
validation checkpoint, checked against torch.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from agent.config.base import ConfigError


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("models.aec.laec").setLevel(logging.ERROR)
    if argv[:1] == ["text-cue"]:
        from training.vad.text_cue import main as text_cue_main

        return text_cue_main(argv[1:])
    if argv[:1] == ["export"]:
        ap = argparse.ArgumentParser(prog="python -m training.vad export", description="Export a checkpoint to ONNX.")
        source = ap.add_mutually_exclusive_group(required=True)
        source.add_argument("--checkpoint", type=Path)
        source.add_argument("--from-onnx", type=Path, help="re-export a file exported before the fused step (its "
                            "weights are read back from the graph and checked against it)")
        ap.add_argument("--out", type=Path, required=True)
        args = ap.parse_args(argv[1:])
        return export(args.checkpoint, args.out) if args.checkpoint else reexport(args.from_onnx, args.out)
    ap = argparse.ArgumentParser(prog="python -m training.vad", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=None, help="YAML file (configs/train/vad.yaml); default: built-in defaults")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a setting")
    ap.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = ap.parse_args(argv)
    from training.vad.config import load_vad_config
    from training.vad.prepare import prepare_data
    from training.vad.train import train

    try:
        cfg = load_vad_config(args.config, args.set)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        train_paths, valid_paths = prepare_data(cfg, not args.no_progress)
    except ValueError as exc:  # e.g. a folder built with another recipe
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        best = train(cfg, train_paths, valid_paths, progress=not args.no_progress)
    except (ValueError, FileNotFoundError) as exc:  # e.g. train.init_from missing or of another model
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return export(best, Path(cfg.train.out_dir) / "vad_dfsmn.onnx")


def export(checkpoint: Path, out: Path) -> int:
    from training.common.export import export_checked
    from training.vad.export import export_onnx, max_difference
    from training.vad.train import load_model

    return export_checked(checkpoint, out, load_model, export_onnx, max_difference)


def reexport(source: Path, out: Path) -> int:
    from training.common.export import reexport_checked
    from training.vad.export import export_onnx, max_difference, model_from_unfused_onnx

    return reexport_checked(source, out, model_from_unfused_onnx, export_onnx, max_difference)


if __name__ == "__main__":
    sys.exit(main())
