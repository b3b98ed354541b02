"""Where a barge-in's time goes: per-block levels and VAD probabilities around each line of a scenario.

    python benchmarks/barge_in_trace.py SCENARIO.yaml [--set KEY=VALUE ...] [--before-ms 40] [--after-ms 500]
        [--json OUT.json]

Runs the scenario once in the simulated room (the same session as ``python -m agent simulate``) and prints, for
every user line, one row per 20 ms block from ``--before-ms`` before its true onset to ``--after-ms`` after it:
the user's level at the microphone (dry truth), the microphone's, the reference's (what the agent plays), the
chain's output's (its ASR output; the VAD output is the same gain with a stronger exponent), all in dBFS
(−180 = digital silence), and the VAD's speech probability; ``*`` marks the block where the barge-in was decided.
This is how the neural RES's late opening on a user's first syllables was found (docs/decisions.md, 2026-12-03).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

BLOCK_S = 0.02
FLOOR_DB = -180.0


def level_db(x: np.ndarray) -> float:
    """RMS level in dBFS, −180 for digital silence."""
    rms = float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2))) if np.size(x) else 0.0
    return max(FLOOR_DB, 20 * np.log10(rms)) if rms > 0 else FLOOR_DB


def traces_around(result, before_ms: float = 40.0, after_ms: float = 500.0) -> list[dict]:  # noqa: ANN001
    """One entry per user line of a :class:`agent.simulate.run.ScenarioResult`: its onset (s), the barge-in decided
    for it (s, or None) and the rows (block start s, user, mic, reference, output dBFS, p_speech)."""
    tr = result.traces
    n = len(tr.p_speech)
    lag = n - len(tr.cleaned)  # the chain's outputs start this many blocks late
    stops = [e["time_s"] for e in result.events if e["kind"] == "playback_stopped"]
    out = []
    for e in result.events:
        if e["kind"] != "user_said":
            continue
        onset = float(e["time_s"])
        first = max(0, int(round((onset - before_ms / 1000) / BLOCK_S)))
        last = min(n, int(round((onset + after_ms / 1000) / BLOCK_S)) + 1)
        rows = []
        for i in range(first, last):
            cleaned = tr.cleaned[i - lag] if 0 <= i - lag < len(tr.cleaned) else np.zeros(0)
            rows.append({"t_s": round(i * BLOCK_S, 3),
                         "user_db": round(level_db([tr.near_rms[i]]), 1), "mic_db": round(level_db(tr.mic[i]), 1),
                         "ref_db": round(level_db([tr.ref_rms[i]]), 1), "out_db": round(level_db(cleaned), 1),
                         "p_speech": round(float(tr.p_speech[i]), 3)})
        decided = next((s for s in stops if onset <= s <= onset + after_ms / 1000), None)
        out.append({"onset_s": onset, "barge_in_s": decided, "rows": rows})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="agent config override")
    ap.add_argument("--before-ms", type=float, default=40.0)
    ap.add_argument("--after-ms", type=float, default=500.0)
    ap.add_argument("--json", type=Path, help="write the traces as JSON here")
    args = ap.parse_args(argv)
    from agent.config import load_config
    from agent.config.base import ConfigError
    from agent.pipeline import ModelLoadError, load_models
    from agent.simulate.run import run_scenario
    from agent.simulate.scenario import load_scenario

    try:
        scenario = load_scenario(args.scenario)
        config = load_config(None, args.set)
        result = run_scenario(scenario, load_models(config), config)
    except (ConfigError, ModelLoadError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lines = traces_around(result, args.before_ms, args.after_ms)
    for line in lines:
        decided = line["barge_in_s"]
        print(f"\nline at {line['onset_s']:.2f} s: barge-in "
              + (f"{1000 * (decided - line['onset_s']):.0f} ms after the onset" if decided is not None else "none"))
        print(f"{'t s':>7} {'user':>6} {'mic':>6} {'ref':>6} {'out':>6} {'p_speech':>8}")
        for r in line["rows"]:
            mark = " *" if decided is not None and abs(r["t_s"] - decided) < BLOCK_S / 2 else ""
            print(f"{r['t_s']:>7.2f} {r['user_db']:>6.0f} {r['mic_db']:>6.0f} {r['ref_db']:>6.0f} {r['out_db']:>6.0f} "
                  f"{r['p_speech']:>8.2f}{mark}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"scenario": str(args.scenario), "lines": lines}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
