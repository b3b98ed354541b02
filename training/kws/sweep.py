"""Choose the spotter's threshold on the validation examples: ``python -m training.kws sweep``.

    python -m training.kws sweep [--model cache/kws/run/short_word_spotter.onnx] [--valid-dir DIR]
        [--stop-share 0.98] [--other-share 0.95] [--json OUT.json]

Each validation window (held-out voices and devices; see :mod:`training.kws.examples`) that the shipped VAD
heard (``--min-vad-peak``, as in training's validation) is judged as the agent
judges a short run with the spotter on: the shipped ASR (``asr.*`` of the agent's config) reads the window and,
as at the check, its text so far (``AsrStream.peek``) is matched against ``agent.stop_words``; a heard stop word,
or the spotter's ``p_ride`` below θ, stops the agent. Printed per θ of 0.05 … 0.95: the share of each class that
stops the agent (stop, other) or not (backchannel, noise); chosen: the lowest θ at which at least ``--stop-share``
of the stop-word examples and ``--other-share`` of the other-words examples stop (the rule written before the
first training, docs/decisions.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

GRID = tuple(round(0.05 * k, 2) for k in range(1, 20))


def judge(p_ride: np.ndarray, heard_stop: np.ndarray, labels: np.ndarray, theta: float) -> dict[str, float]:
    """Per class, the % of examples the policy judges right at ``theta`` (stop/other stopped, the rest ridden)."""
    from models.kws.spotter import CLASSES, RIDE

    stops = heard_stop | (p_ride < theta)
    out = {}
    for i, name in enumerate(CLASSES):
        sel = labels == i
        right = ~stops[sel] if name in RIDE else stops[sel]
        out[name] = round(100 * float(right.mean()), 1) if sel.any() else float("nan")
    return out


def choose(rows: list[dict], stop_share: float, other_share: float) -> float | None:
    """The lowest θ whose stop and other rows reach the shares (%, as fractions), or None."""
    for r in rows:
        if r["stop"] >= 100 * stop_share and r["other"] >= 100 * other_share:
            return r["theta"]
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.kws sweep", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=Path("cache/kws/run/short_word_spotter.onnx"),
                    help="the exported spotter to judge (default: the default run's export)")
    ap.add_argument("--valid-dir", type=Path, default=Path("cache/kws/examples_valid"),
                    help="validation shards (data.valid_dir)")
    ap.add_argument("--min-vad-peak", type=float, default=0.7,
                    help="judge only examples the shipped VAD heard this well (train.valid_min_vad_peak)")
    ap.add_argument("--stop-share", type=float, default=0.98, help="share of stop-word examples that must stop")
    ap.add_argument("--other-share", type=float, default=0.95, help="share of other-word examples that must stop")
    ap.add_argument("--json", type=Path, help="write the sweep, the choice and every example's p_ride and words")
    args = ap.parse_args(argv)
    from tqdm import tqdm

    from agent.config import load_config
    from agent.session import stopping_word
    from models.asr.paraformer import AsrModelError, recognizer_from_config
    from models.kws.spotter import CLASSES, RIDE, ShortWordSpotter, SpotterModelError
    from training.kws.examples import load_shards
    from training.kws.train import kept, select

    try:
        spotter = ShortWordSpotter(args.model)
        config = load_config()
        asr = recognizer_from_config(config.asr)
    except (SpotterModelError, AsrModelError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data = load_shards(args.valid_dir)
    if not data["audio"]:
        print(f"error: no validation windows with audio in {args.valid_dir}", file=sys.stderr)
        return 2
    keep = kept(data, args.min_vad_peak)
    feats, _ = select(data, args.min_vad_peak, spotter.inputs)
    p_ride, heard, heard_stop = [], [], []
    for f, i in tqdm(list(zip(feats, keep, strict=True)), desc="windows", disable=not sys.stderr.isatty()):
        probs = spotter.classify_features(f)
        p_ride.append(sum(probs[c] for c in RIDE))
        audio = data["audio"][i]
        stream = asr.stream()
        stream.accept(audio.astype(np.float32))
        text = stream.peek()
        heard.append(text)
        heard_stop.append(bool(stopping_word(text, config.agent.stop_words)))
    labels = np.array([data["labels"][i] for i in keep])
    p, hs = np.array(p_ride), np.array(heard_stop)
    rows = [{"theta": t, **judge(p, hs, labels, t)} for t in GRID]
    chosen = choose(rows, args.stop_share, args.other_share)
    counts = {c: int((labels == i).sum()) for i, c in enumerate(CLASSES)}
    print(f"validation windows: {len(labels)} ({', '.join(f'{c} {n}' for c, n in counts.items())}); the ASR heard a "
          f"stop word in {int(hs.sum())}")
    print(f"{'theta':>5} " + " ".join(f"{c + (' stopped %' if c in ('stop', 'other') else ' ridden %'):>18}"
                                      for c in CLASSES))
    for r in rows:
        print(f"{r['theta']:>5.2f} " + " ".join(f"{r[c]:>18.1f}" for c in CLASSES))
    print(f"chosen theta (stop >= {100 * args.stop_share:g} %, other >= {100 * args.other_share:g} %): {chosen}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model": str(args.model), "counts": counts, "rows": rows, "chosen": chosen,
                                         "examples": [{**m, "label": CLASSES[y], "p_ride": round(float(q), 4),
                                                       "heard": h} for m, y, q, h in
                                                      zip([data["meta"][i] for i in keep], labels, p, heard,
                                                          strict=True)]},
                                        ensure_ascii=False, indent=1), encoding="utf-8")
    return 0 if chosen is not None else 1
