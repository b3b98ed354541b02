"""``python -m training.res``: train, export and plot the residual echo suppressor.

    python -m training.res --config configs/train/res.yaml [--set train.steps=2000] [--no-progress]
    python -m training.res export --checkpoint cache/res/run/best.pt --out models/aec/res/res_dfsmn.onnx
    python -m training.res export --from-onnx OLD.onnx --out NEW.onnx   (an older export in the current graph form)
    python -m training.res plot --run cache/res/run

Training builds what is missing first (the speech corpus, then the training and validation
scenes, all resumable), resumes from ``train.out_dir/checkpoint.pt`` when present, and finally exports
``train.out_dir/res_dfsmn.onnx`` from the best validation checkpoint, checked against torch.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from agent.config.base import ConfigError


def _prepare_data(cfg, progress: bool) -> None:  # noqa: ANN001
    from training.data.corpus import CorpusSpec, build_corpus
    from training.res.scenes import build_scenes

    d = cfg.data
    corpus = Path(d.corpus_dir)
    if not (corpus / "train.jsonl").exists():
        print(f"building the speech corpus in {corpus} ({d.corpus_utterances} utterances)")
        build_corpus(CorpusSpec(out=str(corpus), num=d.corpus_utterances, rates=(16000,)), d.workers, progress)
    build_scenes(Path(d.valid_dir), corpus, "valid", d.valid_scenes, 1_000_000, 1, d.scene_s, d.workers, progress)
    build_scenes(Path(d.train_dir), corpus, "train", d.train_scenes, 0, 0, d.scene_s, d.workers, progress)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("models.aec.laec").setLevel(logging.ERROR)
    if argv[:1] == ["export"]:
        ap = argparse.ArgumentParser(prog="python -m training.res export", description="Export a checkpoint to ONNX.")
        source = ap.add_mutually_exclusive_group(required=True)
        source.add_argument("--checkpoint", type=Path)
        source.add_argument("--from-onnx", type=Path, help="re-export a file exported before the fused step (its "
                            "weights are read back from the graph and checked against it)")
        ap.add_argument("--out", type=Path, required=True)
        args = ap.parse_args(argv[1:])
        return _export(args.checkpoint, args.out) if args.checkpoint else _reexport(args.from_onnx, args.out)
    if argv[:1] == ["plot"]:
        ap = argparse.ArgumentParser(prog="python -m training.res plot", description="Redraw curves.png of a run.")
        ap.add_argument("--run", type=Path, required=True)
        args = ap.parse_args(argv[1:])
        from training.res.train import plot_curves

        plot_curves(args.run)
        print(args.run / "curves.png")
        return 0
    ap = argparse.ArgumentParser(prog="python -m training.res", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=None, help="YAML file (configs/train/res.yaml); default: built-in defaults")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a setting")
    ap.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = ap.parse_args(argv)
    from training.res.config import load_res_config
    from training.res.train import train

    try:
        cfg = load_res_config(args.config, args.set)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _prepare_data(cfg, not args.no_progress)
    best = train(cfg, progress=not args.no_progress)
    return _export(best, Path(cfg.train.out_dir) / "res_dfsmn.onnx")


def _export(checkpoint: Path, out: Path) -> int:
    from training.common.export import export_checked
    from training.res.export import export_onnx, max_difference
    from training.res.train import load_model

    return export_checked(checkpoint, out, load_model, export_onnx, max_difference)


def _reexport(source: Path, out: Path) -> int:
    from training.common.export import reexport_checked
    from training.res.export import export_onnx, max_difference, model_from_unfused_onnx

    return reexport_checked(source, out, model_from_unfused_onnx, export_onnx, max_difference)


if __name__ == "__main__":
    sys.exit(main())
