"""End of turn against premature ends: sweep ``vad.end_of_turn_threshold`` for VAD checkpoints (or exported ``.onnx``
models, e.g. the shipped one) on the validation set.

    python benchmarks/vad_eot_sweep.py --checkpoint cache/vad/run_pitch/valid_step_01000.pt [--checkpoint ...]
        [--valid-dir DIR] [--turns-dir DIR] [--json OUT.json]

The end-of-turn decision is a trade-off: a lower threshold ends turns sooner and more often inside a sentence. The
trainer validates at the agent's default threshold only; this prints, for each checkpoint and threshold, the
median end-of-turn latency (true end of speech → decision, ms), the premature rate (ends decided in pauses inside
sentences), the share of ends decided in gaps between sentences and the missed ends, on the validation examples
(held-out voices and devices: chosen here, then checked once on the benchmark's material, so the choice is not
made on test data). Everything else is the agent's default ``vad`` config.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from agent.config import VadConfig  # noqa: E402

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99)
KEYS = ("eot_latency_median_ms", "premature_rate", "sentence_gap_eot_rate", "eot_missed_rate")


def model_of(path: Path):
    """(features (frames, F) -> probabilities (frames, 2), (echo input, pitch input, power floor, LAEC input)) of a
    torch checkpoint or, for a ``.onnx`` file, of the exported model run step by step in onnxruntime."""
    if path.suffix == ".onnx":
        from models.vad.net import input_groups
        from models.vad.runtime import SemanticVad

        vad = SemanticVad(path)
        groups = input_groups(vad.echo_aware, vad.laec_aware, vad.pitch_aware)
        edges = np.cumsum([0] + [width for _, width, _ in groups])

        def run(x: np.ndarray) -> np.ndarray:
            vad.reset()
            rows = []
            for f in x:
                parts = {name: f[edges[i] : edges[i + 1]] for i, (name, _, _) in enumerate(groups)}
                rows.append(vad.step(parts["features"], parts.get("echo"), parts.get("pitch"), parts.get("laec")))
            return np.array(rows, np.float32)

        return run, (vad.echo_aware, vad.pitch_aware, vad.power_floor, vad.laec_aware)
    from training.vad.train import load_model, predict

    model = load_model(path)
    model.eval()
    return (lambda x: predict(model, x)), (model.echo_input, model.pitch_input, model.power_floor, model.laec_input)


def sweep(checkpoint: Path, valid_dir: Path, turns_dir: Path, thresholds: tuple[float, ...] = THRESHOLDS
          ) -> list[dict]:
    """One row per threshold: the :data:`KEYS` of :func:`training.vad.train.evaluate` (rates as shares)."""
    from training.vad.train import evaluate, load_examples, load_turns

    paths = sorted(p.with_suffix("") for p in valid_dir.glob("*.npz"))
    if not paths:
        raise FileNotFoundError(f"no examples (*.npz) in {valid_dir}")
    predict, (echo, pitch, floor, laec) = model_of(checkpoint)
    examples = load_examples(paths, echo, pitch, floor, laec)
    turns = load_turns(turns_dir)
    probs = [predict(ex["features"]) for ex in examples]
    rows = []
    for th in thresholds:
        m = evaluate(probs, examples, turns, dataclasses.replace(VadConfig(), end_of_turn_threshold=th))
        rows.append({"threshold": th, **{k: float(m[k]) for k in KEYS}})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, action="append", required=True, help="a VAD checkpoint or exported .onnx model (repeatable)")
    p.add_argument("--valid-dir", type=Path, default=None,
                   help="validation examples (default: data.valid_dir of configs/train/vad.yaml's defaults)")
    p.add_argument("--turns-dir", type=Path, default=None, help="their turns (default: data.turns_dir/valid)")
    p.add_argument("--thresholds", default=",".join(map(str, THRESHOLDS)), help="comma-separated")
    p.add_argument("--json", type=Path, help="write the rows as JSON here")
    args = p.parse_args(argv)
    try:
        thresholds = tuple(float(t) for t in args.thresholds.split(","))
    except ValueError:
        p.error(f"--thresholds: not a comma-separated list of numbers: {args.thresholds!r}")
    from training.vad.config import load_vad_config

    data = load_vad_config(None, []).data
    args.valid_dir = args.valid_dir or Path(data.valid_dir)
    args.turns_dir = args.turns_dir or Path(data.turns_dir) / "valid"
    out = {}
    print(f"{'checkpoint':<44} {'threshold':>9} {'EoT med ms':>10} {'premature%':>10} {'gap EoT%':>8} {'missed%':>7}")
    for ckpt in args.checkpoint:
        try:
            rows = sweep(ckpt, args.valid_dir, args.turns_dir, thresholds)
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        out[str(ckpt)] = rows
        for r in rows:
            print(f"{str(ckpt)[-44:]:<44} {r['threshold']:>9.2f} {r['eot_latency_median_ms']:>10.0f} "
                  f"{100 * r['premature_rate']:>10.1f} {100 * r['sentence_gap_eot_rate']:>8.1f} "
                  f"{100 * r['eot_missed_rate']:>7.1f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"valid_dir": str(args.valid_dir), "sweeps": out}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
