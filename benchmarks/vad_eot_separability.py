"""How well a pause inside a sentence can be told from the end of a turn: the VAD model, and the speech itself.

    python benchmarks/vad_eot_separability.py [--examples 192] [--model VAD.onnx] [--json OUT.json] [--quick]

Issue 6 asks for ends of turn within 300 ms (median) with at most 2 % premature ends at pauses inside sentences.
A decision at 300 ms needs the pause and the turn's end to look different 300 ms into the silence. Two measures:

- **The model** (``vad_bench.py --split valid`` material: held-out voices and devices through the agent's default
  chain, listening): the end-of-turn probability *t* ms into the silence (t = 100 … 500) at every pause inside a
  sentence still silent then, against every turn end: the AUC (1 = always higher at turn ends), and for the
  threshold that at most 2 % of those pauses reach by *t* (their highest probability up to *t*), the share of turn
  ends that have reached it by *t* (``ends_by_t``: the median end of turn can only be ≤ *t* if this is ≥ 50 %).
- **The synthesiser's intonation** (the same turns' clean audio, no room): the slope of log F0 over the last 8
  voiced 10 ms frames before each pause or end (an autocorrelation tracker, 40 ms windows), per clause kind —
  ``clause`` (a comma: the sentence goes on), ``statement`` (।, ., !), ``question`` (?) — and per voice; the AUC
  of a falling slope for statements against clauses. espeak-ng raises the pitch before a comma and lets it fall
  at a full stop, but its voice variants flatten that to different degrees, and questions rise like clauses.

A diagnostic, not a target: it bounds what threshold tuning on this model, and what any intonation-based cue on
this synthetic speech, can reach.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from agent.config import AecConfig  # noqa: E402
from audio_io.wav import read_wav  # noqa: E402
from models.vad.runtime import SHIPPED_MODEL, SemanticVad  # noqa: E402

SR = 16000
FRAME_MS = 20  # the VAD's frame
DELAYS_MS = (100, 200, 300, 400, 500)
MAX_PREMATURE = 0.02
F0_HOP = 160  # 10 ms
F0_WINDOW = 640  # 40 ms
F0_RANGE_HZ = (60.0, 400.0)
VOICED = 0.4  # normalised autocorrelation peak of a voiced window
LAST_VOICED = 8  # frames of the slope


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a random positive > a random negative), ties counted half."""
    if not len(pos) or not len(neg):
        return float("nan")
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(np.mean(pos > neg) + 0.5 * np.mean(pos == neg))


def silences(probs: np.ndarray, offset: int, turn: dict) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """End-of-turn probabilities from the start of each pause inside a sentence (up to its end) and from each
    turn end (up to the longest delay), for one turn placed at sample ``offset``."""
    frame = SR * FRAME_MS // 1000
    pauses = []
    for a_s, b_s in turn["clause_pauses"]:
        a, b = (offset + int(a_s * SR)) // frame, (offset + int(b_s * SR)) // frame
        if b < probs.shape[0]:
            pauses.append(probs[a:b, 1])
    ends = []
    e = (offset + int(turn["end_s"] * SR)) // frame
    span = max(DELAYS_MS) // FRAME_MS + 1
    if e + span <= probs.shape[0]:
        ends.append(probs[e : e + span, 1])
    return pauses, ends


def model_separability(pauses: list[np.ndarray], ends: list[np.ndarray]) -> dict[str, dict]:
    out = {}
    for t_ms in DELAYS_MS:
        i = t_ms // FRAME_MS
        long_pauses = [p for p in pauses if p.shape[0] > i]
        at_t_pause = np.array([p[i] for p in long_pauses])
        at_t_end = np.array([e[i] for e in ends])
        # the threshold that at most MAX_PREMATURE of all pauses reach by t (a decision any time up to t)
        peak_pause = np.array([p[: i + 1].max() for p in pauses]) if pauses else np.zeros(0)
        threshold = float(np.quantile(peak_pause, 1 - MAX_PREMATURE)) if len(peak_pause) else float("nan")
        peak_end = np.array([e[: i + 1].max() for e in ends])
        out[str(t_ms)] = {"auc": auc(at_t_end, at_t_pause), "pauses_still_silent": len(long_pauses),
                          "threshold_2pct": threshold,
                          "ends_by_t": float(np.mean(peak_end > threshold)) if len(peak_end) else float("nan")}
    return out


def f0_track(x: np.ndarray) -> np.ndarray:
    """F0 per 10 ms frame (Hz, 0 = unvoiced) of a clean 16 kHz signal: the normalised autocorrelation's peak."""
    lo, hi = int(SR / F0_RANGE_HZ[1]), int(SR / F0_RANGE_HZ[0])
    loud = 0.05 * float(np.max(np.abs(x)) or 1.0)
    out = []
    for i in range(0, x.shape[0] - F0_WINDOW, F0_HOP):
        w = x[i : i + F0_WINDOW] - np.mean(x[i : i + F0_WINDOW])
        if np.sqrt(np.mean(w**2)) < loud:
            out.append(0.0)
            continue
        ac = np.correlate(w, w, "full")[F0_WINDOW - 1 :]
        k = lo + int(np.argmax(ac[lo:hi]))
        out.append(SR / k if ac[k] > VOICED * ac[0] else 0.0)
    return np.array(out)


