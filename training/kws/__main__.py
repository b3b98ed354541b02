"""``python -m training.kws``: train and export the short-word spotter (:mod:`models.kws.spotter`).

    python -m training.kws --config configs/train/kws.yaml [--set train.steps=3000] [--no-progress]
    python -m training.kws export --checkpoint cache/kws/run/best.pt --out models/kws/short_word_spotter.onnx
    python -m training.kws sweep [--model X.onnx] [--json OUT.json]   (the threshold, on validation)

Training builds what is missing first (the agent voice's pool, then the training and validation scenes through
the echo chain; resumable), resumes from ``train.out_dir/checkpoint.pt`` when present, and exports
``train.out_dir/short_word_spotter.onnx`` from the best validation checkpoint, checked against torch.
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
    if argv[:1] == ["sweep"]:
        from training.kws.sweep import main as sweep_main

        return sweep_main(argv[1:])
    if argv[:1] == ["export"]:
        ap = argparse.ArgumentParser(prog="python -m training.kws export", description="Export a checkpoint to ONNX.")
        ap.add_argument("--checkpoint", type=Path, required=True)
        ap.add_argument("--out", type=Path, required=True)
        args = ap.parse_args(argv[1:])
        return export(args.checkpoint, args.out)
    ap = argparse.ArgumentParser(prog="python -m training.kws", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=None, help="YAML file (configs/train/kws.yaml); default: built-in defaults")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a setting")
    ap.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = ap.parse_args(argv)
    from training.kws.config import load_kws_config
    from training.kws.prepare import prepare_data
    from training.kws.train import train

    try:
        cfg = load_kws_config(args.config, args.set)
        train_dir, valid_dir = prepare_data(cfg, not args.no_progress)
        best = train(cfg, train_dir, valid_dir, progress=not args.no_progress)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return export(best, Path(cfg.train.out_dir) / "short_word_spotter.onnx")


def export(checkpoint: Path, out: Path) -> int:
    from training.common.export import export_checked
    from training.kws.export import export_onnx, max_difference
    from training.kws.train import load_model

    return export_checked(checkpoint, out, load_model, export_onnx, max_difference)


if __name__ == "__main__":
    sys.exit(main())
