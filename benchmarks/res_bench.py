"""RES inference speed: one 20 ms frame through the neural residual echo suppressor on one core.

    python benchmarks/res_bench.py [--model PATH] [--frames 3000] [--json OUT.json]

Rows (medians over repeated runs of ``--frames`` frames, same process, one thread):
- ``classical``: the classical mask source (LeakageMaskEstimator), the baseline this replaces;
- ``res_onnx``: ResidualEchoSuppressor.process (log-mel features + onnxruntime step), the runtime path;
- ``res_onnx_int8``: the same model after onnxruntime dynamic int8 quantisation (only shipped if faster
  and as good);
- ``res_torch``: the torch streaming step, for reference.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from models.aec.pwf import LeakageMaskEstimator  # noqa: E402
from models.aec.res.runtime import SHIPPED_MODEL, ResidualEchoSuppressor  # noqa: E402


def _time(fn, frames: int, repeats: int) -> float:
    """Median ms per frame over ``repeats`` runs of ``frames`` calls."""
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(frames):
            fn(i)
        runs.append((time.perf_counter() - t0) * 1000 / frames)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=SHIPPED_MODEL)
    p.add_argument("--frames", type=int, default=3000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    specs = [tuple(rng.standard_normal(321) + 1j * rng.standard_normal(321) for _ in range(3)) for _ in range(64)]

    classical = LeakageMaskEstimator()
    rows = {"classical": _time(lambda i: classical.process(specs[i % 64][2], specs[i % 64][0]), args.frames, args.repeats)}
    rt = ResidualEchoSuppressor(args.model)
    rows["res_onnx"] = _time(lambda i: rt.process(*specs[i % 64]), args.frames, args.repeats)
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with tempfile.TemporaryDirectory() as tmp:
            q = Path(tmp) / "res_int8.onnx"
            quantize_dynamic(str(args.model), str(q), weight_type=QuantType.QInt8)
            rt8 = ResidualEchoSuppressor(q)
            rows["res_onnx_int8"] = _time(lambda i: rt8.process(*specs[i % 64]), args.frames, args.repeats)
            diff = max(float(np.abs(rt8.process(*s)[0] - rt.process(*s)[0]).max()) for s in specs[:20])
            int8_size = q.stat().st_size
    except Exception as exc:  # quantisation is optional
        print(f"int8 skipped: {exc}")
        diff, int8_size = None, None
    import torch

    torch.set_num_threads(1)
    from models.aec.res.dfsmn import ResDfsmn

    model = ResDfsmn().eval()
    state = [model.init_state(1)]
    feats = torch.zeros(1, 240)

    def torch_step(_i: int) -> None:
        with torch.no_grad():
            _, state[0] = model.streaming_forward(feats, state[0])

    rows["res_torch"] = _time(torch_step, min(args.frames, 1000), args.repeats)
    base = rows["classical"]
    print(f"{'path':<16}{'ms/frame':>10}{'× classical':>13}{'% real time':>13}")
    for name, ms in rows.items():
        print(f"{name:<16}{ms:>10.3f}{ms / base:>13.2f}{100 * ms / 20:>13.2f}")
    report = {"ms_per_frame": rows, "model": str(args.model), "model_bytes": args.model.stat().st_size,
              "int8_bytes": int8_size, "int8_max_mask_difference": diff, "frames": args.frames}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