def final_slope(segment: np.ndarray) -> float | None:
    """log F0 of the last voiced frame minus the mean of the first half of the last LAST_VOICED voiced frames."""
    f0 = f0_track(segment)
    voiced = np.log(f0[f0 > 0])
    if voiced.shape[0] < LAST_VOICED:
        return None
    last = voiced[-LAST_VOICED:]
    return float(last[-1] - np.mean(last[: LAST_VOICED // 2]))


def clause_kind(clause: str) -> str:
    return {",": "clause", ";": "clause", ":": "clause", "?": "question"}.get(clause.strip()[-1:], "statement")


def intonation(turns: list[dict], turn_dir: Path) -> dict:
    by_kind: dict[str, list[float]] = {"clause": [], "statement": [], "question": []}
    by_voice: dict[str, dict[str, list[float]]] = {}
    for t in turns:
        audio = read_wav(turn_dir / t["file"], SR).astype(np.float64)
        for (a_s, b_s), clause in zip(t["speech"], t["clauses"], strict=True):
            slope = final_slope(audio[int(a_s * SR) : int(b_s * SR)])
            if slope is None:
                continue
            kind = clause_kind(clause)
            by_kind[kind].append(slope)
            by_voice.setdefault(t["voice_id"], {k: [] for k in by_kind})[kind].append(slope)
    med = lambda v: float(np.median(v)) if v else float("nan")  # noqa: E731
    return {
        "median_slope": {k: med(v) for k, v in by_kind.items()}, "count": {k: len(v) for k, v in by_kind.items()},
        "auc_statement_falls_below_clause": auc(-np.array(by_kind["statement"]), -np.array(by_kind["clause"])),
        "auc_question_falls_below_clause": auc(-np.array(by_kind["question"]), -np.array(by_kind["clause"])),
        "per_voice": {v: {k: [med(s), len(s)] for k, s in kinds.items()} for v, kinds in sorted(by_voice.items())},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--examples", type=int, default=192, help="validation examples (vad_bench --split valid --examples)")
    p.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="VAD ONNX model (default: the shipped one)")
    p.add_argument("--json", type=Path, help="write the results as JSON here")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--quick", action="store_true", help="vad_bench --quick's 6 validation examples (smoke test)")
    args = p.parse_args(argv)
    if not 1 <= args.examples <= 2000:
        p.error("--examples must be 1 to 2000")
    import vad_bench

    # vad_bench's validation material for the agent's default chain (the neural RES on); --quick: vad_bench's own
    count, echo_min = (6, 1.0) if args.quick else (args.examples, 10.0)
    material = vad_bench.cached_material(count, echo_min, not args.no_progress, res_model=AecConfig().res_model,
                                         split="valid")["listen"]
    vad = SemanticVad(args.model)
    pauses, ends = [], []
    for ex in material:
        probs = vad_bench.probs_ours(ex["audio"], vad, ex["echo"])
        for offset, turn in ex["placed"]:
            pp, ee = silences(probs, offset, turn)
            pauses += pp
            ends += ee
    model = model_separability(pauses, ends)
    turns = {t["id"]: t for _, t in (pt for ex in material for pt in ex["placed"])}
    voice = intonation(list(turns.values()), vad_bench.TURNS / "valid")
    print(f"\nEnd of turn against pauses inside sentences: {len(ends)} turn ends, {len(pauses)} pauses, "
          f"model {os.path.relpath(args.model)}")
    print(f"{'ms into the silence':<22}" + "".join(f"{t:>8}" for t in DELAYS_MS))
    for key, label in (("auc", "AUC"), ("pauses_still_silent", "pauses still silent"),
                       ("threshold_2pct", "threshold for 2 %"), ("ends_by_t", "turn ends by then")):
        print(f"{label:<22}" + "".join(f"{model[str(t)][key]:>8.3f}" if key != "pauses_still_silent"
                                       else f"{model[str(t)][key]:>8d}" for t in DELAYS_MS))
    print("\nThe synthesiser's intonation (clean turns): median slope of log F0 over the last voiced 80 ms")
    for kind, slope in voice["median_slope"].items():
        print(f"  {kind:<10} {slope:+.3f}  ({voice['count'][kind]} clauses)")
    print(f"  AUC statement vs clause (a fall ends the turn): {voice['auc_statement_falls_below_clause']:.3f}; "
          f"question vs clause: {voice['auc_question_falls_below_clause']:.3f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model": str(args.model), "examples": count, "turn_ends": len(ends),
                                         "pauses": len(pauses), "max_premature": MAX_PREMATURE, "by_delay_ms": model,
                                         "intonation": voice}, ensure_ascii=False, indent=1) + "\n",
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
