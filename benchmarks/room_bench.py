"""Simulated-room speed: the costs behind every training example and scenario, against their baselines.

    python benchmarks/room_bench.py [--runs N] [--json OUT.json]

Rows (each a median of ``--runs`` passes of process time, one thread, baseline and candidate taking turns in
the same process):

- ``room 5 s, constant delay``: :meth:`SimulatedRoom.run` over 5 s of played noise with the device delay fixed
  (the ASR and VAD examples' case). Baseline: the exact interpolation weights computed afresh for every sample
  (the delay line's cache of weight rows off); candidate: the rows of a constant delay reused (bit-identical
  output, tested in ``tests/models/test_aec_dsp.py``).
- ``room RIRs, nothing played``: the RIRs an ASR example's clean-room version needs. Baseline: the loudspeaker's
  and the talker's (what :class:`SimulatedRoom` computes by default); candidate: the talker's only (what
  ``training.asr.data.in_room`` now asks for when nothing is played; the talker's RIR is identical, tested).
- ``ASR example, both versions``: :func:`training.asr.data.in_room` for the room and the echo version of one 4 s
  utterance (candidate only: the whole cost of one example's audio, echo chain included).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

SR = 16000


def timed(fn) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def pairs(baseline, candidate, runs: int) -> dict:
    """Medians (s) of ``runs`` alternating passes and the candidate/baseline ratio."""
    base, cand = [], []
    for _ in range(runs):
        base.append(timed(baseline))
        cand.append(timed(candidate))
    b, c = statistics.median(base), statistics.median(cand)
    return {"baseline_s": b, "candidate_s": c, "ratio": c / b, "baseline_runs": base, "candidate_runs": cand}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="passes per row (median reported)")
    p.add_argument("--json", type=Path, help="write the results as JSON here")
    args = p.parse_args(argv)

    from agent.config import RoomConfig
    from audio_io.room import SimulatedRoom, shoebox_rirs
    from audio_io.wav import write_wav
    from models.aec import delay_line
    from training.asr.data import in_room

    rng = np.random.default_rng(0)
    cfg = RoomConfig(delay_ms=123.4, rt60_s=0.4, noise="pink", seed=3)
    played = (0.05 * rng.standard_normal(5 * SR)).astype(np.float32)
    room = SimulatedRoom(cfg)
    rows: dict[str, dict] = {}

    def run_room() -> None:
        room.reset()
        room.run(played)

    def exact_every_sample() -> None:
        saved = delay_line._WEIGHT_CACHE_ROWS
        delay_line._WEIGHT_CACHE_ROWS = -1  # every block takes the per-sample path
        try:
            run_room()
        finally:
            delay_line._WEIGHT_CACHE_ROWS = saved

    rows["room 5 s, constant delay"] = pairs(exact_every_sample, run_room, args.runs)
    geometry = (cfg.room_dim_m, cfg.rt60_s, cfg.mic_pos_m)
    rows["room RIRs, nothing played"] = pairs(
        lambda: shoebox_rirs(*geometry, [cfg.speaker_pos_m, cfg.talker_pos_m]),
        lambda: shoebox_rirs(*geometry, [cfg.talker_pos_m]), args.runs)

    t = np.arange(4 * SR) / SR
    utterance = (0.1 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32)
    agent_dir = Path("cache/room_bench")
    agent_dir.mkdir(parents=True, exist_ok=True)
    agent_file = agent_dir / "agent.wav"
    write_wav(agent_file, (0.1 * rng.standard_normal(3 * SR)).astype(np.float32), SR)
    example = [timed(lambda: (in_room(11, utterance, None, None), in_room(10, utterance, [agent_file], -5.0)))
               for _ in range(args.runs)]
    rows["ASR example, both versions"] = {"candidate_s": statistics.median(example), "candidate_runs": example}

    print(f"{'row':30s} {'baseline s':>11s} {'candidate s':>12s} {'ratio':>7s}")
    for name, r in rows.items():
        base = f"{r['baseline_s']:.3f}" if "baseline_s" in r else "-"
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else "-"
        print(f"{name:30s} {base:>11s} {r['candidate_s']:12.3f} {ratio:>7s}")
    report = {"runs": args.runs, "results": rows}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: {m: v for m, v in r.items() if not m.endswith("_runs")} for k, r in rows.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
