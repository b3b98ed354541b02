"""``python -m agent bench``: every benchmark of the project in one command, plus the running agent's footprint.

Each benchmark in ``benchmarks/`` runs in its own process (so their memory does not add up) with its
anchors side by side in the same run (WebRTC AEC3 and Speex for the echo chain, webrtcvad and Silero for
the VAD, MMS/Piper-sized VITS for the TTS, …) and prints its own table; their JSON results are merged.
The agent's footprint comes from a scripted simulated-room session in a child process: peak resident
memory, and CPU seconds per second of audio (the share of one core it needs at real time).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.commands.bench_summary import key_numbers, summary_table
from agent.config import REPO_ROOT

BENCHMARKS = {
    "aec": ["benchmarks/aec_bench.py"],
    "res": ["benchmarks/res_bench.py"],
    "onnx_step": ["benchmarks/onnx_step_bench.py"],
    "vad": ["benchmarks/vad_bench.py", "--no-progress"],
    "asr": ["benchmarks/asr_bench.py", "--no-progress"],
    "tts": ["benchmarks/tts_bench.py"],
    "tts_compare": ["benchmarks/tts_compare.py", "--no-progress"],
    "room": ["benchmarks/room_bench.py"],
    "short_words": ["benchmarks/short_word_verdict.py"],
}
QUICK = {"aec", "vad", "asr", "tts", "tts_compare", "short_words"}  # the ones with a --quick mode
ALL = (*BENCHMARKS, "agent")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run every benchmark (with anchors) and measure the agent's memory and CPU",
                       description=__doc__.split("\n\n")[0] + " Prints each benchmark's table and a summary; "
                       "--json writes everything in one file.")
    p.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {', '.join(ALL)} (default all)")
    p.add_argument("--quick", action="store_true", help="short versions (a smoke run; numbers are not comparable)")
    p.add_argument("--json", type=Path, metavar="OUT.json", help="write all results here")
    p.set_defaults(func=run)


def agent_footprint(seconds: float = 20.0) -> dict:
    """Run a scripted room session in a child process; its peak memory and CPU per audio second."""
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp:
        summary = Path(tmp) / "summary.json"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "agent", "--set", "audio.backend=room", "--duration", str(seconds),
                               "--summary", str(summary)], cwd=REPO_ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"the agent failed: {proc.stderr.strip()[-500:]}")
        session = json.loads(summary.read_text(encoding="utf-8"))
        audio_s = session["duration_s"]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"peak_rss_mb": round(after.ru_maxrss / 1024, 1), "cpu_s": round(cpu, 2), "audio_s": audio_s,
            "wall_s": round(wall, 2), "cpu_per_audio_s": round(cpu / max(audio_s, 1e-9), 3),
            "listening_load": session["worker_load"],
            "note": "cpu_per_audio_s includes start-up (loading the models); listening_load is the listening "
                    "pipeline's time per audio second (the share of one core it needs at real time)"}


def run(args: argparse.Namespace) -> int:
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = sorted(set(wanted) - set(ALL))
    if unknown:
        print(f"error: unknown benchmark(s) {unknown}; choose from {', '.join(ALL)}", file=sys.stderr)
        return 2
    results: dict = {"quick": args.quick, "benchmarks": {}}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for name in wanted:
            t0 = time.perf_counter()
            if name == "agent":
                try:
                    results["agent"] = agent_footprint(8.0 if args.quick else 20.0)
                    a = results["agent"]
                    status = (f"peak {a['peak_rss_mb']} MB, listening load {a['listening_load']:.1%} of a core, "
                              f"{a['cpu_per_audio_s']:.2f} CPU s per audio s with start-up")
                except RuntimeError as exc:
                    results["agent"] = {"error": str(exc)}
                    status = "failed"
                rows.append((name, status, time.perf_counter() - t0))
                continue
            out = Path(tmp) / f"{name}.json"
            cmd = [sys.executable, *BENCHMARKS[name], "--json", str(out)]
            if args.quick and name in QUICK:
                cmd.append("--quick")
            print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
            proc = subprocess.run(cmd, cwd=REPO_ROOT)
            if proc.returncode == 0 and out.exists():
                results["benchmarks"][name] = json.loads(out.read_text(encoding="utf-8"))
                status = "ok"
            else:
                results["benchmarks"][name] = {"error": f"exit code {proc.returncode}"}
                status = f"failed (exit {proc.returncode})"
            rows.append((name, status, time.perf_counter() - t0))
    print("\n| benchmark | result | wall s |\n|---|---|---|")
    for name, status, wall in rows:
        print(f"| {name} | {status} | {wall:.0f} |")
    key_rows = key_numbers(results)
    results["summary"] = [dict(zip(("benchmark", "measure", "value", "anchors"), row, strict=True)) for row in key_rows]
    print("\nKey numbers (each next to its anchors from the same run):\n" + summary_table(key_rows))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0 if not any(status.startswith("failed") for _, status, _ in rows) else 1
