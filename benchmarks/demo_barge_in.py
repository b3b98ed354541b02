"""The default demo's interruption over many voice seeds, for VAD models side by side.

    python benchmarks/demo_barge_in.py [--model X.onnx ...] [--set KEY=VALUE ...] [--seeds 0-12] [--json OUT.json]

``python -m agent`` (no sound card: the simulated room) plays the agent's own VITS voice and a scripted user
interrupts it at the room's plain level (SER about −14 dB). One run is one draw of the voice's noise
(``tts.seed``), so a single figure says little: this runs the demo for every seed and every model (the shipped one
first, as the baseline, then each ``--model``, then the shipped model with each ``--set`` override, e.g.
``--set vad.barge_in_max_gap_ms=40``), each run in a fresh ``python -m agent`` process, and prints the
barge-in latency per seed, its median, the end-of-turn median and the runs with no barge-in. A VAD that does better on the benchmark's material can
still be slower here (docs/results_vad.md, 2026-12-03): check it before shipping one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def parse_seeds(text: str) -> list[int]:
    """``"0-12"`` or ``"0,3,5"`` → seeds."""
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.strip().partition("-")
        if not a.isdigit() or (b and not b.isdigit()):
            raise ValueError(f"seeds: {text!r} is not like 0-12 or 0,3,5")
        out += list(range(int(a), int(b) + 1)) if b else [int(a)]
    return out


def demo_run(overrides: list[str], seed: int) -> dict:
    """One ``python -m agent`` demo in a fresh process (as from the command line: the voice's random nodes are
    seeded when its session is created, so runs in one process would not repeat the command's draws) → its summary
    (barge-in and end-of-turn latencies, ms)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "summary.json"
        args = [sys.executable, "-m", "agent", "--summary", str(out), "--set", f"tts.seed={seed}"]
        for o in overrides:
            args += ["--set", o]
        done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"the demo failed (exit {done.returncode}) with {overrides or 'the defaults'}, seed {seed}: "
                               f"{done.stderr.strip()[-500:]}")
        return json.loads(out.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", default=[], help="a VAD .onnx to compare with the shipped one")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="run the shipped model with this agent config override too (repeatable: one variant each)")
    p.add_argument("--seeds", default="0-12", help="tts.seed values: 0-12 or 0,3,5 (default 0-12)")
    p.add_argument("--json", type=Path, help="write the results as JSON here")
    args = p.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as exc:
        p.error(str(exc))
    for m in args.model:
        if not Path(m).is_file():
            p.error(f"--model {m}: no such file")
    for o in args.settings:
        if "=" not in o:
            p.error(f"--set {o}: expected KEY=VALUE")
    variants = [("shipped", [])] + [(m, [f"vad.model={Path(m).resolve()}"]) for m in args.model] + [
        (o, [o]) for o in args.settings]
    results = {}
    for name, overrides in variants:
        rows = []
        for seed in seeds:
            s = demo_run(overrides, seed)
            rows.append({"seed": seed, "barge_in_latency_ms": s["barge_in_latency_ms"],
                         "end_of_turn_latency_ms": s["end_of_turn_latency_ms"]})
        first = [r["barge_in_latency_ms"][0] for r in rows if r["barge_in_latency_ms"]]
        eot = [v for r in rows for v in r["end_of_turn_latency_ms"]]
        results[name] = {
            "runs": rows, "barge_in_median_ms": statistics.median(first) if first else None,
            "no_barge_in": sum(1 for r in rows if not r["barge_in_latency_ms"]),
            "end_of_turn_median_ms": statistics.median(eot) if eot else None}
    print(f"{'model':<40} " + " ".join(f"{s:>5}" for s in seeds) + f" {'median':>7} {'none':>5} {'EoT med':>8}")
    for name, r in results.items():
        cells = [f"{x['barge_in_latency_ms'][0]:>5.0f}" if x["barge_in_latency_ms"] else f"{'-':>5}" for x in r["runs"]]
        med = "-" if r["barge_in_median_ms"] is None else f"{r['barge_in_median_ms']:.0f}"
        eot = "-" if r["end_of_turn_median_ms"] is None else f"{r['end_of_turn_median_ms']:.0f}"
        print(f"{name[-40:]:<40} " + " ".join(cells) + f" {med:>7} {r['no_barge_in']:>5} {eot:>8}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"seeds": seeds, "results": results}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
