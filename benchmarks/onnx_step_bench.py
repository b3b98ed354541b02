"""The exported streaming steps on onnxruntime: ``session.run`` against the I/O-bound step (``BoundStep``).

    python benchmarks/onnx_step_bench.py [--steps 500] [--rounds 40] [--json OUT.json]

For the shipped VAD (one step per 20 ms = two 10 ms frames) and RES (one step per 20 ms frame): the model step
alone, no features, one thread. Each round runs ``--steps`` steps of each path one after the other
(interleaved, so both see the same machine load); the table gives the medians over the rounds in ms per step
and per 10 ms of audio, and the ratio BoundStep / session.run.
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

from models.aec.res.runtime import SHIPPED_MODEL as RES_MODEL  # noqa: E402
from models.onnx_model import BoundStep, open_onnx_model, state_shape_from  # noqa: E402
from models.vad.runtime import SHIPPED_MODEL as VAD_MODEL  # noqa: E402

MODELS = {"vad": VAD_MODEL, "res": RES_MODEL}
STEP_MS = 20.0  # audio per step


def paths_for(path: Path, steps: int):  # noqa: ANN201
    """(session.run loop, BoundStep loop) over ``steps`` steps of random inputs."""
    session, meta = open_onnx_model(path, {}, ValueError, "model")
    shape = state_shape_from(meta, path, ValueError)
    rng = np.random.default_rng(0)
    feeds = [{i.name: rng.standard_normal(i.shape).astype(np.float32) for i in session.get_inputs()
              if i.name != "state"} for _ in range(16)]
    bound = BoundStep(session, shape)

    def plain() -> None:
        state = np.zeros((1, *shape), np.float32)
        for k in range(steps):
            *_, state = session.run(None, {**feeds[k % 16], "state": state})

    def io_bound() -> None:
        bound.reset()
        for k in range(steps):
            bound.run(feeds[k % 16])

    return plain, io_bound


def measure(steps: int, rounds: int) -> dict:
    out = {}
    for name, path in MODELS.items():
        plain, io_bound = paths_for(path, steps)
        plain(), io_bound()  # warm-up
        runs: dict[str, list[float]] = {"session_run": [], "bound_step": []}
        for _ in range(rounds):
            for key, fn in (("session_run", plain), ("bound_step", io_bound)):
                t0 = time.perf_counter()
                fn()
                runs[key].append((time.perf_counter() - t0) * 1000 / steps)
        med = {k: statistics.median(v) for k, v in runs.items()}
        out[name] = {"ms_per_step": med, "ms_per_10ms": {k: v * 10 / STEP_MS for k, v in med.items()},
                     "ratio_bound_to_run": med["bound_step"] / med["session_run"], "model": str(path.name)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    results = measure(args.steps, args.rounds)
    print(f"model step alone, one thread, medians of {args.rounds} interleaved rounds of {args.steps} steps")
    print(f"{'model':6s} {'session.run ms/step':>20s} {'BoundStep ms/step':>18s} {'ms/10ms (bound)':>16s} {'ratio':>6s}")
    for name, r in results.items():
        print(f"{name:6s} {r['ms_per_step']['session_run']:20.4f} {r['ms_per_step']['bound_step']:18.4f} "
              f"{r['ms_per_10ms']['bound_step']:16.4f} {r['ratio_bound_to_run']:6.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"benchmark": "onnx_step", "steps": args.steps, "rounds": args.rounds,
                                         "results": results}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
